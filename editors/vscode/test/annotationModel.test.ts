import assert from "node:assert/strict";
import { test } from "node:test";
import type { BlameRun, DocumentBlame, PendingBlame } from "../../protocol/observatory";
import {
  PALETTE,
  annotationText,
  fileBlocks,
  hoverMarkdown,
  openConversationLink,
  readyBlame,
  runAt,
  trimText,
} from "../src/annotationModel";

const NOW = Date.parse("2025-12-28T18:20:39.093Z");

function run(over: Partial<BlameRun> = {}): BlameRun {
  return {
    start_line: 3,
    end_line: 5,
    session_id: "s1",
    conversation_title: "Fix token refresh",
    message_uuid: "m1",
    tool_use_id: "t1",
    tool: "Edit",
    at: "2025-12-28T16:20:39.093Z",
    model: "claude-opus-4-5-20251101",
    prompt: "Make the refresh token last an hour",
    reason: "I'll extend the TTL.",
    project: "/Users/dev/acme-api",
    ...over,
  };
}

function blame(over: Partial<DocumentBlame> = {}): DocumentBlame {
  return { version: 4, attributedLines: 3, conversations: 1, skipped: null, runs: [run()], symbols: [], ...over };
}

test("blame is used only for the document's version", () => {
  const pending: PendingBlame = { runs: [], pending: true };
  assert.equal(readyBlame(pending, 4), undefined);
  assert.equal(readyBlame(blame(), 5), undefined);
  assert.equal(readyBlame(blame({ skipped: "too large" }), 4), undefined);
  assert.deepEqual(readyBlame(blame(), 4), blame());
});

test("which run wrote a line: 1-based inclusive runs, 0-based editor lines", () => {
  const runs = [run(), run({ start_line: 5, end_line: 8, session_id: "s2", tool_use_id: "t2" })];
  assert.equal(runAt(runs, 1), undefined);
  assert.equal(runAt(runs, 2)?.session_id, "s1");
  assert.equal(runAt(runs, 3)?.session_id, "s1");
  // Line 5 (1-based) is in both: the later run wins, as in the server.
  assert.equal(runAt(runs, 4)?.session_id, "s2");
  assert.equal(runAt(runs, 7)?.session_id, "s2");
  assert.equal(runAt(runs, 8), undefined);
  assert.equal(runAt([], 0), undefined);
});

test("annotation text: the change's own prompt, else the conversation's title", () => {
  assert.equal(annotationText(run(), NOW), "◆ Make the refresh token last an hour · 2 h ago");
  assert.equal(annotationText(run({ prompt: null }), NOW), "◆ Fix token refresh · 2 h ago");
  assert.equal(annotationText(run({ prompt: "  \n" }), NOW), "◆ Fix token refresh · 2 h ago");
  assert.equal(annotationText(run({ prompt: null, at: null }), NOW), "◆ Fix token refresh");
  assert.equal(annotationText(run({ prompt: null, conversation_title: " " }), NOW), "◆ (untitled conversation) · 2 h ago");
  const long = annotationText(run({ prompt: null, conversation_title: "x".repeat(80) }), NOW);
  assert.equal(long, `◆ ${"x".repeat(49)}… · 2 h ago`);
  assert.equal(trimText("a\n  b", 10), "a b");
  assert.equal(trimText("abcdef", 4), "abc…");
});

test("the hover: escaped prompt and a link that opens the conversation", () => {
  const md = hoverMarkdown(run({ prompt: "Use *bold* and [links](x) <b>", conversation_title: "A_b" }), NOW);
  assert.match(md, /^\*\*A\\_b\*\*/);
  assert.match(md, /Edit · claude\\-opus\\-4\\-5\\-20251101 · 2 h ago · lines 3–5/);
  assert.match(md, /\*\*Prompt:\*\* Use \\\*bold\\\* and \\\[links\\\]\\\(x\\\) \\<b\\>/);
  assert.match(md, /\*\*Why:\*\* I'll extend the TTL\\\./);
  const link = openConversationLink("s1");
  assert.equal(link, `command:observatory.openConversation?${encodeURIComponent('["s1"]')}`);
  const at = openConversationLink("s1", "m1");
  assert.equal(at, `command:observatory.openConversation?${encodeURIComponent('["s1","m1"]')}`);
  assert.ok(md.endsWith(`[Open at this change](${at}) · [Open conversation](${link})`));
  const bare = hoverMarkdown(run({ prompt: null, reason: null, model: null, start_line: 4, end_line: 4 }), NOW);
  assert.doesNotMatch(bare, /Prompt|Why/);
  assert.match(bare, /Edit · 2 h ago · line 4\n/);
});

test("file blocks: one per conversation in a row, coloured in order of appearance", () => {
  const runs = [
    run({ start_line: 10, end_line: 12, session_id: "late", tool_use_id: "t3", conversation_title: "Late", prompt: null }),
    run({ start_line: 1, end_line: 2, session_id: "early", tool_use_id: "t1", conversation_title: "Early", prompt: null }),
    // Same conversation right after: the same block, labelled by the change that wrote
    // its first line, not by this later one.
    run({
      start_line: 3,
      end_line: 4,
      session_id: "early",
      tool_use_id: "t2",
      conversation_title: "Early",
      prompt: "Rename it",
      at: "2025-12-28T18:10:39.093Z",
    }),
    // After a gap, the early conversation again: a new block, its colour kept.
    run({ start_line: 14, end_line: 14, session_id: "early", tool_use_id: "t4", conversation_title: "Early", prompt: null }),
  ];
  const blocks = fileBlocks(runs, NOW);
  assert.deepEqual(
    blocks.map((b) => [b.start, b.end, b.session_id, b.color, b.label]),
    [
      [0, 3, "early", 0, "◆ Early · 2 h ago"],
      [9, 11, "late", 1, "◆ Late · 2 h ago"],
      [13, 13, "early", 0, "◆ Early · 2 h ago"],
    ],
  );
  assert.equal(blocks[0]?.run.tool_use_id, "t1");
  assert.deepEqual(fileBlocks([], NOW), []);
});

test("file blocks: overlapping runs split as the server has them; colours wrap", () => {
  const runs = [
    run({ start_line: 1, end_line: 6, session_id: "a", tool_use_id: "ta" }),
    run({ start_line: 3, end_line: 4, session_id: "b", tool_use_id: "tb" }),
  ];
  assert.deepEqual(
    fileBlocks(runs, NOW).map((b) => [b.start, b.end, b.session_id]),
    [
      [0, 1, "a"],
      [2, 3, "b"],
      [4, 5, "a"],
    ],
  );
  const many = Array.from({ length: PALETTE.length + 2 }, (_, i) =>
    run({ start_line: i * 2 + 1, end_line: i * 2 + 1, session_id: `s${i}`, tool_use_id: `t${i}` }),
  );
  const colors = fileBlocks(many, NOW).map((b) => b.color);
  assert.deepEqual(colors.slice(0, PALETTE.length), [...PALETTE.keys()]);
  assert.deepEqual(colors.slice(PALETTE.length), [0, 1]);
});
