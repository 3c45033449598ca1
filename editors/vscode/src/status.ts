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

export function statusBar(status: Status): StatusBar {
  switch (status.state) {
    case "starting":
      return { text: "$(loading~spin) Observatory", tooltip: "Observatory: starting the language server", severity: "info" };
    case "connecting":
      return { text: "$(loading~spin) Observatory", tooltip: "Observatory: connecting to the platform", severity: "info" };
    case "connected":
      return { text: "$(eye) Observatory", tooltip: `Observatory: connected to ${where(status)}`, severity: "info" };
    case "offline":
      return {
        text: "$(debug-disconnect) Observatory: offline",
        tooltip: `Observatory: ${where(status)} is not answering${status.message ? `: ${status.message}` : ""}. Reconnecting.`,
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
export function statusDetails(status: Status): Details {
  const bar = statusBar(status);
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
