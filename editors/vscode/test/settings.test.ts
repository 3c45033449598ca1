import assert from "node:assert/strict";
import { test } from "node:test";
import { serverSettings, settingsChange } from "../src/settings";

const from = (values: Record<string, unknown>) => (key: string): unknown => values[key];

test("defaults mirror the server's Settings, with shim set", () => {
  assert.deepEqual(serverSettings(from({}), undefined), {
    codeLens: true,
    hover: true,
    inlayHints: "off",
    codeActions: true,
    maxFileBytes: 2097152,
    debounceMs: 300,
    ignoreWhitespace: false,
    shim: true,
  });
});

test("settings and the API key are passed through", () => {
  const s = serverSettings(
    from({ codeLens: false, hover: false, inlayHints: "currentLine", codeActions: false, maxFileBytes: 10, debounceMs: 0, ignoreWhitespace: true, url: " https://obs.example.com " }),
    "obs_abc_secret",
  );
  assert.deepEqual(s, {
    codeLens: false,
    hover: false,
    inlayHints: "currentLine",
    codeActions: false,
    maxFileBytes: 10,
    debounceMs: 0,
    ignoreWhitespace: true,
    shim: true,
    url: "https://obs.example.com",
    apiKey: "obs_abc_secret",
  });
});

test("wrongly typed values fall back to their defaults; empty url and key are left out", () => {
  const s = serverSettings(
    from({ codeLens: "yes", inlayHints: "sometimes", maxFileBytes: -1, debounceMs: 1.5, ignoreWhitespace: "yes", url: "  ", path: "/x" }),
    "",
  );
  assert.equal(s.codeLens, true);
  assert.equal(s.inlayHints, "off");
  assert.equal(s.maxFileBytes, 2097152);
  assert.equal(s.debounceMs, 300);
  assert.equal(s.ignoreWhitespace, false);
  assert.equal("url" in s, false);
  assert.equal("apiKey" in s, false);
  assert.equal("path" in s, false);
});

test("a settings change clears url and apiKey with null, nested under observatory", () => {
  const change = settingsChange(serverSettings(from({ inlayHints: "all" }), undefined));
  assert.equal(change.observatory.url, null);
  assert.equal(change.observatory.apiKey, null);
  assert.equal(change.observatory.inlayHints, "all");
  assert.equal(change.observatory.shim, true);
  const withKey = settingsChange(serverSettings(from({ url: "http://127.0.0.1:8787" }), "k"));
  assert.equal(withKey.observatory.url, "http://127.0.0.1:8787");
  assert.equal(withKey.observatory.apiKey, "k");
});
