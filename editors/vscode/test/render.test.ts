import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConversationDetail, MessageView } from "../../protocol/observatory";
import {
  csp,
  diffLines,
  escapeHtml,
  parseWebviewMessage,
  promptAt,
  renderConversation,
  renderNotice,
  toolDiff,
} from "../src/render";

const XSS = "<script>alert(1)</script>";
const ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;";
const NONCE = "bm9uY2UxMjM0NTY3ODkwMQ==";
const CSP_SOURCE = "https://file+.vscode-resource.vscode-cdn.net";

function message(overrides: Partial<MessageView>): MessageView {
  return {
    uuid: null,
    parent_uuid: null,
    role: "user",
    at: "2025-12-28T15:20:39.093Z",
    model: null,
    is_sidechain: false,
    is_prompt: false,
    text: "",
    command: null,
    command_output: null,
    thinking: null,
    tool_calls: [],
    tool_results: [],
    ...overrides,
  };
}

function detail(messages: MessageView[], overrides: Partial<ConversationDetail> = {}): ConversationDetail {
  return {
    conversation: {
      session_id: "2c965cfd-41e4-4e31-8339-2986ebced03c",
      title: "Fix token refresh",
      kind: "main",
      parent_session: null,
      project: "/Users/dev/acme-api",
      git_branch: "main",
      version: "2.0.0",
      entrypoint: "cli",
      started_at: "2025-12-28T15:20:39.093Z",
      ended_at: "2025-12-28T16:01:00.000Z",
      message_count: messages.length,
      models: ["claude-opus-4-5"],
      usage: { input_tokens: 1200, output_tokens: 3400, cache_creation_input_tokens: 500, cache_read_input_tokens: 90000 },
      cost_usd: 0.4213,
    },
    files: [{ path: "/Users/dev/acme-api/src/auth.ts", changes: 2, last_at: "2025-12-28T15:40:00.000Z" }],
    messages,
    nextCursor: null,
    ...overrides,
  };
}

const PROMPT = message({ uuid: "u-prompt", is_prompt: true, text: "Please fix the refresh **token**" });
const EDIT = message({
  uuid: "u-edit",
  role: "assistant",
  model: "claude-opus-4-5",
  text: "Changing the expiry.",
  thinking: "The expiry is computed in seconds.",
  tool_calls: [
    {
      id: "toolu_1",
      name: "Edit",
      input: { file_path: "/Users/dev/acme-api/src/auth.ts", old_string: "const ttl = 60;\n", new_string: "const ttl = 3600;\n" },
    },
  ],
});
const RESULT = message({
  uuid: "u-result",
  tool_results: [{ tool_use_id: "toolu_1", is_error: false, content: "The file was updated." }],
});

function html(d: ConversationDetail, focus?: string): string {
  return renderConversation(d, { nonce: NONCE, cspSource: CSP_SOURCE, focus, view: "1" });
}

/** Every `<script` in the page: only the nonce'd one. */
function assertOnlyOurScript(page: string): void {
  const scripts = page.match(/<script\b[^>]*>/gi) ?? [];
  assert.deepEqual(scripts, [`<script nonce="${NONCE}">`]);
}

