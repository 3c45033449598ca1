import assert from "node:assert/strict";
import { test } from "node:test";
import type { SearchHit, SearchPage, SearchRequestParams } from "../../protocol/observatory";
import {
  type CancelSource,
  type SearchState,
  LiveSearch,
  ageText,
  cleanSnippet,
  hitItem,
  openArguments,
  refusal,
  searchParams,
} from "../src/search";

const hit: SearchHit = {
  session_id: "2c965cfd-41e4-4e31-8339-2986ebced03c",
  conversation_title: "Fix token refresh",
  project: "/Users/dev/acme-api",
  message_uuid: "e947d144-88ef-4779-8fc9-3e0a66b9af9f",
  kind: "prompt",
  role: "user",
  tool: null,
  model: null,
  at: "2025-12-28T15:20:39.093Z",
  snippet: "The <mark>refresh</mark>\n  <mark>token</mark> expires too early",
};
const NOW = Date.parse("2025-12-28T18:20:39.093Z");

test("snippets lose their marks, keep where they were, and fit one line", () => {
  const { text, highlights } = cleanSnippet(hit.snippet);
  assert.equal(text, "The refresh token expires too early");
  assert.deepEqual(highlights, [
    [4, 11],
    [12, 17],
  ]);
  assert.deepEqual(
    highlights.map(([a, b]) => text.slice(a, b)),
    ["refresh", "token"],
  );
  assert.deepEqual(cleanSnippet("a < b && <mark>c</mark>"), { text: "a < b && c", highlights: [[9, 10]] });
  assert.deepEqual(cleanSnippet("no marks"), { text: "no marks", highlights: [] });
});

test("age text", () => {
  const ago = (s: number) => ageText(new Date(NOW - s * 1000).toISOString(), NOW);
  assert.equal(ago(5), "just now");
  assert.equal(ago(-30), "just now");
  assert.equal(ago(5 * 60), "5 min ago");
  assert.equal(ago(3 * 3600), "3 h ago");
  assert.equal(ago(86_400), "1 day ago");
  assert.equal(ago(2 * 86_400), "2 days ago");
  assert.equal(ago(65 * 86_400), "2 months ago");
  assert.equal(ago(800 * 86_400), "2 years ago");
  assert.equal(ageText(null, NOW), "");
  assert.equal(ageText("not a date", NOW), "");
});

test("a hit as a QuickPick item", () => {
  const item = hitItem(hit, NOW);
  assert.equal(item.label, "Fix token refresh");
  assert.equal(item.description, "3 h ago · user · prompt");
  assert.equal(item.detail, "The refresh token expires too early");
  assert.equal(item.alwaysShow, true);
  assert.equal(item.hit, hit);
  assert.equal(hitItem(hit, NOW, true).description, "3 h ago · user · prompt · /Users/dev/acme-api");
  const assistant = hitItem({ ...hit, role: "assistant", kind: "assistant", at: null, conversation_title: " " }, NOW);
  assert.equal(assistant.description, "assistant");
  assert.equal(assistant.label, "(untitled conversation)");
  assert.equal(hitItem({ ...hit, role: "assistant", kind: "tool_input" }, NOW).description, "3 h ago · assistant · tool input");
  assert.deepEqual(openArguments(hit), [hit.session_id, hit.message_uuid]);
});

test("scope → request params", () => {
  const workspace = { all: false, project: "/work/simple" };
  assert.deepEqual(searchParams("  gre", workspace), { query: "gre", limit: 50, typing: true, project: "/work/simple" });
  // The space after a finished word reaches the server: it is not a prefix then.
  assert.deepEqual(searchParams("greet ", { ...workspace, all: true }), { query: "greet ", limit: 50, typing: true });
  assert.deepEqual(searchParams("greet", { all: false, project: undefined }, 10), { query: "greet", limit: 10, typing: true });
  assert.equal(searchParams("   ", workspace), undefined);
});

test("the server's refusal is its message; other errors are not refusals", () => {
  assert.equal(refusal({ code: -32602, message: "a prefix needs 3 letters before *" }), "a prefix needs 3 letters before *");
  assert.equal(refusal({ code: -32603, message: "boom" }), undefined);
  assert.equal(refusal(new Error("x")), undefined);
});

