// The conversation panel's HTML, from an `observatory/conversation` answer. Pure (no
// `vscode` import): the WebviewPanel around it is in panel.ts.
//
// Safety: every transcript string is escaped; Markdown goes through markdown-it with
// `html: false` and only http(s)/mailto links; the one script is nonce'd and the
// Content-Security-Policy allows nothing remote.
import { structuredPatch } from "diff";
import MarkdownIt from "markdown-it";
import type {
  ConversationDetail,
  ConversationFile,
  MessageView,
  ToolCallView,
  ToolResultView,
} from "../../protocol/observatory";

export type { ConversationDetail, ConversationFile };

export const CONVERSATION = "observatory/conversation";

/** How many pages the panel loads, at most, to reach the message it was opened at. */
export const MAX_PAGES_TO_FOCUS = 20;

const md = new MarkdownIt({ html: false, linkify: true });
// No remote images (the CSP would block them anyway) and no `javascript:`, `data:`,
// `file:`, `command:` or relative links: a link that fails this stays text.
md.disable("image");
md.validateLink = (url: string) => /^(https?:|mailto:)/i.test(url.trim());

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function markdown(text: string): string {
  return md.render(text);
}

// ---- Messages from the webview ------------------------------------------------------

/** What the webview's buttons post to the extension. */
export type WebviewMessage =
  | { type: "copy"; index: number }
  | { type: "openFile"; index: number }
  | { type: "resume" }
  | { type: "loadMore" }
  | { type: "retry" };

/** A webview message, checked (it arrives untyped); `undefined` when malformed. */
export function parseWebviewMessage(value: unknown): WebviewMessage | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { type, index } = value as Record<string, unknown>;
  if (type === "resume" || type === "loadMore" || type === "retry") return { type };
  if ((type === "copy" || type === "openFile") && typeof index === "number" && Number.isInteger(index) && index >= 0) {
    return { type, index };
  }
  return undefined;
}

/** What the extension posts to the webview: a line in the toolbar (and re-enabled buttons). */
export type PanelMessage = { type: "status"; message: string; error: boolean };

/** The prompt a copy button names, if that message is a prompt. */
export function promptAt(detail: ConversationDetail, index: number): string | undefined {
  const m = detail.messages.at(index);
  return m?.is_prompt === true && index >= 0 ? (m.command ?? m.text) : undefined;
}

/** Whether the loaded messages include this one. */
export function hasMessage(detail: ConversationDetail, uuid: string): boolean {
  return detail.messages.some((m) => m.uuid === uuid);
}

