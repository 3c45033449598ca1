// The server's stderr in the Observatory log at each line's own level. The language
// client's default logs every stderr line as an error, so a warning or a note
// looked like a failure.
import * as readline from "node:readline";
import type { Readable } from "node:stream";

export type Level = "error" | "warn" | "info" | "debug" | "trace";

/** What a log channel offers (vscode's LogOutputChannel has these). */
export type LevelLog = Record<Level, (message: string) => void>;

const LEVELS: Readonly<Record<string, Level>> = {
  ERROR: "error",
  WARN: "warn",
  INFO: "info",
  DEBUG: "debug",
  TRACE: "trace",
};

// `tracing`'s plain format: `2026-12-01T01:07:25.723296Z  WARN the message`.
const LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(ERROR|WARN|INFO|DEBUG|TRACE)\s+(.*)$/;

/**
 * A stderr line's level and text (the channel adds its own time). Anything else
 * (a panic's message, a backtrace) is an error.
 */
export function serverLogLine(line: string): { level: Level; text: string } {
  const m = LINE.exec(line);
  const level = m?.[1] === undefined ? undefined : LEVELS[m[1]];
  if (m === null || level === undefined) return { level: "error", text: line };
  return { level, text: m[2] };
}

/** Logs each line of `input` to `log` at its level. */
export function forwardServerLog(input: Readable, log: LevelLog): void {
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false })
    .on("line", (line: string) => {
      const { level, text } = serverLogLine(line);
      log[level](text);
    });
}
