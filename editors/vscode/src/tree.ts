// The Observatory view's "Conversations" tree: This Workspace, This File and Recent,
// each conversation expanding to the files it touched. The logic is in treeModel.ts.
import * as vscode from "vscode";
import type {
  ConversationDetail,
  ConversationFile,
  ConversationPage,
  ConversationParams,
  ConversationSummary,
  ConversationsParams,
  TextDocument,
} from "../../protocol/observatory";
import { OPEN_CONVERSATION } from "./search";
import type { Status } from "./status";
import {
  type SectionKind,
  SECTIONS,
  conversationDescription,
  conversationLabel,
  conversationTooltip,
  emptyText,
  escapeMarkdown,
  fileLabel,
  localCandidates,
  mergePages,
  sectionParams,
} from "./treeModel";

export type ConversationSource = {
  conversations(params: ConversationsParams, token: vscode.CancellationToken): Promise<ConversationPage>;
  conversation(params: ConversationParams, token: vscode.CancellationToken): Promise<ConversationDetail>;
  /** Whether requests can be sent (the language client runs). */
  isRunning(): boolean;
  status(): Status;
  readonly onDidChangeStatus: vscode.Event<Status>;
  readonly onDidChangeInsights: vscode.Event<TextDocument>;
  log(message: string): void;
};

/** The context key `viewsWelcome` reads: why the tree is empty, or "ready". */
const STATE_KEY = "observatory.conversations.state";
type TreeState = "starting" | "stopped" | "empty" | "ready";

