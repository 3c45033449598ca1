import * as assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { forwardServerLog, serverLogLine, type Level } from "../src/serverLog";

test("server log lines keep their level; other lines are errors", () => {
  assert.deepEqual(
    serverLogLine("2026-12-01T01:07:25.725268Z  WARN platform offline reason=the in-process platform did not start"),
    { level: "warn", text: "platform offline reason=the in-process platform did not start" },
  );
  assert.deepEqual(serverLogLine("2026-12-01T01:07:25.725611Z  INFO shutdown request received, shutting down"), {
    level: "info",
    text: "shutdown request received, shutting down",
  });
  assert.equal(serverLogLine("2026-12-01T01:07:25.7Z ERROR boom").level, "error");
  assert.deepEqual(serverLogLine("thread 'main' panicked at src/main.rs:1:1:"), {
    level: "error",
    text: "thread 'main' panicked at src/main.rs:1:1:",
  });
});

test("each line of the stream goes to its level", async () => {
  const input = new PassThrough();
  const got: [Level, string][] = [];
  const at = (level: Level) => (message: string) => got.push([level, message]);
  forwardServerLog(input, { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug"), trace: at("trace") });
  input.end("2026-12-01T01:07:25.7Z  WARN a\n2026-12-01T01:07:25.8Z DEBUG b\nplain\n");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got, [
    ["warn", "a"],
    ["debug", "b"],
    ["error", "plain"],
  ]);
});
