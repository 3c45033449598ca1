// The status bar item's text for a `ConnectionStatus`, and what clicking it shows. Pure.
import type {
  ConnectionSource,
  ConnectionState,
  ConnectionStatus,
  RefusalReason,
} from "../../protocol/observatory";

/** The server's `ConnectionStatus`, or the extension's own states before/without one. */
export type Status = ConnectionStatus | { state: "starting" } | { state: "stopped"; message: string };

export type Severity = "info" | "warning" | "error";

export interface StatusBar {
  text: string;
  tooltip: string;
  severity: Severity;
}

export type Action = "Set API Key" | "Show Log" | "Restart Server";

export interface Details {
  severity: Severity;
  message: string;
  actions: Action[];
}

const STATES: readonly ConnectionState[] = ["connecting", "connected", "offline", "refused"];
const SOURCES: readonly ConnectionSource[] = ["configured", "shared", "started", "inProcess"];
const REASONS: readonly RefusalReason[] = ["apiKeyRequired", "unauthorized", "forbidden", "rateLimited"];

function member<T extends string>(list: readonly T[], value: unknown): value is T {
  return list.some((item) => item === value);
}

function optionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === "string";
}

/** Checks an `observatory/status` payload (it arrives untyped). */
export function isConnectionStatus(value: unknown): value is ConnectionStatus {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    member(STATES, v.state) &&
    optionalString(v.url) &&
    optionalString(v.message) &&
    (v.indexing === undefined || typeof v.indexing === "boolean") &&
    (v.source === undefined || v.source === null || member(SOURCES, v.source)) &&
    (v.reason === undefined || v.reason === null || member(REASONS, v.reason))
  );
}

const SOURCE_TEXT: Record<ConnectionSource, string> = {
  configured: "the configured platform",
  shared: "the platform already running on this machine",
  started: "a platform started for this editor",
  inProcess: "a platform inside the language server",
};

const REASON_TEXT: Record<RefusalReason, string> = {
  apiKeyRequired: "API key required",
  unauthorized: "API key refused",
  forbidden: "API key lacks a scope",
  rateLimited: "rate limited",
};

function where(status: ConnectionStatus): string {
  const source = status.source ? SOURCE_TEXT[status.source] : "the platform";
  return status.url ? `${source} (${status.url})` : source;
}

/** How much of the active file agents wrote (from its `observatory/blame`). */
export interface FileShare {
  /** The file's name, for the tooltip. */
  name: string;
  attributedLines: number;
  lines: number;
  conversations: number;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** "94% agent" and its tooltip line; nothing for a file no agent wrote. */
export function shareText(share: FileShare): { text: string; tooltip: string } | undefined {
  if (share.attributedLines <= 0 || share.lines <= 0) return undefined;
  // 100% is said only of a file agents wrote entirely, and 0% never of one they touched.
  const most = share.attributedLines < share.lines ? 99 : 100;
  const percent = Math.max(1, Math.min(most, Math.round((100 * share.attributedLines) / share.lines)));
  return {
    text: `${percent}% agent`,
    tooltip:
      `${share.name}: agents wrote ${plural(share.attributedLines, "line")} of ${share.lines.toLocaleString("en-US")} ` +
      `(${percent}%), in ${plural(share.conversations, "conversation")}.`,
  };
}

/** The item for a status, with the active file's share when connected. */
export function statusBar(status: Status, share?: FileShare): StatusBar {
  const bar = connectionBar(status);
  const part = status.state === "connected" && !status.indexing && share !== undefined ? shareText(share) : undefined;
  if (part === undefined) return bar;
  return { ...bar, text: `$(eye) ${part.text}`, tooltip: `${bar.tooltip}\n${part.tooltip}` };
}

/** What is wrong: the server's message, which names the platform itself when it can. */
function offlineText(status: ConnectionStatus): string {
  const message = status.message?.replace(/[.\s]+$/, "") ?? "";
  if (message === "") return `${where(status)} is not answering`;
  const named = status.url !== undefined && message.includes(status.url);
  return named || message.startsWith("the ") ? message : `${where(status)} is not answering: ${message}`;
}

function connectionBar(status: Status): StatusBar {
  switch (status.state) {
    case "starting":
      return { text: "$(loading~spin) Observatory", tooltip: "Observatory: starting the language server", severity: "info" };
    case "connecting":
      return { text: "$(loading~spin) Observatory", tooltip: "Observatory: connecting to the platform", severity: "info" };
    case "connected":
      if (status.indexing) {
        return {
          text: "$(sync~spin) Observatory: indexing",
          tooltip:
            `Observatory: connected to ${where(status)}, which is indexing Claude Code's transcripts ` +
            "for the first time; attribution and search fill in as it goes.",
          severity: "info",
        };
      }
      return { text: "$(eye) Observatory", tooltip: `Observatory: connected to ${where(status)}.`, severity: "info" };
    case "offline":
      return {
        text: "$(debug-disconnect) Observatory: offline",
        tooltip: `Observatory: ${offlineText(status)}. Reconnecting.`,
        severity: "warning",
      };
    case "refused": {
      const why = status.reason ? REASON_TEXT[status.reason] : "refused";
      return {
        text: `$(error) Observatory: ${why}`,
        tooltip: `Observatory: ${status.message ?? `${where(status)} refused the connection`}`,
        severity: status.reason === "rateLimited" ? "warning" : "error",
      };
    }
    case "stopped":
      return { text: "$(error) Observatory: stopped", tooltip: `Observatory: ${status.message}`, severity: "error" };
  }
}

/** What clicking the status bar item shows. */
export function statusDetails(status: Status, share?: FileShare): Details {
  const bar = statusBar(status, share);
  const message = bar.tooltip;
  switch (status.state) {
    case "starting":
    case "connecting":
    case "connected":
      return { severity: "info", message, actions: ["Show Log"] };
    case "offline":
      return { severity: "warning", message, actions: ["Show Log", "Restart Server"] };
    case "refused":
      return {
        severity: bar.severity,
        message,
        actions: status.reason === "rateLimited" ? ["Show Log"] : ["Set API Key", "Show Log"],
      };
    case "stopped":
      return { severity: "error", message, actions: ["Show Log", "Restart Server"] };
  }
}