type Token = { cancelled: boolean; query: string };

/** A LiveSearch with a fake clock and requests the test answers by hand. */
function harness() {
  const timers: { run: () => void; at: number; cleared: boolean }[] = [];
  let clock = 0;
  const pending: { params: SearchRequestParams; token: Token; resolve: (p: SearchPage) => void; reject: (e: unknown) => void }[] = [];
  const states: SearchState[] = [];
  const live = new LiveSearch<Token>({
    request: (params, token) =>
      new Promise((resolve, reject) => {
        pending.push({ params, token, resolve, reject });
      }),
    params: (q) => searchParams(q, { all: false, project: "/p" }),
    cancelSource: (): CancelSource<Token> => {
      const token = { cancelled: false, query: "" };
      return {
        token,
        cancel: () => {
          token.cancelled = true;
        },
        dispose: () => undefined,
      };
    },
    schedule: (run, ms) => {
      const t = { run, at: clock + ms, cleared: false };
      timers.push(t);
      return () => {
        t.cleared = true;
      };
    },
    delayMs: 200,
    onState: (s) => states.push(s),
  });
  const advance = (ms: number) => {
    clock += ms;
    for (const t of timers.filter((t) => !t.cleared && t.at <= clock)) {
      t.cleared = true;
      t.run();
    }
  };
  const settle = () => new Promise((r) => setImmediate(r));
  const page = (title: string): SearchPage => ({ hits: [{ ...hit, conversation_title: title }], next_offset: null, ranked_newest: null });
  const last = () => states.at(-1);
  return { live, advance, settle, pending, states, page, last };
}

test("typing is debounced: one request once typing pauses", async () => {
  const h = harness();
  h.live.update("g");
  h.advance(100);
  h.live.update("gr");
  h.advance(100);
  h.live.update("greet");
  h.advance(199);
  assert.equal(h.pending.length, 0);
  h.advance(1);
  assert.equal(h.pending.length, 1);
  assert.deepEqual(h.pending[0]?.params, { query: "greet", limit: 50, typing: true, project: "/p" });
  assert.deepEqual(h.last(), { state: "busy", query: "greet" });
  h.pending[0]?.resolve(h.page("Greeting"));
  await h.settle();
  const last = h.last();
  assert.equal(last?.state === "results" ? last.page.hits[0]?.conversation_title : undefined, "Greeting");
});

test("a late answer for an old query never replaces the newer one's results", async () => {
  const h = harness();
  h.live.update("gre");
  h.advance(200);
  h.live.update("greet");
  assert.equal(h.pending[0]?.token.cancelled, true, "the old request is cancelled when the query changes");
  h.advance(200);
  assert.equal(h.pending.length, 2);
  h.pending[1]?.resolve(h.page("new"));
  await h.settle();
  h.pending[0]?.resolve(h.page("old"));
  await h.settle();
  const last = h.last();
  assert.equal(last?.state === "results" ? last.page.hits[0]?.conversation_title : undefined, "new");
  assert.equal(
    h.states.some((s) => s.state === "results" && s.query === "gre"),
    false,
  );
});

test("a refused query shows the server's message; a cleared box shows nothing", async () => {
  const h = harness();
  h.live.update("gr*");
  h.advance(200);
  h.pending[0]?.reject({ code: -32602, message: "a prefix needs 3 letters before *" });
  await h.settle();
  assert.deepEqual(h.last(), { state: "refused", query: "gr*", message: "a prefix needs 3 letters before *" });
  h.live.update("  ");
  assert.deepEqual(h.last(), { state: "idle" });
  h.advance(1000);
  assert.equal(h.pending.length, 1, "nothing is sent for a blank query");
});

test("refresh searches again at once (scope toggled); dispose drops answers", async () => {
  const h = harness();
  h.live.update("greet");
  h.advance(200);
  h.live.refresh();
  assert.equal(h.pending.length, 2);
  assert.equal(h.pending[0]?.token.cancelled, true);
  h.live.dispose();
  assert.equal(h.pending[1]?.token.cancelled, true);
  const before = h.states.length;
  h.pending[1]?.resolve(h.page("x"));
  await h.settle();
  assert.equal(h.states.length, before);
});
