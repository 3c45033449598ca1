// Line annotations from `observatory/blame` — the pure parts: whether a blame answer is
// for the document as it is, which run wrote a line, the annotation text and hover,
// and the whole-file blocks with a colour per conversation. No `vscode` import: the
// decorations are in annotations.ts.
import type { BlameResult, BlameRun, DocumentBlame } from "../../protocol/observatory";
import { OPEN_CONVERSATION, ageText } from "./search";
import { escapeMarkdown } from "./treeModel";

export { ageText };

export const BLAME = "observatory/blame";
/** Quiet time after the cursor moves before the current line's annotation follows it. */
export const CURRENT_LINE_DEBOUNCE_MS = 100;

/**
 * File annotations' colours, one per conversation in the order they first appear in
 * the file (then round again). Mid-tone, so they read on light and dark themes.
 */
export const PALETTE: readonly string[] = [
  "#4e79a7", // blue
  "#f28e2b", // orange
  "#59a14f", // green
  "#b07aa1", // purple
  "#e15759", // red
  "#76b7b2", // teal
  "#edc948", // yellow
  "#9c755f", // brown
];

/**
 * The attribution, when it is for this version of the document; `undefined` when it is
 * pending, for another version (the server recomputes after edits, then says so with
 * `observatory/didChangeInsights`) or skipped (the file is too large).
 */
export function readyBlame(result: BlameResult, version: number): DocumentBlame | undefined {
  if (!("version" in result)) return undefined;
  if (result.version !== version || result.skipped !== null) return undefined;
  return result;
}

/** The run that wrote `line` (0-based); where runs overlap, the later one (as the server has it). */
export function runAt(runs: readonly BlameRun[], line: number): BlameRun | undefined {
  const n = line + 1;
  for (let i = runs.length - 1; i >= 0; i--) {
    const r = runs[i];
    if (r.start_line <= n && n <= r.end_line) return r;
  }
  return undefined;
}

/** `text` on one line, at most `max` characters, with an ellipsis when cut. */
export function trimText(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  const chars = Array.from(one);
  if (chars.length <= max) return one;
  return `${chars.slice(0, Math.max(0, max - 1)).join("").trimEnd()}…`;
}

/**
 * What the annotation names: the prompt that led to this change (a conversation's
 * later changes answer later prompts), else the conversation's title.
 */
function title(run: BlameRun): string {
  const t = trimText(run.prompt ?? "", 50) || trimText(run.conversation_title, 50);
  return t === "" ? "(untitled conversation)" : t;
}

/** `◆ Make the refresh token last an hour · 2 h ago`, after a line the run wrote. */
export function annotationText(run: BlameRun, now: number): string {
  const age = ageText(run.at, now);
  return age === "" ? `◆ ${title(run)}` : `◆ ${title(run)} · ${age}`;
}

/** A `command:` link that runs `observatory.openConversation` with `[sessionId, messageUuid?]`. */
export function openConversationLink(sessionId: string, messageUuid?: string): string {
  const args = messageUuid === undefined || messageUuid === "" ? [sessionId] : [sessionId, messageUuid];
  return `command:${OPEN_CONVERSATION}?${encodeURIComponent(JSON.stringify(args))}`;
}

/**
 * The hover of an annotation, as Markdown (every recorded text escaped): the
 * conversation, tool, model, age and lines, the prompt, and a link that opens the
 * conversation (the MarkdownString must trust `observatory.openConversation`).
 */
export function hoverMarkdown(run: BlameRun, now: number): string {
  const lines = run.start_line === run.end_line ? `line ${run.start_line}` : `lines ${run.start_line}–${run.end_line}`;
  const facts = [run.tool, run.model ?? "", ageText(run.at, now), lines].filter(
    (f) => f !== "",
  );
  const out = [`**${escapeMarkdown(trimText(run.conversation_title, 100) || "(untitled conversation)")}**  `, escapeMarkdown(facts.join(" · ")), ""];
  if (run.prompt !== null && run.prompt.trim() !== "") out.push(`**Prompt:** ${escapeMarkdown(trimText(run.prompt, 500))}`, "");
  if (run.reason !== null && run.reason.trim() !== "") out.push(`**Why:** ${escapeMarkdown(trimText(run.reason, 300))}`, "");
  out.push(
    `[Open at this change](${openConversationLink(run.session_id, run.message_uuid)}) · ` +
      `[Open conversation](${openConversationLink(run.session_id)})`,
  );
  return out.join("\n");
}

/** Lines of one conversation in a row, for the file annotations (0-based, inclusive). */
export type Block = {
  start: number;
  end: number;
  session_id: string;
  /** Index into the palette. */
  color: number;
  /** The run that wrote the block's first line: its label and hover. */
  run: BlameRun;
  /** What the block's first line shows. */
  label: string;
};

/**
 * The file's attributed lines as blocks of one conversation each (adjacent runs of the
 * same conversation are one block), with a colour per conversation assigned in the
 * order conversations first appear in the file.
 */
export function fileBlocks(runs: readonly BlameRun[], now: number, paletteSize = PALETTE.length): Block[] {
  const last = runs.reduce((m, r) => Math.max(m, r.end_line), 0);
  const at: (BlameRun | undefined)[] = new Array<BlameRun | undefined>(last).fill(undefined);
  for (const r of runs) {
    for (let l = Math.max(1, r.start_line); l <= r.end_line; l++) at[l - 1] = r;
  }
  const colors = new Map<string, number>();
  const blocks: Block[] = [];
  let open: { start: number; end: number; runs: BlameRun[] } | undefined;
  const close = () => {
    if (open === undefined) return;
    // The label sits on the block's first line, so it names the change that wrote
    // that line: a later change's prompt there would read as that line's author.
    const first = open.runs[0];
    let color = colors.get(first.session_id);
    if (color === undefined) {
      color = colors.size % Math.max(1, paletteSize);
      colors.set(first.session_id, color);
    }
    blocks.push({ start: open.start, end: open.end, session_id: first.session_id, color, run: first, label: annotationText(first, now) });
    open = undefined;
  };
  at.forEach((r, line) => {
    if (r === undefined) {
      close();
      return;
    }
    if (open !== undefined && open.runs[0]?.session_id === r.session_id && open.end === line - 1) {
      open.end = line;
      if (!open.runs.includes(r)) open.runs.push(r);
      return;
    }
    close();
    open = { start: line, end: line, runs: [r] };
  });
  close();
  return blocks;
}
