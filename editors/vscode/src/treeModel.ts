// The Observatory view's conversation tree — the pure parts: request params per
// section, merged pages, item labels, descriptions and tooltips, and where a recorded
// file path is in this workspace. No `vscode` import: the TreeDataProvider is tree.ts.
import type {
  ConversationFile,
  ConversationPage,
  ConversationSummary,
  ConversationsParams,
  Usage,
} from "../../protocol/observatory";
import { ageText } from "./search";

export const CONVERSATIONS_VIEW = "observatory.conversations";
export const CONVERSATIONS = "observatory/conversations";
export const CONVERSATION = "observatory/conversation";
/** Conversations per section. */
export const SECTION_LIMIT = 50;

export type SectionKind = "workspace" | "file" | "recent";

export const SECTIONS: readonly { kind: SectionKind; label: string }[] = [
  { kind: "workspace", label: "This Workspace" },
  { kind: "file", label: "This File" },
  { kind: "recent", label: "Recent" },
];

/**
 * The `observatory/conversations` requests of a section: one per workspace folder for
 * "This Workspace", the active file's for "This File", none filtered for "Recent".
 * An empty list: nothing to ask (no folder, no file).
 */
export function sectionParams(
  kind: SectionKind,
  scope: { folders: readonly string[]; fileUri: string | undefined },
  limit = SECTION_LIMIT,
): ConversationsParams[] {
  switch (kind) {
    case "workspace":
      return scope.folders.map((project) => ({ project, limit }));
    case "file":
      return scope.fileUri === undefined ? [] : [{ textDocument: { uri: scope.fileUri }, limit }];
    case "recent":
      return [{ limit }];
  }
}

/** What a section says when it has no conversation. */
export function emptyText(kind: SectionKind, scope: { folders: readonly string[]; fileUri: string | undefined }): string {
  switch (kind) {
    case "workspace":
      return scope.folders.length === 0 ? "Open a folder to see its conversations" : "No conversation in this workspace";
    case "file":
      return scope.fileUri === undefined ? "Open a file to see the conversations that touched it" : "No conversation touched this file";
    case "recent":
      return "No conversations yet";
  }
}

/** When a conversation was last active (ms since the epoch; 0 when unknown). */
export function lastActive(c: ConversationSummary): number {
  const t = Date.parse(c.ended_at ?? c.started_at ?? "");
  return Number.isNaN(t) ? 0 : t;
}

/** Several pages (one per workspace folder) as one list: each conversation once, latest first. */
export function mergePages(pages: readonly ConversationPage[], limit = SECTION_LIMIT): ConversationSummary[] {
  const seen = new Set<string>();
  const all: ConversationSummary[] = [];
  for (const page of pages) {
    for (const c of page.items) {
      if (seen.has(c.session_id)) continue;
      seen.add(c.session_id);
      all.push(c);
    }
  }
  if (pages.length > 1) all.sort((a, b) => lastActive(b) - lastActive(a));
  return all.slice(0, limit);
}

/**
 * A model id, short: `claude-opus-4-5-20251101` → `opus-4-5`,
 * `claude-3-5-sonnet-20241022` → `sonnet-3-5`; anything else without its date.
 */
export function shortModel(model: string): string {
  let m = model.trim().replace(/\[[^\]]*\]$/, "");
  m = m.replace(/^claude-/, "").replace(/-(\d{8}|latest)$/, "");
  const old = /^(\d+(?:-\d+)*)-([a-z]+)$/.exec(m);
  if (old !== null) m = `${old[2]}-${old[1]}`;
  return m === "" ? model : m;
}

