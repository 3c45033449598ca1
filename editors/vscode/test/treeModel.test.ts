import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConversationPage, ConversationSummary } from "../../protocol/observatory";
import {
  compactNumber,
  conversationDescription,
  conversationLabel,
  conversationTooltip,
  dateText,
  emptyText,
  escapeMarkdown,
  fileLabel,
  localCandidates,
  mergePages,
  relativeTo,
  sectionParams,
  shortModel,
  shortModels,
  tokensText,
  totalTokens,
} from "../src/treeModel";

const NOW = Date.parse("2025-12-28T18:20:39.093Z");

function conversation(over: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    session_id: "2c965cfd-41e4-4e31-8339-2986ebced03c",
    title: "Fix token refresh",
    kind: "session",
    parent_session: null,
    project: "/Users/dev/acme-api",
    git_branch: "main",
    version: "2.0.75",
    entrypoint: "cli",
    started_at: "2025-12-28T15:20:39.093Z",
    ended_at: "2025-12-28T15:42:10.500Z",
    message_count: 67,
    models: ["claude-opus-4-5-20251101"],
    usage: { input_tokens: 71, output_tokens: 1686, cache_creation_input_tokens: 25778, cache_read_input_tokens: 142624 },
    cost_usd: 0.13,
    ...over,
  };
}

test("section params: a request per workspace folder, the file's, and Recent unfiltered", () => {
  const scope = { folders: ["/w/a", "/w/b"], fileUri: "file:///w/a/x.ts" };
  assert.deepEqual(sectionParams("workspace", scope), [
    { project: "/w/a", limit: 50 },
    { project: "/w/b", limit: 50 },
  ]);
  assert.deepEqual(sectionParams("file", scope), [{ textDocument: { uri: "file:///w/a/x.ts" }, limit: 50 }]);
  assert.deepEqual(sectionParams("recent", scope), [{ limit: 50 }]);
  assert.deepEqual(sectionParams("file", { folders: [], fileUri: undefined }), []);
  assert.deepEqual(sectionParams("workspace", { folders: [], fileUri: undefined }), []);
});

test("empty sections say why", () => {
  const none = { folders: [], fileUri: undefined };
  const some = { folders: ["/w"], fileUri: "file:///w/x.ts" };
  assert.equal(emptyText("file", some), "No conversation touched this file");
  assert.equal(emptyText("file", none), "Open a file to see the conversations that touched it");
  assert.equal(emptyText("workspace", some), "No conversation in this workspace");
  assert.equal(emptyText("workspace", none), "Open a folder to see its conversations");
  assert.equal(emptyText("recent", some), "No conversations yet");
});

test("pages from several folders merge: each conversation once, latest first", () => {
  const a = conversation({ session_id: "a", ended_at: "2025-12-28T10:00:00Z" });
  const b = conversation({ session_id: "b", ended_at: "2025-12-28T12:00:00Z" });
  const c = conversation({ session_id: "c", ended_at: null, started_at: "2025-12-28T11:00:00Z" });
  const page = (items: ConversationSummary[]): ConversationPage => ({ items, next_cursor: null });
  assert.deepEqual(
    mergePages([page([a, c]), page([b, a])]).map((x) => x.session_id),
    ["b", "c", "a"],
  );
  // One page keeps the server's order.
  assert.deepEqual(
    mergePages([page([a, b])]).map((x) => x.session_id),
    ["a", "b"],
  );
  assert.equal(mergePages([page([a, b, c])], 2).length, 2);
});

test("short model names", () => {
  assert.equal(shortModel("claude-opus-4-5-20251101"), "opus-4-5");
  assert.equal(shortModel("claude-sonnet-4-5-20250929"), "sonnet-4-5");
  assert.equal(shortModel("claude-3-5-sonnet-20241022"), "sonnet-3-5");
  assert.equal(shortModel("claude-3-7-sonnet-latest"), "sonnet-3-7");
  assert.equal(shortModel("claude-haiku-4-5"), "haiku-4-5");
  assert.equal(shortModel("claude-opus-4-1-20250805[1m]"), "opus-4-1");
  assert.equal(shortModel("gpt-5"), "gpt-5");
  assert.deepEqual(shortModels(["claude-opus-4-5-20251101", "<synthetic>", "claude-opus-4-5", "claude-haiku-4-5-20251001"]), [
    "opus-4-5",
    "haiku-4-5",
  ]);
});

test("token counts", () => {
  assert.equal(compactNumber(0), "0");
  assert.equal(compactNumber(850), "850");
  assert.equal(compactNumber(1000), "1k");
  assert.equal(compactNumber(12_345), "12.3k");
  assert.equal(compactNumber(99_960), "100k");
  assert.equal(compactNumber(456_400), "456k");
  assert.equal(compactNumber(999_600), "1M");
  assert.equal(compactNumber(4_240_000), "4.2M");
  assert.equal(compactNumber(250_000_000), "250M");
  assert.equal(tokensText(12_345), "12.3k tok");
  assert.equal(totalTokens(conversation().usage), 170_159);
});

test("a conversation item: label and description", () => {
  const c = conversation();
  assert.equal(conversationLabel(c), "Fix token refresh");
  assert.equal(conversationLabel(conversation({ title: "  \n " })), "(untitled conversation)");
  assert.equal(conversationLabel(conversation({ title: "two\nlines" })), "two lines");
  assert.equal(conversationDescription(c, NOW), "2 h ago · opus-4-5 · 170k tok");
  assert.equal(
    conversationDescription(conversation({ models: ["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"] }), NOW),
    "2 h ago · opus-4-5 +1 · 170k tok",
  );
  const bare = conversation({
    models: [],
    started_at: null,
    ended_at: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  });
  assert.equal(conversationDescription(bare, NOW), "");
});

