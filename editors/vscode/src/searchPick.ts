// Observatory: Search Conversations: a QuickPick over `observatory/search`, live as you
// type; choosing a hit opens the conversation at that message (the server's
// `observatory.openConversation`). The logic is in search.ts.
import * as vscode from "vscode";
import type { SearchPage, SearchRequestParams } from "../../protocol/observatory";
import {
  type HitItem,
  type SearchScope,
  type SearchState,
  LiveSearch,
  SEARCH_DEBOUNCE_MS,
  hitItem,
  openArguments,
  scoped,
  searchParams,
} from "./search";

export type SearchServer = {
  search(params: SearchRequestParams, token: vscode.CancellationToken): Promise<SearchPage>;
  openConversation(args: [string, string]): Promise<void>;
  log(message: string): void;
};

const PLACEHOLDER = "Search conversations: words, \"phrases\", prefix*, -excluded, a OR b";

export function searchConversations(server: SearchServer): void {
  const scope: SearchScope = { all: false, project: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath };
  const pick = vscode.window.createQuickPick<HitItem>();
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.placeholder = PLACEHOLDER;
  const workspaceButton: vscode.QuickInputButton = {
    iconPath: new vscode.ThemeIcon("root-folder"),
    tooltip: "Searching this workspace's project: click to search all projects",
  };
  const allButton: vscode.QuickInputButton = {
    iconPath: new vscode.ThemeIcon("globe"),
    tooltip: "Searching all projects: click to search only this workspace's project",
  };
  // What the last answer had to say (no match, the server's refusal): in the title, as
  // the placeholder is hidden while there is text in the box.
  let notice: string | undefined;
  const render = () => {
    const base = scoped(scope) ? "Observatory: Search Conversations (this workspace)" : "Observatory: Search Conversations (all projects)";
    pick.title = notice === undefined ? base : `${base}: ${notice}`;
    pick.buttons = scope.project === undefined ? [] : [scope.all ? allButton : workspaceButton];
  };
  const show = (state: SearchState) => {
    pick.busy = state.state === "busy";
    if (state.state === "busy") return;
    notice = undefined;
    if (state.state === "idle") pick.items = [];
    else if (state.state === "results") {
      const now = Date.now();
      pick.items = state.page.hits.map((h) => hitItem(h, now, !scoped(scope)));
      if (state.page.hits.length === 0) notice = `no conversation matches "${state.query}"`;
    } else {
      // Refused (InvalidParams) or failed (e.g. the platform's 400 for a prefix* under
      // 3 letters): said in the title, not in a popup.
      pick.items = [];
      notice = state.message;
      if (state.state === "failed") server.log(`observatory/search "${state.query}" failed: ${state.message}`);
    }
    pick.placeholder = notice ?? PLACEHOLDER;
    render();
  };
  const live = new LiveSearch<vscode.CancellationToken>({
    request: (params, token) => server.search(params, token),
    params: (query) => searchParams(query, scope),
    cancelSource: () => new vscode.CancellationTokenSource(),
    schedule: (run, ms) => {
      const t = setTimeout(run, ms);
      return () => {
        clearTimeout(t);
      };
    },
    delayMs: SEARCH_DEBOUNCE_MS,
    onState: show,
  });
  render();
  pick.onDidChangeValue((value) => {
    live.update(value);
  });
  pick.onDidTriggerButton(() => {
    scope.all = !scope.all;
    render();
    live.refresh();
  });
  pick.onDidAccept(() => {
    const item = pick.selectedItems.at(0);
    if (item === undefined) return;
    pick.hide();
    server.openConversation(openArguments(item.hit)).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      server.log(`observatory.openConversation failed: ${message}`);
      void vscode.window.showErrorMessage(`Observatory: could not open the conversation: ${message}`);
    });
  });
  pick.onDidHide(() => {
    live.dispose();
    pick.dispose();
  });
  pick.show();
}
