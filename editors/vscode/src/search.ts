// Observatory: Search Conversations — the pure parts: request params from the scope,
// hits → QuickPick items, and a debounced search whose late answers never replace a
// newer query's results. No `vscode` import: the QuickPick itself is in searchPick.ts.
import type { SearchHit, SearchPage, SearchRequestParams } from "../../protocol/observatory";

/** Quiet time after typing before the search is sent (milliseconds). */
export const SEARCH_DEBOUNCE_MS = 200;
export const SEARCH_LIMIT = 50;
export const SEARCH = "observatory/search";
export const OPEN_CONVERSATION = "observatory.openConversation";

/** The workspace's project (the first folder's path), or every project. */
export type SearchScope = { all: boolean; project: string | undefined };

/**
 * `observatory/search` params; `undefined` for a blank query (nothing is sent). The
 * query is being typed: the server reads its last word as a prefix too, unless a
 * space after it says the word is finished, so trailing spaces are kept.
 */
export function searchParams(query: string, scope: SearchScope, limit = SEARCH_LIMIT): SearchRequestParams | undefined {
  if (query.trim() === "") return undefined;
  const params: SearchRequestParams = { query: query.trimStart(), limit, typing: true };
  if (!scope.all && scope.project !== undefined) params.project = scope.project;
  return params;
}

/** Whether the search is limited to the workspace's project (no folder: all projects). */
export function scoped(scope: SearchScope): boolean {
  return !scope.all && scope.project !== undefined;
}

/** A snippet without its `<mark>` tags, on one line, and where the marks were. */
export function cleanSnippet(snippet: string): { text: string; highlights: [number, number][] } {
  let text = "";
  const highlights: [number, number][] = [];
  let start: number | undefined;
  for (const part of snippet.replace(/\s+/g, " ").trim().split(/(<\/?mark>)/)) {
    if (part === "<mark>") start = text.length;
    else if (part === "</mark>") {
      if (start !== undefined && text.length > start) highlights.push([start, text.length]);
      start = undefined;
    } else text += part;
  }
  return { text, highlights };
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", "4 months ago", "2 years ago"; "" without a date. */
export function ageText(at: string | null, now: number): string {
  if (at === null) return "";
  const then = Date.parse(at);
  if (Number.isNaN(then)) return "";
  const s = Math.max(0, Math.round((now - then) / 1000));
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"} ago`;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 30 * 86_400) return plural(Math.floor(s / 86_400), "day");
  if (s < 365 * 86_400) return plural(Math.floor(s / (30 * 86_400)), "month");
  return plural(Math.floor(s / (365 * 86_400)), "year");
}

/** What a QuickPick item shows for a hit (structurally a `vscode.QuickPickItem`). */
export type HitItem = {
  label: string;
  description: string;
  detail: string;
  /** Shown even when the typed text does not match the label: the server already filtered. */
  alwaysShow: true;
  hit: SearchHit;
};

export function hitItem(hit: SearchHit, now: number, showProject = false): HitItem {
  const kind = hit.kind === hit.role ? hit.role : `${hit.role} · ${hit.kind.replace(/_/g, " ")}`;
  const parts = [ageText(hit.at, now), kind];
  if (showProject && hit.project !== null) parts.push(hit.project);
  return {
    label: hit.conversation_title.trim() === "" ? "(untitled conversation)" : hit.conversation_title,
    description: parts.filter((p) => p !== "").join(" · "),
    detail: cleanSnippet(hit.snippet).text,
    alwaysShow: true,
    hit,
  };
}

/** The arguments of `observatory.openConversation` for a hit: at its message. */
export function openArguments(hit: SearchHit): [string, string] {
  return [hit.session_id, hit.message_uuid];
}

const INVALID_PARAMS = -32602;
const REQUEST_CANCELLED = -32800;

function code(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as Record<string, unknown>).code : undefined;
}

/** The server's message when it refused the query (`InvalidParams`), else `undefined`. */
export function refusal(error: unknown): string | undefined {
  if (code(error) !== INVALID_PARAMS) return undefined;
  const message = (error as Record<string, unknown>).message;
  return typeof message === "string" && message !== "" ? message : "The query is not valid.";
}

/** The request was cancelled (the query changed): not worth showing. */
export function cancelled(error: unknown): boolean {
  return code(error) === REQUEST_CANCELLED || (error instanceof Error && error.name === "Canceled");
}

export type SearchState =
  | { state: "idle" }
  | { state: "busy"; query: string }
  | { state: "results"; query: string; page: SearchPage }
  | { state: "refused"; query: string; message: string }
  | { state: "failed"; query: string; message: string };

/** A cancellation source (a `vscode.CancellationTokenSource` in the extension). */
export type CancelSource<Token> = { token: Token; cancel(): void; dispose(): void };

export type SearchDeps<Token> = {
  request(params: SearchRequestParams, token: Token): Promise<SearchPage>;
  params(query: string): SearchRequestParams | undefined;
  cancelSource(): CancelSource<Token>;
  /** setTimeout; returns a function that clears it. */
  schedule(run: () => void, ms: number): () => void;
  delayMs: number;
  onState(state: SearchState): void;
};

/**
 * The live search behind the QuickPick: `update` on every keystroke sends the query
 * once typing pauses, cancels the request of the query before, and drops any answer
 * that arrives for a query that is no longer the latest.
 */
export class LiveSearch<Token> {
  private generation = 0;
  private query = "";
  private clearTimer: (() => void) | undefined;
  private inFlight: CancelSource<Token> | undefined;

  constructor(private readonly deps: SearchDeps<Token>) {}

  /** The query changed (typed): debounced. */
  update(query: string): void {
    this.query = query;
    this.start(this.deps.delayMs);
  }

  /** Search the current query again now (the scope changed). */
  refresh(): void {
    this.start(0);
  }

  private start(delay: number): void {
    const generation = ++this.generation;
    this.stop();
    const params = this.deps.params(this.query);
    if (params === undefined) {
      this.deps.onState({ state: "idle" });
      return;
    }
    const run = () => {
      this.clearTimer = undefined;
      void this.send(generation, params);
    };
    if (delay <= 0) run();
    else this.clearTimer = this.deps.schedule(run, delay);
  }

  private async send(generation: number, params: SearchRequestParams): Promise<void> {
    const source = this.deps.cancelSource();
    this.inFlight = source;
    this.deps.onState({ state: "busy", query: params.query });
    let state: SearchState;
    try {
      state = { state: "results", query: params.query, page: await this.deps.request(params, source.token) };
    } catch (error) {
      const message = refusal(error);
      if (message !== undefined) state = { state: "refused", query: params.query, message };
      else if (cancelled(error)) state = { state: "idle" };
      else state = { state: "failed", query: params.query, message: error instanceof Error ? error.message : String(error) };
    } finally {
      if (this.inFlight === source) this.inFlight = undefined;
      source.dispose();
    }
    if (generation === this.generation) this.deps.onState(state);
  }

  private stop(): void {
    this.clearTimer?.();
    this.clearTimer = undefined;
    this.inFlight?.cancel();
    this.inFlight = undefined;
  }

  dispose(): void {
    this.generation++;
    this.stop();
  }
}