test("a script anywhere in the transcript stays text", () => {
  const d = detail(
    [
      message({ uuid: "p", is_prompt: true, text: `Run ${XSS} please` }),
      message({
        uuid: "a",
        role: "assistant",
        text: `Sure: ${XSS}`,
        thinking: `thinking ${XSS}`,
        tool_calls: [{ id: "t", name: "Bash", input: { command: `echo '${XSS}'`, description: XSS } }, { id: "t2", name: "Grep", input: { pattern: XSS } }],
      }),
      message({ uuid: "r", tool_results: [{ tool_use_id: "t", is_error: true, content: XSS }] }),
    ],
    {
      files: [{ path: `/tmp/${XSS}.ts`, changes: 1, last_at: null }],
    },
  );
  d.conversation.title = XSS;
  d.conversation.project = XSS;
  d.conversation.git_branch = XSS;
  d.conversation.models = [XSS];
  const page = html(d, "a");
  assertOnlyOurScript(page);
  assert.ok(page.includes(`<title>${ESCAPED}</title>`), "title");
  assert.ok(page.includes(`<h1>${ESCAPED}</h1>`), "heading");
  assert.ok(page.includes(`Run ${ESCAPED} please`), "prompt");
  assert.ok(page.includes(`Sure: ${ESCAPED}`), "answer");
  assert.ok(page.includes(`thinking ${ESCAPED}`), "thinking");
  assert.ok(page.includes(`echo &#39;${ESCAPED}&#39;`), "tool input");
  assert.ok(page.includes(`/tmp/${ESCAPED}.ts`), "file path");
  assert.ok(page.includes(`<pre class="output">${ESCAPED}</pre>`), "tool output");
  assert.equal(page.match(/alert\(1\)/g)?.length, page.match(/&lt;script&gt;alert\(1\)/g)?.length);
});

test("a tool input of any shape is escaped JSON", () => {
  const page = html(detail([message({ role: "assistant", tool_calls: [{ id: "t", name: "WebFetch", input: { url: "x", prompt: XSS, n: 1 } }] })]));
  assertOnlyOurScript(page);
  assert.ok(page.includes(`&quot;prompt&quot;: &quot;${ESCAPED}&quot;`));
});