type SectionNode = { kind: "section"; section: SectionKind; label: string };
type ConversationNode = { kind: "conversation"; section: SectionKind; conversation: ConversationSummary };
type FileNode = {
  kind: "file";
  id: string;
  file: ConversationFile;
  project: string | null;
  /** The file in this workspace, when it was found. */
  local: vscode.Uri | undefined;
};
type MessageNode = { kind: "message"; id: string; label: string; icon: "info" | "error" | "loading~spin" };
type Node = SectionNode | ConversationNode | FileNode | MessageNode;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class ConversationsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sections: SectionNode[] = SECTIONS.map((s) => ({ kind: "section", section: s.kind, label: s.label }));
  private readonly loaded = new Map<SectionKind, Promise<Node[]>>();
  private readonly files = new Map<string, Promise<Omit<FileNode, "id">[]>>();
  private cancel = new vscode.CancellationTokenSource();
  private state: TreeState | undefined;
  private lastState: Status["state"];
  /** The file "This File" is about: the last file editor that was active. */
  private fileUri: vscode.Uri | undefined;
  private readonly disposables: { dispose(): unknown }[] = [];
  readonly view: vscode.TreeView<Node>;

  constructor(
    private readonly source: ConversationSource,
    viewId: string,
  ) {
    this.lastState = source.status().state;
    this.trackEditor(vscode.window.activeTextEditor);
    this.view = vscode.window.createTreeView(viewId, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.view,
      this.changed,
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.trackEditor(editor)) this.refreshSection("file");
      }),
      source.onDidChangeInsights((doc) => {
        if (this.state === "empty") this.refresh();
        else if (doc.uri === this.fileUri?.toString()) this.refreshSection("file");
      }),
      source.onDidChangeStatus((status) => {
        // Connected again (or stopped, or starting): what the tree shows may have changed.
        if (status.state !== this.lastState) this.refresh();
        this.lastState = status.state;
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.refresh();
      }),
    );
    void this.setState("starting");
  }

  /** Follows the active editor for "This File"; true when the file changed. */
  private trackEditor(editor: vscode.TextEditor | undefined): boolean {
    // Another kind of editor (a webview, the output) keeps the last file.
    const scheme = editor?.document.uri.scheme;
    if (scheme !== "file" && scheme !== "untitled") return false;
    const uri = scheme === "file" ? editor?.document.uri : undefined;
    if (uri?.toString() === this.fileUri?.toString()) return false;
    this.fileUri = uri;
    return true;
  }

  /** Everything again from the server. */
  refresh(): void {
    this.cancel.cancel();
    this.cancel.dispose();
    this.cancel = new vscode.CancellationTokenSource();
    this.loaded.clear();
    this.files.clear();
    this.changed.fire(undefined);
  }

  private refreshSection(kind: SectionKind): void {
    this.loaded.delete(kind);
    const node = this.sections.find((s) => s.section === kind);
    if (this.state === "ready" && node !== undefined) this.changed.fire(node);
  }

  private async setState(state: TreeState): Promise<void> {
    if (state === this.state) return;
    this.state = state;
    await vscode.commands.executeCommand("setContext", STATE_KEY, state);
  }

  private scope(): { folders: string[]; fileUri: string | undefined } {
    return {
      folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      fileUri: this.fileUri?.toString(),
    };
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case "section": {
        const item = new vscode.TreeItem(
          node.label,
          node.section === "recent" ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded,
        );
        item.id = `section:${node.section}`;
        item.contextValue = "observatory.section";
        if (node.section === "file" && this.fileUri !== undefined) {
          item.description = this.fileUri.path.split("/").at(-1);
          item.tooltip = this.fileUri.fsPath;
        }
        item.iconPath = new vscode.ThemeIcon(
          node.section === "workspace" ? "root-folder" : node.section === "file" ? "file" : "history",
        );
        item.accessibilityInformation = { label: node.label, role: "treeitem" };
        return item;
      }
      case "conversation": {
        const c = node.conversation;
        const label = conversationLabel(c);
        const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.section}:${c.session_id}`;
        item.description = conversationDescription(c, Date.now());
        item.tooltip = new vscode.MarkdownString(conversationTooltip(c));
        item.iconPath = new vscode.ThemeIcon("comment-discussion");
        item.contextValue = "observatory.conversation";
        item.command = { command: OPEN_CONVERSATION, title: "Open Conversation", arguments: [c.session_id] };
        item.accessibilityInformation = { label: `Conversation ${label}, ${item.description}`, role: "treeitem" };
        return item;
      }
      case "file": {
        const { label, description } = fileLabel(node.file, node.project);
        const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = description;
        item.resourceUri = node.local ?? vscode.Uri.file(node.file.path);
        const changes =
          node.file.changes === 0 ? "read only" : `${node.file.changes} change${node.file.changes === 1 ? "" : "s"}`;
        const tip = new vscode.MarkdownString(`${escapeMarkdown(node.file.path)}  \n${changes}`);
        if (node.local === undefined) tip.appendMarkdown("  \n*Not found in this workspace*");
        item.tooltip = tip;
        if (node.local !== undefined) {
          item.command = { command: "vscode.open", title: "Open File", arguments: [node.local] };
        }
        item.contextValue = node.local === undefined ? "observatory.file.missing" : "observatory.file";
        item.accessibilityInformation = { label: `File ${label}${description === "" ? "" : ` in ${description}`}`, role: "treeitem" };
        return item;
      }
      case "message": {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.contextValue = "observatory.message";
        item.accessibilityInformation = { label: node.label, role: "treeitem" };
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node === undefined) return this.root();
    switch (node.kind) {
      case "section":
        return this.section(node.section);
      case "conversation":
        return this.conversationFiles(node);
      default:
        return [];
    }
  }

  private async root(): Promise<Node[]> {
    if (!this.source.isRunning()) {
      await this.setState(this.source.status().state === "stopped" ? "stopped" : "starting");
      return [];
    }
    // Recent is every conversation: none there, the welcome text says so.
    const recent = await this.section("recent");
    if (recent.length === 1 && recent[0]?.kind === "message" && recent[0].icon === "info") {
      await this.setState("empty");
      return [];
    }
    await this.setState("ready");
    return this.sections;
  }

  private section(kind: SectionKind): Promise<Node[]> {
    let nodes = this.loaded.get(kind);
    if (nodes === undefined) {
      nodes = this.load(kind, this.cancel.token);
      this.loaded.set(kind, nodes);
    }
    return nodes;
  }

  private async load(kind: SectionKind, token: vscode.CancellationToken): Promise<Node[]> {
    const scope = this.scope();
    const requests = sectionParams(kind, scope);
    const empty = (): Node[] => [{ kind: "message", id: `${kind}:empty`, label: emptyText(kind, scope), icon: "info" }];
    if (requests.length === 0) return empty();
    try {
      const pages = await Promise.all(requests.map((params) => this.source.conversations(params, token)));
      const conversations = mergePages(pages);
      if (conversations.length === 0) return empty();
      return conversations.map((conversation) => ({ kind: "conversation", section: kind, conversation }));
    } catch (error) {
      if (token.isCancellationRequested) return [];
      this.source.log(`observatory/conversations (${kind}) failed: ${message(error)}`);
      return [{ kind: "message", id: `${kind}:error`, label: `Could not load conversations: ${message(error)}`, icon: "error" }];
    }
  }

  private async conversationFiles(node: ConversationNode): Promise<Node[]> {
    const c = node.conversation;
    let files = this.files.get(c.session_id);
    if (files === undefined) {
      files = this.loadFiles(c, this.cancel.token);
      this.files.set(c.session_id, files);
    }
    try {
      const list = await files;
      if (list.length === 0) {
        return [{ kind: "message", id: `${node.section}:${c.session_id}:empty`, label: "No files touched", icon: "info" }];
      }
      return list.map((f) => ({ ...f, id: `${node.section}:${c.session_id}:${f.file.path}` }));
    } catch (error) {
      // Not kept: the next expansion asks again.
      if (this.files.get(c.session_id) === files) this.files.delete(c.session_id);
      this.source.log(`observatory/conversation ${c.session_id} failed: ${message(error)}`);
      return [
        {
          kind: "message",
          id: `${node.section}:${c.session_id}:error`,
          label: `Could not load the files: ${message(error)}`,
          icon: "error",
        },
      ];
    }
  }

  private async loadFiles(c: ConversationSummary, token: vscode.CancellationToken): Promise<Omit<FileNode, "id">[]> {
    const detail = await this.source.conversation({ id: c.session_id, limit: 0 }, token);
    const project = detail.conversation.project ?? c.project;
    return Promise.all(
      detail.files.map(async (file) => ({ kind: "file" as const, file, project, local: await findLocal(file.path, project) })),
    );
  }

  dispose(): void {
    this.cancel.cancel();
    this.cancel.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** The workspace's copy of a recorded file (see `localCandidates`), if it has one. */
async function findLocal(recorded: string, project: string | null): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  for (const candidate of localCandidates(recorded, project, folders.map((f) => f.uri.fsPath))) {
    const folder = candidate.kind === "relative" ? folders[candidate.folder] : undefined;
    const uri =
      candidate.kind === "absolute"
        ? vscode.Uri.file(candidate.path)
        : folder === undefined
          ? undefined
          : vscode.Uri.joinPath(folder.uri, ...candidate.relative.split("/"));
    if (uri === undefined) continue;
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if ((stat.type & vscode.FileType.File) !== 0) return uri;
    } catch {
      // Not there: the next candidate.
    }
  }
  return undefined;
}
