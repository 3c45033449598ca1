import assert from "node:assert/strict";
import { test } from "node:test";
import { findBinary, startFailure, type LookupInput } from "../src/binary";

function input(executables: string[], overrides: Partial<LookupInput> = {}): LookupInput {
  return {
    setting: undefined,
    env: { PATH: "/usr/local/bin:/usr/bin", HOME: "/home/u" },
    extensionPath: "/ext",
    platform: "linux",
    isExecutable: (file) => executables.includes(file),
    ...overrides,
  };
}

const all = ["/opt/obs/observatory", "/env/observatory", "/ext/bin/observatory", "/usr/bin/observatory"];

test("the setting comes first", () => {
  const r = findBinary(input(all, { setting: "/opt/obs/observatory", env: { OBSERVATORY_PATH: "/env/observatory", PATH: "/usr/bin" } }));
  assert.deepEqual(r, { found: true, path: "/opt/obs/observatory", source: "setting" });
});

test("then OBSERVATORY_PATH", () => {
  const r = findBinary(input(all, { setting: "  ", env: { OBSERVATORY_PATH: "/env/observatory", PATH: "/usr/bin" } }));
  assert.deepEqual(r, { found: true, path: "/env/observatory", source: "environment" });
});

test("then the bundled binary", () => {
  assert.deepEqual(findBinary(input(all)), { found: true, path: "/ext/bin/observatory", source: "bundled" });
});

test("then PATH, in order, skipping relative entries", () => {
  const r = findBinary(input(["/usr/bin/observatory", "bin/observatory"], { env: { PATH: "bin::/usr/local/bin:/usr/bin" } }));
  assert.deepEqual(r, { found: true, path: "/usr/bin/observatory", source: "PATH" });
});

test("a chosen path that is not executable is an error, not a fallback", () => {
  const r = findBinary(input(all, { setting: "~/nowhere/observatory" }));
  assert.ok(!r.found);
  assert.deepEqual(r.tried, ["/home/u/nowhere/observatory"]);
  assert.match(r.message, /observatory\.path/);
  const e = findBinary(input(all, { env: { OBSERVATORY_PATH: "/missing" } }));
  assert.ok(!e.found);
  assert.match(e.message, /OBSERVATORY_PATH names \/missing/);
});

test("nothing found: every place tried, and the fix", () => {
  const r = findBinary(input([]));
  assert.ok(!r.found);
  assert.deepEqual(r.tried, ["/ext/bin/observatory", "/usr/local/bin/observatory", "/usr/bin/observatory"]);
  assert.match(r.message, /observatory\.path/);
  assert.match(r.message, /cargo install/);
});

test("Windows looks for observatory.exe", () => {
  const r = findBinary(input(["/ext/bin/observatory.exe"], { platform: "win32", env: {} }));
  assert.ok(r.found);
  assert.equal(r.path, "/ext/bin/observatory.exe");
});

test("a start failure names the command and the fix", () => {
  const m = startFailure("/usr/bin/observatory", new Error("spawn EACCES"));
  assert.match(m, /“\/usr\/bin\/observatory lsp”: spawn EACCES/);
  assert.match(m, /observatory\.path/);
});
