// Which server this extension can work with. Pure.
import type { ExperimentalCapabilities } from "../../protocol/observatory";

/** The `capabilities.experimental.observatory.protocolVersion` this extension speaks. */
export const PROTOCOL_VERSION = 1;

export const STATUS = "observatory/status";
export const DID_CHANGE_INSIGHTS = "observatory/didChangeInsights";

function isCapabilities(value: unknown): value is ExperimentalCapabilities {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>).protocolVersion === "number"
  );
}

/**
 * A warning when the server does not speak this extension's protocol version, from
 * `capabilities.experimental` of its `initialize` result; `undefined` when it does.
 */
export function protocolMismatch(experimental: unknown): string | undefined {
  const ours =
    typeof experimental === "object" && experimental !== null
      ? (experimental as Record<string, unknown>).observatory
      : undefined;
  if (!isCapabilities(ours)) {
    return (
      `This observatory binary does not advertise Observatory's LSP extensions; ` +
      `the extension needs protocol version ${PROTOCOL_VERSION}. Update the binary.`
    );
  }
  if (ours.protocolVersion !== PROTOCOL_VERSION) {
    const update = ours.protocolVersion > PROTOCOL_VERSION ? "the extension" : "the observatory binary";
    return (
      `The observatory binary speaks LSP protocol version ${ours.protocolVersion}; ` +
      `this extension needs version ${PROTOCOL_VERSION}. Update ${update}.`
    );
  }
  return undefined;
}

/** The text of a `Resume` or `CopiedPrompt` command result, checked (results arrive untyped). */
export function field(value: unknown, key: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}
