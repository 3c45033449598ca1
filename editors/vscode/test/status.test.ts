import assert from "node:assert/strict";
import { test } from "node:test";
import { protocolMismatch } from "../src/protocol";
import { isConnectionStatus, shareText, statusBar, statusDetails } from "../src/status";

test("connected", () => {
  const bar = statusBar({ state: "connected", indexing: false, url: "http://127.0.0.1:8787", source: "shared" });
  assert.equal(bar.text, "$(eye) Observatory");
  assert.equal(bar.severity, "info");
  assert.match(bar.tooltip, /connected to the platform already running on this machine \(http:\/\/127\.0\.0\.1:8787\)/);
});

test("offline shows the message", () => {
  const status = { state: "offline", indexing: false, url: "http://127.0.0.1:8787", source: "started", message: "connection refused" } as const;
  const bar = statusBar(status);
  assert.equal(bar.text, "$(debug-disconnect) Observatory: offline");
  assert.equal(bar.severity, "warning");
  assert.match(bar.tooltip, /connection refused/);
  // The server's own sentence is not wrapped in another that says the same.
  const told = statusBar({ ...status, message: "the platform at http://127.0.0.1:8787 stopped answering." });
  assert.equal(told.tooltip, "Observatory: the platform at http://127.0.0.1:8787 stopped answering. Reconnecting.");
  assert.deepEqual(statusDetails(status).actions, ["Show Log", "Restart Server"]);
});

test("refused shows the reason, and offers to set the key", () => {
  const status = {
    state: "refused", indexing: false,
    url: "https://obs.example.com",
    source: "configured",
    reason: "unauthorized",
    message: "the platform at https://obs.example.com refused the API key (401): the bearer token is not valid",
  } as const;
  const bar = statusBar(status);
  assert.equal(bar.text, "$(error) Observatory: API key refused");
  assert.equal(bar.severity, "error");
  assert.match(bar.tooltip, /refused the API key \(401\)/);
  const details = statusDetails(status);
  assert.equal(details.severity, "error");
  assert.deepEqual(details.actions, ["Set API Key", "Show Log"]);
  assert.equal(statusBar({ state: "refused", indexing: false, reason: "apiKeyRequired" }).text, "$(error) Observatory: API key required");
  assert.equal(statusBar({ state: "refused", indexing: false, reason: "rateLimited" }).severity, "warning");
});

test("the extension's own states", () => {
  assert.equal(statusBar({ state: "starting" }).text, "$(loading~spin) Observatory");
  assert.equal(statusBar({ state: "connecting", indexing: false }).text, "$(loading~spin) Observatory");
  const stopped = statusBar({ state: "stopped", message: "binary not found" });
  assert.equal(stopped.severity, "error");
  assert.match(stopped.tooltip, /binary not found/);
});

test("status payloads are checked", () => {
  assert.equal(isConnectionStatus({ state: "connected", indexing: false, source: "inProcess" }), true);
  assert.equal(isConnectionStatus({ state: "refused", indexing: false, reason: "apiKeyRequired", message: "x" }), true);
  assert.equal(isConnectionStatus({ state: "sleeping" }), false);
  assert.equal(isConnectionStatus({ state: "refused", indexing: false, reason: "bored" }), false);
  assert.equal(isConnectionStatus({ state: "offline", indexing: false, message: 3 }), false);
  assert.equal(isConnectionStatus(null), false);
});

test("the protocol version is checked", () => {
  const caps = (protocolVersion: number) => ({ observatory: { protocolVersion, requests: [], notifications: [], commands: [] } });
  assert.equal(protocolMismatch(caps(1)), undefined);
  assert.match(protocolMismatch(caps(2)) ?? "", /speaks LSP protocol version 2.*Update the extension/);
  assert.match(protocolMismatch(caps(0)) ?? "", /Update the observatory binary/);
  assert.match(protocolMismatch(undefined) ?? "", /does not advertise/);
});

test("connected with the active file's share of agent-written lines", () => {
  const status = { state: "connected", indexing: false, url: "http://127.0.0.1:8787", source: "shared" } as const;
  const share = { name: "example.py", attributedLines: 16, lines: 17, conversations: 1 };
  const bar = statusBar(status, share);
  assert.equal(bar.text, "$(eye) 94% agent");
  assert.match(bar.tooltip, /^Observatory: connected to the platform already running/);
  assert.match(bar.tooltip, /\nexample\.py: agents wrote 16 lines of 17 \(94%\), in 1 conversation\.$/);
  assert.match(statusDetails(status, share).message, /agents wrote 16 lines of 17/);
  // A file no agent wrote, or a connection that is not up: the connection alone.
  assert.equal(statusBar(status, { ...share, attributedLines: 0 }).text, "$(eye) Observatory");
  assert.equal(statusBar({ state: "offline", indexing: false }, share).text, "$(debug-disconnect) Observatory: offline");
  // A single line of thousands still shows, as 1%.
  assert.equal(shareText({ name: "big.rs", attributedLines: 1, lines: 5000, conversations: 1 })?.text, "1% agent");
  assert.equal(shareText({ name: "big.rs", attributedLines: 419, lines: 420, conversations: 1 })?.text, "99% agent");
  assert.equal(shareText({ name: "big.rs", attributedLines: 420, lines: 420, conversations: 1 })?.text, "100% agent");
});

test("connected while the platform's first pass runs: indexing, not yet the share", () => {
  const status = { state: "connected", url: "http://127.0.0.1:8787", source: "started", indexing: true } as const;
  assert.ok(isConnectionStatus(status));
  assert.equal(isConnectionStatus({ ...status, indexing: "yes" }), false);
  const bar = statusBar(status, { name: "a.py", attributedLines: 3, lines: 10, conversations: 1 });
  assert.equal(bar.text, "$(sync~spin) Observatory: indexing");
  assert.match(bar.tooltip, /indexing Claude Code's transcripts for the first time/);
  assert.equal(statusBar({ ...status, indexing: false }).text, "$(eye) Observatory");
});