/** The models a conversation used, short, each once; Claude Code's `<synthetic>` left out. */
export function shortModels(models: readonly string[]): string[] {
  const out: string[] = [];
  for (const model of models) {
    if (model.startsWith("<")) continue;
    const s = shortModel(model);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** Every token of a conversation: input, output, cache writes and cache reads. */
export function totalTokens(usage: Usage): number {
  return usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
}

function decimal(n: number): string {
  return n.toFixed(1).replace(/\.0$/, "");
}

/** `850`, `12.3k`, `456k`, `4.2M`. */
export function compactNumber(n: number): string {
  if (n < 1000) return `${Math.round(n)}`;
  if (n < 99_950) return `${decimal(n / 1000)}k`;
  if (n < 999_500) return `${Math.round(n / 1000)}k`;
  if (n < 99_950_000) return `${decimal(n / 1_000_000)}M`;
  return `${Math.round(n / 1_000_000)}M`;
}

/** `12.3k tok`. */
export function tokensText(n: number): string {
  return `${compactNumber(n)} tok`;
}

/** A conversation's title, or a stand-in when it has none. */
export function conversationLabel(c: ConversationSummary): string {
  const title = c.title.replace(/\s+/g, " ").trim();
  return title === "" ? "(untitled conversation)" : title;
}

/** `2 h ago · opus-4-5 · 12.3k tok` (parts it lacks are left out). */
export function conversationDescription(c: ConversationSummary, now: number): string {
  const models = shortModels(c.models);
  const model = models.length === 0 ? "" : models.length === 1 ? (models[0] ?? "") : `${models[0] ?? ""} +${models.length - 1}`;
  const tokens = totalTokens(c.usage);
  const parts = [ageText(c.ended_at ?? c.started_at, now), model, tokens > 0 ? tokensText(tokens) : ""];
  return parts.filter((p) => p !== "").join(" · ");
}

/** Markdown's special characters backslash-escaped: text shows as typed. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, "\\$&");
}

/** `2025-12-28 15:20` in local time; "" when absent or not a date. */
export function dateText(at: string | null): string {
  if (at === null) return "";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return "";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

const count = new Intl.NumberFormat("en-US");

/** The conversation's tooltip, as Markdown with every value escaped. */
export function conversationTooltip(c: ConversationSummary): string {
  const lines: string[] = [`**${escapeMarkdown(conversationLabel(c))}**`, ""];
  const facts: [string, string][] = [];
  if (c.project !== null) facts.push(["Project", c.project]);
  if (c.git_branch !== null && c.git_branch !== "") facts.push(["Branch", c.git_branch]);
  const started = dateText(c.started_at);
  const ended = dateText(c.ended_at);
  if (started !== "") facts.push(["Started", started]);
  if (ended !== "") facts.push(["Ended", ended]);
  facts.push(["Messages", count.format(c.message_count)]);
  const models = c.models.filter((m) => !m.startsWith("<"));
  if (models.length > 0) facts.push([models.length === 1 ? "Model" : "Models", models.join(", ")]);
  const u = c.usage;
  facts.push([
    "Tokens",
    `${count.format(totalTokens(u))} (input ${count.format(u.input_tokens)}, output ${count.format(u.output_tokens)}, ` +
      `cache write ${count.format(u.cache_creation_input_tokens)}, cache read ${count.format(u.cache_read_input_tokens)})`,
  ]);
  facts.push(["Cost", `$${c.cost_usd.toFixed(2)}`]);
  lines.push(facts.map(([k, v]) => `${k}: ${escapeMarkdown(v)}`).join("  \n"));
  return lines.join("\n");
}

/** Splits a recorded path (either separator) into its parts; `absolute` when it starts at a root. */
function parts(path: string): { absolute: boolean; segments: string[] } {
  const absolute = /^([/\\]|[A-Za-z]:[/\\])/.test(path);
  return { absolute, segments: path.split(/[/\\]+/).filter((s) => s !== "" && s !== ".") };
}

/** A file item's label (the file name) and description (its directory, relative to the project when under it). */
export function fileLabel(file: ConversationFile, project: string | null): { label: string; description: string } {
  const rel = project === null ? undefined : relativeTo(file.path, project);
  const segments = rel ?? parts(file.path).segments;
  const label = segments.at(-1) ?? file.path;
  const dir = segments.slice(0, -1).join("/");
  return { label, description: rel === undefined ? (parts(file.path).absolute ? `/${dir}` : dir) : dir };
}

/** The path's segments below `dir`, or `undefined` when it is not under it. */
export function relativeTo(path: string, dir: string): string[] | undefined {
  const p = parts(path).segments;
  const d = parts(dir).segments;
  if (d.length === 0 || p.length <= d.length) return undefined;
  return d.every((s, i) => s === p[i]) ? p.slice(d.length) : undefined;
}

/** Where a recorded file might be in this workspace, best first. */
export type Candidate =
  /** The recorded path itself (the conversation ran in this checkout). */
  | { kind: "absolute"; path: string }
  /** `relative` (with `/`) below workspace folder number `folder`. */
  | { kind: "relative"; folder: number; relative: string };

/**
 * The places to look for a recorded file, best first: the recorded path (if it is under
 * a workspace folder); then, in each folder, its path relative to the conversation's
 * project directory (recorded paths often come from another checkout or machine);
 * then its suffixes, longest first (the project was a subdirectory of the folder, or
 * the folder of the project), down to a directory and a file name. A relative recorded path is tried in each folder.
 */
export function localCandidates(recorded: string, project: string | null, folders: readonly string[]): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (c: Candidate) => {
    const key = c.kind === "absolute" ? `a:${c.path}` : `r:${c.folder}:${c.relative}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(c);
  };
  const { absolute, segments } = parts(recorded);
  if (segments.length === 0) return out;
  if (absolute && folders.some((f) => relativeTo(recorded, f) !== undefined)) add({ kind: "absolute", path: recorded });
  const relative = !absolute ? segments : project === null ? undefined : relativeTo(recorded, project);
  if (relative !== undefined) folders.forEach((_, folder) => { add({ kind: "relative", folder, relative: relative.join("/") }); });
  if (absolute) {
    // Longest suffix first; at least a directory and the file name.
    for (let i = 1; i <= segments.length - 2; i++) {
      const suffix = segments.slice(i).join("/");
      folders.forEach((_, folder) => { add({ kind: "relative", folder, relative: suffix }); });
    }
  }
  return out;
}