test("markdown escaping", () => {
  assert.equal(escapeMarkdown("a *b* [c](d) <e> `f` _g_ #h"), "a \\*b\\* \\[c\\]\\(d\\) \\<e\\> \\`f\\` \\_g\\_ \\#h");
  assert.equal(escapeMarkdown("plain words"), "plain words");
});

test("dates in local time", () => {
  const d = new Date(2025, 11, 28, 9, 5);
  assert.equal(dateText(d.toISOString()), "2025-12-28 09:05");
  assert.equal(dateText(null), "");
  assert.equal(dateText("nope"), "");
});

test("the tooltip: every fact, escaped", () => {
  const tip = conversationTooltip(conversation({ title: "Fix *all* the [bugs]", git_branch: "feat/x_y" }));
  assert.match(tip, /^\*\*Fix \\\*all\\\* the \\\[bugs\\\]\*\*\n/);
  assert.match(tip, /Project: \/Users\/dev\/acme\\-api/);
  assert.match(tip, /Branch: feat\/x\\_y/);
  assert.match(tip, /Started: \d{4}\\-\d\d\\-\d\d \d\d:\d\d/);
  assert.match(tip, /Ended: /);
  assert.match(tip, /Messages: 67/);
  assert.match(tip, /Model: claude\\-opus\\-4\\-5\\-20251101/);
  assert.match(tip, /Tokens: 170,159 \\\(input 71, output 1,686, cache write 25,778, cache read 142,624\\\)/);
  assert.match(tip, /Cost: \$0\\\.13/);
  const bare = conversationTooltip(conversation({ project: null, git_branch: null, started_at: null, ended_at: null, models: [] }));
  assert.doesNotMatch(bare, /Project|Branch|Started|Ended|Model/);
});

test("file labels: name, and directory relative to the project", () => {
  assert.deepEqual(fileLabel({ path: "/Users/dev/acme-api/src/auth/token.rs", changes: 2, last_at: null }, "/Users/dev/acme-api"), {
    label: "token.rs",
    description: "src/auth",
  });
  assert.deepEqual(fileLabel({ path: "/Users/dev/acme-api/README.md", changes: 0, last_at: null }, "/Users/dev/acme-api"), {
    label: "README.md",
    description: "",
  });
  assert.deepEqual(fileLabel({ path: "/etc/hosts", changes: 1, last_at: null }, "/Users/dev/acme-api"), {
    label: "hosts",
    description: "/etc",
  });
  assert.deepEqual(fileLabel({ path: "src/a.ts", changes: 1, last_at: null }, null), { label: "a.ts", description: "src" });
});

test("relative paths", () => {
  assert.deepEqual(relativeTo("/a/b/c.ts", "/a"), ["b", "c.ts"]);
  assert.deepEqual(relativeTo("/a/b/c.ts", "/a/"), ["b", "c.ts"]);
  assert.equal(relativeTo("/ab/c.ts", "/a"), undefined);
  assert.equal(relativeTo("/a", "/a"), undefined);
  assert.deepEqual(relativeTo("C:\\w\\p\\x.ts", "C:\\w\\p"), ["x.ts"]);
});

test("where a recorded file is in the workspace", () => {
  // Recorded in this checkout: the path itself first.
  assert.deepEqual(localCandidates("/home/me/acme/src/a.ts", "/home/me/acme", ["/home/me/acme"])[0], {
    kind: "absolute",
    path: "/home/me/acme/src/a.ts",
  });
  // From another checkout: relative to its project, in each folder; then suffixes.
  assert.deepEqual(localCandidates("/Users/dev/acme-api/src/auth/token.rs", "/Users/dev/acme-api", ["/w/one", "/w/two"]), [
    { kind: "relative", folder: 0, relative: "src/auth/token.rs" },
    { kind: "relative", folder: 1, relative: "src/auth/token.rs" },
    { kind: "relative", folder: 0, relative: "dev/acme-api/src/auth/token.rs" },
    { kind: "relative", folder: 1, relative: "dev/acme-api/src/auth/token.rs" },
    { kind: "relative", folder: 0, relative: "acme-api/src/auth/token.rs" },
    { kind: "relative", folder: 1, relative: "acme-api/src/auth/token.rs" },
    { kind: "relative", folder: 0, relative: "auth/token.rs" },
    { kind: "relative", folder: 1, relative: "auth/token.rs" },
  ]);
  // A file at the project's root is found by name there, never by name alone elsewhere.
  assert.deepEqual(localCandidates("/Users/dev/acme/README.md", "/Users/dev/acme", ["/w"]), [
    { kind: "relative", folder: 0, relative: "README.md" },
    { kind: "relative", folder: 0, relative: "dev/acme/README.md" },
    { kind: "relative", folder: 0, relative: "acme/README.md" },
  ]);
  // The recorded path outside every folder is not offered as is.
  assert.ok(localCandidates("/etc/x/y", null, ["/w"]).every((c) => c.kind === "relative"));
  assert.deepEqual(localCandidates("src/a.ts", null, ["/w"]), [{ kind: "relative", folder: 0, relative: "src/a.ts" }]);
  assert.deepEqual(localCandidates("", null, ["/w"]), []);
  assert.deepEqual(localCandidates("/x/y.ts", "/x", []), []);
});