test("javascript: and other non-web links stay text", () => {
  const page = html(
    detail([
      message({
        role: "assistant",
        text: "[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [cmd](command:workbench.action.quit) [ok](https://example.com/a)",
      }),
    ]),
  );
  assert.ok(!/href="javascript/i.test(page));
  assert.ok(!/href="data/i.test(page));
  assert.ok(!/href="command/i.test(page));
  assert.ok(page.includes("[click](javascript:alert(1))"));
  assert.ok(page.includes(`<a href="https://example.com/a">ok</a>`));
  assert.equal(page.match(/<a /g)?.length, 1);
});

test("raw HTML in Markdown is not HTML", () => {
  const page = html(detail([message({ role: "assistant", text: '<img src=x onerror="alert(1)"> and <b>bold</b>' })]));
  assert.ok(!page.includes("<img"));
  assert.ok(page.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
  assert.ok(page.includes("&lt;b&gt;bold&lt;/b&gt;"));
});

test("the CSP allows only the nonce'd script and style, and nothing remote", () => {
  const page = html(detail([PROMPT]));
  const policy = csp(NONCE, CSP_SOURCE);
  assert.equal(
    policy,
    `default-src 'none'; style-src ${CSP_SOURCE} 'nonce-${NONCE}'; script-src 'nonce-${NONCE}'; img-src ${CSP_SOURCE} data:`,
  );
  assert.ok(page.includes(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(policy)}">`));
  assert.ok(page.includes(`<style nonce="${NONCE}">`));
  assertOnlyOurScript(page);
  assert.ok(!/\b(src|href)="(https?:)?\/\//.test(page.replace(`href="https://example.com/a"`, "")));
  const notice = renderNotice("Could not open", XSS, { nonce: NONCE, cspSource: CSP_SOURCE }, true);
  assert.ok(notice.includes(escapeHtml(policy)));
  assertOnlyOurScript(notice);
  assert.ok(notice.includes(ESCAPED));
  assert.ok(notice.includes(`data-action="retry"`));
});

test("prompts and answers are Markdown", () => {
  const page = html(detail([PROMPT, EDIT]));
  assert.ok(page.includes("Please fix the refresh <strong>token</strong>"));
  assert.ok(page.includes("<p>Changing the expiry.</p>"));
});

test("a slash command reads as typed, its output as text; neither shows the markup", () => {
  const page = html(
    detail([
      message({ uuid: "c1", text: "<command-name>/model</command-name><command-args>opus</command-args>", command: "/model opus" }),
      message({
        uuid: "c2",
        text: "<local-command-stdout>Set model to <b>opus</b></local-command-stdout>",
        command_output: "Set model to <b>opus</b>",
      }),
    ]),
  );
  assert.match(page, /<code>\/model opus<\/code>/);
  assert.match(page, /<pre class="output">Set model to &lt;b&gt;opus&lt;\/b&gt;<\/pre>/);
  assert.doesNotMatch(page, /command-name|local-command-stdout/);
});

test("an Edit is a diff in a closed <details>, with its result", () => {
  const page = html(detail([PROMPT, EDIT, RESULT]));
  assert.match(page, /<details class="tool" data-tool="Edit"><summary><span class="tool-name">Edit<\/span>/);
  assert.ok(page.includes(`<span class="tool-arg">/Users/dev/acme-api/src/auth.ts</span>`));
  assert.ok(page.includes(`<span class="dl del"><span class="sign">-</span>const ttl = 60;</span>`));
  assert.ok(page.includes(`<span class="dl add"><span class="sign">+</span>const ttl = 3600;</span>`));
  assert.ok(page.includes(`<span class="stat add">+1</span> <span class="stat del">-1</span>`));
  assert.ok(!/<details class="tool"[^>]* open/.test(page));
  // The result is shown in its call, not as a message of its own.
  assert.ok(page.includes("The file was updated."));
  assert.ok(!page.includes(`data-uuid="u-result"`));
});

test("MultiEdit and Write diffs", () => {
  const multi = toolDiff({
    id: "m",
    name: "MultiEdit",
    input: { file_path: "a", edits: [{ old_string: "a\nb\n", new_string: "a\nc\n" }, { old_string: "x", new_string: "" }] },
  });
  assert.deepEqual(multi, [
    [
      { kind: "ctx", text: "a" },
      { kind: "del", text: "b" },
      { kind: "add", text: "c" },
    ],
    [{ kind: "del", text: "x" }],
  ]);
  assert.deepEqual(toolDiff({ id: "w", name: "Write", input: { file_path: "a", content: "one\ntwo" } }), [
    [
      { kind: "add", text: "one" },
      { kind: "add", text: "two" },
    ],
  ]);
  assert.equal(toolDiff({ id: "r", name: "Read", input: { file_path: "a" } }), undefined);
  assert.equal(toolDiff({ id: "e", name: "Edit", input: "not an object" }), undefined);
  const long = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  const changed = long.map((l, i) => (i === 2 || i === 25 ? `${l}!` : l));
  const lines = diffLines(long.join("\n"), changed.join("\n"));
  assert.equal(lines.filter((l) => l.kind === "gap").length, 1);
});

test("thinking is inside a closed <details>, with a toggle", () => {
  const page = html(detail([PROMPT, EDIT]));
  assert.ok(page.includes(`<details class="thinking"><summary>Thinking</summary><div class="md"><p>The expiry is computed in seconds.</p>`));
  assert.ok(!/<details class="thinking"[^>]* open/.test(page));
  const toggle = `<button class="secondary" data-action="thinking" aria-pressed="false">Show thinking</button>`;
  assert.ok(page.includes(toggle));
  assert.ok(!html(detail([PROMPT])).includes(toggle), "no toggle without thinking");
});

test("the focused message is marked", () => {
  const page = html(detail([PROMPT, EDIT, RESULT]), "u-edit");
  assert.match(page, /<article class="msg role-assistant focus" data-index="1" id="m-u-edit" data-uuid="u-edit" aria-current="true">/);
  assert.equal(page.match(/class="msg[^"]* focus"/g)?.length, 1);
  assert.ok(page.includes(`<body data-view="1">`));
  assert.ok(!html(detail([PROMPT, EDIT])).includes(" focus\""));
  // A results-only message is shown when it is the one asked for.
  assert.ok(html(detail([PROMPT, EDIT, RESULT]), "u-result").includes(`data-uuid="u-result" aria-current="true"`));
});

test("prompts get a copy button for their message", () => {
  const second = message({ uuid: "u-second", is_prompt: true, text: "And add a test" });
  const d = detail([PROMPT, EDIT, RESULT, second]);
  const page = html(d);
  const buttons = [...page.matchAll(/<button[^>]*data-action="copy"[^>]*>/g)].map((m) => m[0]);
  assert.equal(buttons.length, 2);
  assert.ok(buttons[0]?.includes(`data-index="0" data-uuid="u-prompt"`));
  assert.ok(buttons[1]?.includes(`data-index="3" data-uuid="u-second"`));
  assert.equal(promptAt(d, 0), PROMPT.text);
  assert.equal(promptAt(d, 3), "And add a test");
  assert.equal(promptAt(d, 1), undefined, "not a prompt");
  assert.equal(promptAt(d, 9), undefined);
  assert.equal(promptAt(d, -1), undefined);
  // A slash command that asked the model is copied as it was typed, not as its markup.
  const command = message({
    uuid: "u-command",
    is_prompt: true,
    text: "<command-message>review is running…</command-message>\n<command-name>/review</command-name>",
    command: "/review",
  });
  assert.equal(promptAt(detail([command]), 0), "/review");
});

test("sidechain messages are marked", () => {
  const page = html(detail([PROMPT, message({ uuid: "s", role: "assistant", is_sidechain: true, text: "subagent says" })]));
  assert.match(page, /<article class="msg role-assistant sidechain"/);
  assert.ok(page.includes(`<span class="badge sidechain"`));
});

test("the header: title, project, branch, times, models, tokens, cost, files", () => {
  const page = html(detail([PROMPT]));
  assert.ok(page.includes("<h1>Fix token refresh</h1>"));
  assert.ok(page.includes("<dt>Project</dt><dd><code>/Users/dev/acme-api</code></dd>"));
  assert.ok(page.includes("<dt>Branch</dt><dd><code>main</code></dd>"));
  assert.match(page, /<dt>Started<\/dt><dd><time datetime="2025-12-28T15:20:39.093Z">2025-12-2\d \d\d:\d\d<\/time>/);
  assert.ok(page.includes("<dt>Ended</dt>"));
  assert.ok(page.includes("<dt>Models</dt><dd><code>claude-opus-4-5</code></dd>"));
  assert.ok(page.includes("<dt>Tokens</dt><dd>95,100 "));
  assert.ok(page.includes("<dt>Cost</dt><dd>$0.42</dd>"));
  assert.ok(page.includes("Files touched (1)"));
  assert.ok(page.includes(`>src/auth.ts</button> <span class="muted">2 changes</span>`));
  assert.ok(page.includes(`data-action="resume"`));
});

test("Load more only while there is a next page", () => {
  assert.ok(!html(detail([PROMPT])).includes(`data-action="loadMore"`));
  assert.ok(html(detail([PROMPT], { nextCursor: "abc" })).includes(`data-action="loadMore"`));
});

test("webview messages are checked", () => {
  assert.deepEqual(parseWebviewMessage({ type: "copy", index: 3 }), { type: "copy", index: 3 });
  assert.deepEqual(parseWebviewMessage({ type: "openFile", index: 0 }), { type: "openFile", index: 0 });
  assert.deepEqual(parseWebviewMessage({ type: "resume", index: undefined }), { type: "resume" });
  assert.deepEqual(parseWebviewMessage({ type: "loadMore" }), { type: "loadMore" });
  assert.deepEqual(parseWebviewMessage({ type: "retry" }), { type: "retry" });
  assert.equal(parseWebviewMessage({ type: "copy" }), undefined);
  assert.equal(parseWebviewMessage({ type: "copy", index: -1 }), undefined);
  assert.equal(parseWebviewMessage({ type: "copy", index: 1.5 }), undefined);
  assert.equal(parseWebviewMessage({ type: "eval" }), undefined);
  assert.equal(parseWebviewMessage("resume"), undefined);
  assert.equal(parseWebviewMessage(null), undefined);
});
