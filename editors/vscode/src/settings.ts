// What the extension sends the server: `observatory.*` settings (package.json
// `contributes.configuration`) plus the API key from SecretStorage, as the protocol's
// `Settings`. Pure: no `vscode` import, so it is unit-tested under Node.
import type { InlayMode, Settings } from "../../protocol/observatory";

export const DEFAULTS: Readonly<Omit<Settings, "url" | "apiKey" | "shim">> = {
  codeLens: true,
  hover: true,
  inlayHints: "off",
  codeActions: true,
  maxFileBytes: 2 * 1024 * 1024,
  debounceMs: 300,
  ignoreWhitespace: false,
};

const INLAY_MODES: readonly InlayMode[] = ["off", "currentLine", "all"];

/** Reads one `observatory.<key>` setting; `undefined` when unset. */
export type Lookup = (key: string) => unknown;

/**
 * `workspace/didChangeConfiguration` merges what it is sent over what the server has,
 * so clearing `url` or `apiKey` needs an explicit `null` (the generated `Settings`
 * marks them optional, not nullable).
 */
export type SettingsChange = Omit<Settings, "url" | "apiKey"> & {
  url: string | null;
  apiKey: string | null;
};

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function count(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : fallback;
}

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function inlayMode(value: unknown): InlayMode {
  return INLAY_MODES.find((m) => m === value) ?? DEFAULTS.inlayHints;
}

/**
 * The settings as the server's `Settings`, with `shim: true`. A value of the wrong type
 * (hand-edited settings.json) falls back to its default rather than making the server
 * refuse the whole object. Empty `url` and API key are left out.
 */
export function serverSettings(get: Lookup, apiKey: string | undefined): Settings {
  const settings: Settings = {
    codeLens: bool(get("codeLens"), DEFAULTS.codeLens),
    hover: bool(get("hover"), DEFAULTS.hover),
    inlayHints: inlayMode(get("inlayHints")),
    codeActions: bool(get("codeActions"), DEFAULTS.codeActions),
    maxFileBytes: count(get("maxFileBytes"), DEFAULTS.maxFileBytes),
    debounceMs: count(get("debounceMs"), DEFAULTS.debounceMs),
    ignoreWhitespace: bool(get("ignoreWhitespace"), DEFAULTS.ignoreWhitespace),
    shim: true,
  };
  const url = text(get("url"));
  if (url !== undefined) settings.url = url;
  const key = text(apiKey);
  if (key !== undefined) settings.apiKey = key;
  return settings;
}

/** The same settings for `workspace/didChangeConfiguration`: unset values as `null`. */
export function settingsChange(settings: Settings): { observatory: SettingsChange } {
  return {
    observatory: { ...settings, url: settings.url ?? null, apiKey: settings.apiKey ?? null },
  };
}