// ---- Formatting ---------------------------------------------------------------------

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** "2025-12-28 15:20" in local time; "" without a (valid) date. */
export function formatTime(at: string | null | undefined): string {
  if (at === null || at === undefined) return "";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function time(at: string | null | undefined): string {
  const text = formatTime(at);
  return text === "" || at == null ? "" : `<time datetime="${escapeHtml(at)}">${escapeHtml(text)}</time>`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function cost(usd: number): string {
  if (usd > 0 && usd < 0.01) return "< $0.01";
  return `$${usd.toFixed(2)}`;
}

function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---- Diffs --------------------------------------------------------------------------

export type DiffLine = { kind: "add" | "del" | "ctx" | "gap"; text: string };

function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

/** The unified diff (jsdiff) from `before` to `after`, 3 lines of context, hunks separated by gaps. */
export function diffLines(before: string, after: string): DiffLine[] {
  const patch = structuredPatch("a", "b", withNewline(before), withNewline(after), undefined, undefined, { context: 3 });
  const out: DiffLine[] = [];
  patch.hunks.forEach((hunk, i) => {
    if (i > 0) out.push({ kind: "gap", text: "⋯" });
    for (const line of hunk.lines) {
      const mark = line.charAt(0);
      if (mark === "\\") continue; // "\ No newline at end of file"
      out.push({ kind: mark === "+" ? "add" : mark === "-" ? "del" : "ctx", text: line.slice(1) });
    }
  });
  return out;
}

function renderDiff(lines: DiffLine[]): string {
  if (lines.length === 0) return `<p class="muted">No change.</p>`;
  const rows = lines.map((l) => {
    const sign = l.kind === "add" ? "+" : l.kind === "del" ? "-" : l.kind === "gap" ? "" : " ";
    return `<span class="dl ${l.kind}"><span class="sign">${sign}</span>${escapeHtml(l.text)}</span>`;
  });
  return `<pre class="diff">${rows.join("\n")}</pre>`;
}

function str(input: unknown, key: string): string | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const v = (input as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}

/** A writing tool call's change as diff lines; `undefined` for other tools. */
export function toolDiff(call: ToolCallView): DiffLine[][] | undefined {
  const input = call.input;
  if (call.name === "Edit") {
    const before = str(input, "old_string");
    const after = str(input, "new_string");
    return before === undefined || after === undefined ? undefined : [diffLines(before, after)];
  }
  if (call.name === "MultiEdit") {
    const edits = typeof input === "object" && input !== null ? (input as Record<string, unknown>).edits : undefined;
    if (!Array.isArray(edits)) return undefined;
    return edits.map((e: unknown) => diffLines(str(e, "old_string") ?? "", str(e, "new_string") ?? ""));
  }
  if (call.name === "Write") {
    const content = str(input, "content");
    return content === undefined ? undefined : [diffLines("", content)];
  }
  return undefined;
}

// ---- Tool calls ---------------------------------------------------------------------

const SUMMARY_KEYS = ["file_path", "notebook_path", "path", "command", "pattern", "url", "query", "description", "prompt"];

function toolSummary(call: ToolCallView): string {
  for (const key of SUMMARY_KEYS) {
    const v = str(call.input, key);
    if (v !== undefined && v.trim() !== "") return oneLine(v);
  }
  return "";
}

function renderResult(result: ToolResultView): string {
  const label = result.is_error ? "Error" : "Result";
  const body = result.content === "" ? `<p class="muted">(empty)</p>` : `<pre class="output">${escapeHtml(result.content)}</pre>`;
  return `<div class="result${result.is_error ? " error" : ""}"><div class="label">${label}</div>${body}</div>`;
}

function renderInput(call: ToolCallView): string {
  const command = str(call.input, "command");
  if (command !== undefined) {
    const description = str(call.input, "description");
    return (
      (description === undefined ? "" : `<p class="muted">${escapeHtml(description)}</p>`) +
      `<pre class="input">${escapeHtml(command)}</pre>`
    );
  }
  const json = JSON.stringify(call.input, null, 2) as string | undefined;
  return `<pre class="input">${escapeHtml(json ?? "null")}</pre>`;
}

function renderToolCall(call: ToolCallView, result: ToolResultView | undefined): string {
  const diffs = toolDiff(call);
  let stats = "";
  let body: string;
  if (diffs !== undefined) {
    const lines = diffs.flat();
    const added = lines.filter((l) => l.kind === "add").length;
    const removed = lines.filter((l) => l.kind === "del").length;
    stats = ` <span class="stat add">+${added}</span> <span class="stat del">-${removed}</span>`;
    body = diffs.map(renderDiff).join("");
  } else {
    body = renderInput(call);
  }
  const summary = toolSummary(call);
  const failed = result?.is_error === true ? ` <span class="badge error">failed</span>` : "";
  return (
    `<details class="tool" data-tool="${escapeHtml(call.name)}"><summary>` +
    `<span class="tool-name">${escapeHtml(call.name)}</span>` +
    (summary === "" ? "" : ` <span class="tool-arg">${escapeHtml(summary)}</span>`) +
    stats +
    failed +
    `</summary><div class="tool-body">${body}${result === undefined ? "" : renderResult(result)}</div></details>`
  );
}

// ---- Messages -----------------------------------------------------------------------

function thinkingOf(m: MessageView): string {
  return m.thinking ?? "";
}

function roleLabel(m: MessageView): string {
  if (m.is_prompt) return "Prompt";
  if (m.role === "assistant") return "Assistant";
  if (m.role === "system") return "System";
  return "User";
}

/** The message's text; a slash command as typed and its output as a block, not Claude Code's markup. */
function textOf(m: MessageView): string {
  if (m.command !== null) return `<div class="md"><p><code>${escapeHtml(m.command)}</code></p></div>`;
  if (m.command_output !== null) {
    return m.command_output === "" ? "" : `<pre class="output">${escapeHtml(m.command_output)}</pre>`;
  }
  return m.text.trim() === "" ? "" : `<div class="md">${markdown(m.text)}</div>`;
}

/** Tool results shown inside their call; a message with nothing else is not shown on its own. */
function absorbed(m: MessageView, calls: Set<string>, focus: string | undefined): boolean {
  return (
    !m.is_prompt &&
    m.text.trim() === "" &&
    thinkingOf(m).trim() === "" &&
    m.tool_calls.length === 0 &&
    m.tool_results.every((r) => calls.has(r.tool_use_id)) &&
    (m.uuid === null || m.uuid !== focus)
  );
}

/** The messages, as `<article>`s. `focus` is the uuid of the message to highlight. */
export function renderMessages(messages: MessageView[], focus: string | undefined): string {
  const calls = new Set<string>();
  const results = new Map<string, ToolResultView>();
  for (const m of messages) {
    for (const c of m.tool_calls) calls.add(c.id);
    for (const r of m.tool_results) results.set(r.tool_use_id, r);
  }
  const out: string[] = [];
  let previous: MessageView | undefined;
  messages.forEach((m, index) => {
    if (absorbed(m, calls, focus)) return;
    const focused = m.uuid !== null && m.uuid === focus;
    const classes = ["msg", `role-${m.role.replace(/[^a-z]/gi, "")}`];
    if (m.is_prompt) classes.push("prompt");
    if (m.is_sidechain) classes.push("sidechain");
    if (focused) classes.push("focus");
    // Claude Code writes one assistant message per block: one header for a run of them.
    const continued =
      !focused &&
      !m.is_prompt &&
      previous !== undefined &&
      !previous.is_prompt &&
      previous.role === m.role &&
      previous.is_sidechain === m.is_sidechain;
    if (continued) classes.push("continued");
    previous = m;
    const attrs =
      `class="${classes.join(" ")}" data-index="${index}"` +
      (m.uuid === null ? "" : ` id="m-${escapeHtml(m.uuid)}" data-uuid="${escapeHtml(m.uuid)}"`) +
      (focused ? ` aria-current="true"` : "");
    let header = "";
    if (!continued) {
      const parts = [`<span class="role">${roleLabel(m)}</span>`];
      if (m.is_sidechain) parts.push(`<span class="badge sidechain" title="A subagent's message">subagent</span>`);
      if (m.model !== null && m.model !== "") parts.push(`<span class="model">${escapeHtml(m.model)}</span>`);
      const at = time(m.at);
      if (at !== "") parts.push(at);
      if (m.is_prompt) {
        parts.push(
          `<button class="secondary small copy" data-action="copy" data-index="${index}"` +
            (m.uuid === null ? "" : ` data-uuid="${escapeHtml(m.uuid)}"`) +
            ` title="Copy this prompt">Copy prompt</button>`,
        );
      }
      header = `<header class="meta">${parts.join(" ")}</header>`;
    }
    const thinking = thinkingOf(m).trim();
    const body = [
      thinking === ""
        ? ""
        : `<details class="thinking"><summary>Thinking</summary><div class="md">${markdown(thinking)}</div></details>`,
      textOf(m),
      ...m.tool_calls.map((c) => renderToolCall(c, results.get(c.id))),
      ...m.tool_results.filter((r) => !calls.has(r.tool_use_id)).map(renderResult),
    ].join("");
    if (body === "" && !focused) return;
    out.push(`<article ${attrs}>${header}${body}</article>`);
  });
  return out.join("\n");
}

// ---- The page -----------------------------------------------------------------------

function fact(label: string, value: string): string {
  return value === "" ? "" : `<dt>${label}</dt><dd>${value}</dd>`;
}

function relative(path: string, project: string | null): string {
  if (project === null || project === "") return path;
  const base = project.endsWith("/") ? project : `${project}/`;
  return path.startsWith(base) ? path.slice(base.length) : path;
}

function renderFiles(files: ConversationFile[], project: string | null): string {
  if (files.length === 0) return "";
  const items = files.map(
    (f, i) =>
      `<li><button class="link" data-action="openFile" data-index="${i}" title="${escapeHtml(f.path)}">` +
      `${escapeHtml(relative(f.path, project))}</button>` +
      ` <span class="muted">${f.changes === 1 ? "1 change" : `${count(f.changes)} changes`}</span>` +
      (f.last_at === null ? "" : ` <span class="muted">${time(f.last_at)}</span>`) +
      `</li>`,
  );
  return `<details class="files" open><summary>Files touched (${files.length})</summary><ul>${items.join("")}</ul></details>`;
}

function renderHeader(detail: ConversationDetail): string {
  const c = detail.conversation;
  const u = c.usage;
  const total = u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  const tokens =
    `${count(total)} <span class="muted">(input ${count(u.input_tokens)}, output ${count(u.output_tokens)}, ` +
    `cache write ${count(u.cache_creation_input_tokens)}, cache read ${count(u.cache_read_input_tokens)})</span>`;
  const facts = [
    fact("Project", c.project === null ? "" : `<code>${escapeHtml(c.project)}</code>`),
    fact("Branch", c.git_branch === null ? "" : `<code>${escapeHtml(c.git_branch)}</code>`),
    fact("Started", time(c.started_at)),
    fact("Ended", time(c.ended_at)),
    fact("Models", c.models.map((m) => `<code>${escapeHtml(m)}</code>`).join(", ")),
    fact("Messages", count(c.message_count)),
    fact("Tokens", tokens),
    fact("Cost", cost(c.cost_usd)),
    fact("Session", `<code>${escapeHtml(c.session_id)}</code>`),
  ].join("");
  return (
    `<header class="conversation"><h1>${escapeHtml(title(detail))}</h1>` +
    `<dl class="facts">${facts}</dl>${renderFiles(detail.files, c.project)}</header>`
  );
}

export function title(detail: ConversationDetail): string {
  const t = detail.conversation.title.trim();
  return t === "" ? "(untitled conversation)" : t;
}

export type RenderOptions = {
  nonce: string;
  /** `webview.cspSource`. */
  cspSource: string;
  /** The uuid of the message to scroll to and highlight. */
  focus?: string | undefined;
  /**
   * Changes when the panel is asked to show another message: the webview restores its
   * scroll position only within one view (e.g. after "Load more" or being hidden).
   */
  view?: string;
};

export function csp(nonce: string, cspSource: string): string {
  return (
    `default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; ` +
    `script-src 'nonce-${nonce}'; img-src ${cspSource} data:`
  );
}

function page(pageTitle: string, body: string, options: RenderOptions, bodyAttrs = ""): string {
  const nonce = escapeHtml(options.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp(options.nonce, options.cspSource))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(pageTitle)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body${bodyAttrs}>
${body}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

/** The whole panel: header, toolbar, messages and "Load more". */
export function renderConversation(detail: ConversationDetail, options: RenderOptions): string {
  const thinking = detail.messages.some((m) => thinkingOf(m).trim() !== "");
  const toolbar =
    `<div class="toolbar">` +
    `<button data-action="resume" title="claude --resume ${escapeHtml(detail.conversation.session_id)}">Resume in terminal</button>` +
    (thinking ? `<button class="secondary" data-action="thinking" aria-pressed="false">Show thinking</button>` : "") +
    `<span id="status" class="status" role="status"></span></div>`;
  const more =
    detail.nextCursor == null
      ? ""
      : `<div class="more"><button class="secondary" data-action="loadMore">Load more</button></div>`;
  const messages = renderMessages(detail.messages, options.focus);
  const body =
    toolbar +
    renderHeader(detail) +
    `<main>${messages === "" ? `<p class="muted">No messages.</p>` : messages}</main>` +
    more;
  return page(title(detail), body, options, ` data-view="${escapeHtml(options.view ?? "")}"`);
}

/** A page with one line: loading, or an error (with a Retry button). */
export function renderNotice(heading: string, message: string, options: RenderOptions, retry: boolean): string {
  const body =
    `<div class="notice"><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(message)}</p>` +
    (retry ? `<button data-action="retry">Retry</button>` : "") +
    `<span id="status" class="status" role="status"></span></div>`;
  return page(heading, body, options);
}

// Theme colours only, so the panel follows dark, light and high-contrast themes.
const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground);
  background: var(--vscode-editor-background); padding: 0 20px 40px; line-height: 1.5; max-width: 980px; }
code, pre { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
pre { background: var(--vscode-textCodeBlock-background); padding: 8px 10px; overflow-x: auto; border-radius: 3px; white-space: pre; }
a { color: var(--vscode-textLink-foreground); }
a:hover { color: var(--vscode-textLink-activeForeground); }
h1 { font-size: 1.5em; font-weight: 600; margin: 12px 0 8px; }
blockquote { margin: 0; padding: 0 12px; border-left: 3px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); }
table { border-collapse: collapse; } th, td { border: 1px solid var(--vscode-panel-border); padding: 2px 6px; }
button { font-family: inherit; font-size: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background);
  border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; padding: 3px 10px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
button:disabled { opacity: 0.6; cursor: default; }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.small { padding: 0 6px; font-size: 0.9em; }
button.link { background: none; border: none; padding: 0; color: var(--vscode-textLink-foreground); font-family: var(--vscode-editor-font-family); }
button.link:hover { text-decoration: underline; background: none; }
.muted { color: var(--vscode-descriptionForeground); }
.toolbar { position: sticky; top: 0; z-index: 1; display: flex; gap: 8px; align-items: center; padding: 8px 0;
  background: var(--vscode-editor-background); border-bottom: 1px solid var(--vscode-panel-border); }
.status { color: var(--vscode-descriptionForeground); }
.status.error { color: var(--vscode-errorForeground); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; }
.facts dt { color: var(--vscode-descriptionForeground); }
.facts dd { margin: 0; }
.files ul { margin: 4px 0; padding-left: 20px; }
summary { cursor: pointer; }
main { margin-top: 12px; }
.msg { padding: 6px 10px; margin: 0; border-left: 3px solid transparent; }
.msg:not(.continued) { margin-top: 14px; }
.msg .meta { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.msg .role { font-weight: 600; color: var(--vscode-foreground); }
.msg.prompt { background: var(--vscode-textBlockQuote-background); border-left-color: var(--vscode-textLink-foreground); }
.msg.sidechain { margin-left: 24px; border-left-color: var(--vscode-panel-border); }
.msg.focus { border-left-color: var(--vscode-focusBorder); background: var(--vscode-editor-findMatchHighlightBackground);
  outline: 1px solid var(--vscode-focusBorder); }
.md > :first-child { margin-top: 4px; } .md > :last-child { margin-bottom: 4px; }
.badge { font-size: 0.85em; padding: 0 6px; border-radius: 8px; color: var(--vscode-badge-foreground); background: var(--vscode-badge-background); }
.badge.error { color: var(--vscode-errorForeground); background: none; border: 1px solid var(--vscode-errorForeground); }
details.thinking, details.tool { margin: 4px 0; }
details.thinking > summary { color: var(--vscode-descriptionForeground); font-style: italic; }
details.thinking > .md { color: var(--vscode-descriptionForeground); border-left: 2px solid var(--vscode-panel-border); padding-left: 10px; }
details.tool > summary { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.tool-name { font-weight: 600; }
.tool-arg { color: var(--vscode-descriptionForeground); }
.tool-body { padding-left: 16px; }
.stat.add { color: var(--vscode-gitDecoration-addedResourceForeground); }
.stat.del { color: var(--vscode-gitDecoration-deletedResourceForeground); }
pre.diff { padding: 4px 0; }
.dl { display: inline-block; min-width: 100%; padding: 0 10px; box-sizing: border-box; }
.dl .sign { display: inline-block; width: 1.5ch; user-select: none; color: var(--vscode-descriptionForeground); }
.dl.add { background: var(--vscode-diffEditor-insertedLineBackground, var(--vscode-diffEditor-insertedTextBackground)); }
.dl.del { background: var(--vscode-diffEditor-removedLineBackground, var(--vscode-diffEditor-removedTextBackground)); }
.dl.gap { color: var(--vscode-descriptionForeground); }
.result .label { font-size: 0.9em; color: var(--vscode-descriptionForeground); }
.result.error .label, .result.error pre { color: var(--vscode-errorForeground); }
pre.output { max-height: 400px; overflow: auto; white-space: pre-wrap; }
.more { margin: 20px 0; text-align: center; }
`;

// Buttons → postMessage (the extension copies, resumes, pages); the thinking toggle and
// the scroll position stay in the webview's state, as the panel does not retain its
// context while hidden.
const SCRIPT = `
(() => {
  const vscode = acquireVsCodeApi();
  const view = document.body.dataset.view || "";
  const state = vscode.getState() || {};
  const save = (patch) => { Object.assign(state, patch, { view }); vscode.setState(state); };
  const status = document.getElementById("status");
  const toggle = document.querySelector('[data-action="thinking"]');
  const showThinking = (open) => {
    document.querySelectorAll("details.thinking").forEach((d) => { d.open = open; });
    if (toggle) { toggle.textContent = open ? "Hide thinking" : "Show thinking"; toggle.setAttribute("aria-pressed", String(open)); }
    save({ thinking: open });
  };
  if (state.thinking) showThinking(true);
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-action]") : null;
    if (!button) return;
    const action = button.dataset.action;
    if (action === "thinking") { showThinking(!state.thinking); return; }
    if (action === "loadMore" || action === "retry") { button.disabled = true; button.dataset.label = button.textContent; button.textContent = "Loading…"; }
    const index = button.dataset.index === undefined ? undefined : Number(button.dataset.index);
    vscode.postMessage({ type: action, index });
  });
  window.addEventListener("message", (event) => {
    const m = event.data;
    if (!m || m.type !== "status" || !status) return;
    status.textContent = String(m.message);
    status.classList.toggle("error", m.error === true);
    document.querySelectorAll("button:disabled").forEach((b) => { b.disabled = false; if (b.dataset.label) b.textContent = b.dataset.label; });
  });
  let timer;
  window.addEventListener("scroll", () => { clearTimeout(timer); timer = setTimeout(() => save({ scrollY: window.scrollY }), 100); });
  if (state.view === view && typeof state.scrollY === "number") window.scrollTo(0, state.scrollY);
  else {
    save({ scrollY: undefined });
    const focus = document.querySelector(".msg.focus");
    if (focus) focus.scrollIntoView({ block: "center" });
  }
})();
`;
