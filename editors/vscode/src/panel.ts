// The conversation panel: one webview per conversation (revealed when already open),
// showing `observatory/conversation`'s answer as render.ts draws it. The panel does
// not retain its context while hidden: its HTML always holds every page loaded so far,
// and the webview keeps its scroll position and thinking toggle in its own state.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { resumeInTerminal } from "./resume";
import type { ConversationDetail, ConversationParams } from "../../protocol/observatory";
import {
  MAX_PAGES_TO_FOCUS,
  type PanelMessage,
  hasMessage,
  parseWebviewMessage,
  promptAt,
  renderConversation,
  renderNotice,
  title,
} from "./render";

export type ConversationSource = {
  conversation(params: ConversationParams, token: vscode.CancellationToken): Promise<ConversationDetail>;
  log(message: string): void;
};

type Entry = {
  readonly id: string;
  readonly panel: vscode.WebviewPanel;
  readonly cancel: vscode.CancellationTokenSource;
  detail: ConversationDetail | undefined;
  focus: string | undefined;
  /** Bumped when the panel is asked to show another message (see RenderOptions.view). */
  view: number;
  busy: boolean;
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ConversationPanels implements vscode.Disposable {
  private readonly panels = new Map<string, Entry>();
  private readonly subscriptions: vscode.Disposable[] = [];
  // Clicking in the panel makes it active and leaves no active text editor: remember
  // the last one, for the terminal's folder.
  private lastEditor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;

  constructor(private readonly source: ConversationSource) {
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor !== undefined) this.lastEditor = editor;
      }),
    );
  }

  /** Shows the conversation, at the message `focus` (a uuid) when given. */
  async open(id: string, focus?: string): Promise<void> {
    const existing = this.panels.get(id);
    if (existing !== undefined) {
      existing.panel.reveal();
      // Asked for a message (again): scroll to it, even if it was the last one asked for.
      if (focus !== undefined) {
        existing.focus = focus;
        existing.view += 1;
        if (existing.detail !== undefined) await this.reachFocus(existing);
      }
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      "observatory.conversation",
      "Conversation",
      vscode.ViewColumn.Active,
      { enableScripts: true, enableFindWidget: true, retainContextWhenHidden: false, localResourceRoots: [] },
    );
    const entry: Entry = { id, panel, cancel: new vscode.CancellationTokenSource(), detail: undefined, focus, view: 0, busy: false };
    this.panels.set(id, entry);
    panel.onDidDispose(() => {
      entry.cancel.cancel();
      entry.cancel.dispose();
      if (this.panels.get(id) === entry) this.panels.delete(id);
    });
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      void this.handle(entry, raw);
    });
    await this.load(entry);
  }

  private options(entry: Entry) {
    return {
      nonce: randomBytes(16).toString("base64"),
      cspSource: entry.panel.webview.cspSource,
      focus: entry.focus,
      view: String(entry.view),
    };
  }

  private render(entry: Entry): void {
    if (entry.detail === undefined) return;
    entry.panel.title = title(entry.detail);
    entry.panel.webview.html = renderConversation(entry.detail, this.options(entry));
  }

  private post(entry: Entry, text: string, error = false): void {
    const m: PanelMessage = { type: "status", message: text, error };
    void entry.panel.webview.postMessage(m);
  }

  /** The first page (and more until the focused message is there). */
  private async load(entry: Entry): Promise<void> {
    entry.panel.webview.html = renderNotice("Loading the conversation…", entry.id, this.options(entry), false);
    entry.busy = true;
    try {
      entry.detail = await this.source.conversation({ id: entry.id }, entry.cancel.token);
    } catch (error) {
      if (entry.cancel.token.isCancellationRequested) return;
      this.source.log(`observatory/conversation ${entry.id} failed: ${message(error)}`);
      entry.panel.webview.html = renderNotice("Could not open the conversation", message(error), this.options(entry), true);
      return;
    } finally {
      entry.busy = false;
    }
    await this.reachFocus(entry);
  }

  /** Loads pages until the focused message is among them (or no page is left), then renders. */
  private async reachFocus(entry: Entry): Promise<void> {
    const focus = entry.focus;
    let pages = 0;
    while (
      focus !== undefined &&
      entry.detail !== undefined &&
      !hasMessage(entry.detail, focus) &&
      entry.detail.nextCursor !== null &&
      pages < MAX_PAGES_TO_FOCUS
    ) {
      pages += 1;
      if (!(await this.more(entry))) break;
    }
    this.render(entry);
    if (focus !== undefined && entry.detail !== undefined && !hasMessage(entry.detail, focus)) {
      this.post(entry, "The message this was opened at is not in the conversation's loaded pages.", true);
    }
  }

  /** Appends the next page; false when it failed (the webview is told). */
  private async more(entry: Entry): Promise<boolean> {
    const detail = entry.detail;
    if (detail === undefined || detail.nextCursor === null || entry.busy) return false;
    entry.busy = true;
    try {
      const next = await this.source.conversation({ id: entry.id, cursor: detail.nextCursor }, entry.cancel.token);
      entry.detail = { ...next, messages: [...detail.messages, ...next.messages] };
      return true;
    } catch (error) {
      if (!entry.cancel.token.isCancellationRequested) {
        this.source.log(`observatory/conversation ${entry.id} (next page) failed: ${message(error)}`);
        this.post(entry, `Could not load more: ${message(error)}`, true);
      }
      return false;
    } finally {
      entry.busy = false;
    }
  }

  private async handle(entry: Entry, raw: unknown): Promise<void> {
    const m = parseWebviewMessage(raw);
    if (m === undefined) {
      this.source.log(`Ignored a malformed message from the conversation panel: ${JSON.stringify(raw)}`);
      return;
    }
    switch (m.type) {
      case "copy": {
        const prompt = entry.detail === undefined ? undefined : promptAt(entry.detail, m.index);
        if (prompt === undefined) return;
        await vscode.env.clipboard.writeText(prompt);
        this.post(entry, "Prompt copied.");
        void vscode.window.setStatusBarMessage("$(check) Observatory: prompt copied", 3000);
        return;
      }
      case "resume":
        this.resume(entry);
        return;
      case "loadMore":
        if (await this.more(entry)) this.render(entry);
        return;
      case "retry":
        if (entry.detail === undefined) await this.load(entry);
        return;
      case "openFile":
        await this.openFile(entry, m.index);
        return;
    }
  }

  /** The local workspace folder of the active (or last active) editor, else the first one. */
  private cwd(): string | undefined {
    const editor = vscode.window.activeTextEditor ?? this.lastEditor;
    const folder = editor === undefined ? undefined : vscode.workspace.getWorkspaceFolder(editor.document.uri);
    if (folder?.uri.scheme === "file") return folder.uri.fsPath;
    return vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file")?.uri.fsPath;
  }

  private resume(entry: Entry): void {
    resumeInTerminal(
      entry.detail?.conversation.session_id ?? entry.id,
      this.cwd(),
      `Claude Code: ${entry.detail === undefined ? entry.id : title(entry.detail)}`,
    );
  }

  /** A touched file: as recorded, or under the project or the workspace when recorded relative. */
  private async openFile(entry: Entry, index: number): Promise<void> {
    const file = entry.detail?.files.at(index);
    if (file === undefined) return;
    const bases = [entry.detail?.conversation.project ?? undefined, this.cwd()].filter((b): b is string => b !== undefined);
    const candidates = path.isAbsolute(file.path) ? [file.path] : bases.map((b) => path.join(b, file.path));
    const found = candidates.find((c) => fs.existsSync(c));
    if (found === undefined) {
      this.post(entry, `${file.path} is not on this machine.`, true);
      return;
    }
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(found), { viewColumn: vscode.ViewColumn.Beside, preview: true });
    } catch (error) {
      this.post(entry, `Could not open ${file.path}: ${message(error)}`, true);
    }
  }

  dispose(): void {
    for (const entry of [...this.panels.values()]) entry.panel.dispose();
    this.panels.clear();
    for (const s of this.subscriptions) s.dispose();
  }
}
