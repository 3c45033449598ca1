// The language client: starts `observatory lsp`, keeps its settings current and shows
// its connection in the status bar. Everything Observatory shows comes from the server.
import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { forwardServerLog } from "./serverLog";
import type {
  BlameResult,
  ConversationDetail,
  ConversationPage,
  ConversationParams,
  ConversationsParams,
  CursorParams,
  SearchPage,
  SearchRequestParams,
  Settings,
  TextDocument,
} from "../../protocol/observatory";
import { BLAME } from "./annotationModel";
import { findBinary, startFailure } from "./binary";
import { resumeInTerminal } from "./resume";
import { ConversationPanels } from "./panel";
import { DID_CHANGE_INSIGHTS, STATUS, field, protocolMismatch } from "./protocol";
import { CONVERSATION } from "./render";
import { OPEN_CONVERSATION, SEARCH } from "./search";
import { serverSettings, settingsChange } from "./settings";
import { type FileShare, type Status, isConnectionStatus, statusBar, statusDetails } from "./status";
import { CONVERSATIONS } from "./treeModel";

export const SECRET_KEY = "observatory.apiKey";
const CURSOR = "observatory/didChangeCursor";

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class Observatory implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel("Observatory", { log: true });
  private readonly item = vscode.window.createStatusBarItem("observatory.status", vscode.StatusBarAlignment.Right, 100);
  private readonly insights = new vscode.EventEmitter<TextDocument>();
  /** The conversation panels: `observatory.openConversation` opens one. */
  private readonly panels = new ConversationPanels({
    conversation: (params, token) => this.conversation(params, token),
    log: (message) => {
      this.output.warn(message);
    },
  });
  /** A document's attribution was recomputed (for views; lenses refresh on their own). */
  readonly onDidChangeInsights = this.insights.event;
  private readonly statusChanged = new vscode.EventEmitter<Status>();
  /** The connection's status changed (starting, connected, offline, refused, stopped). */
  readonly onDidChangeStatus = this.statusChanged.event;
  private client: LanguageClient | undefined;
  private status: Status = { state: "starting" };
  private share: FileShare | undefined;
  private crashes: number[] = [];
  private cursorTimer: NodeJS.Timeout | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.item.name = "Observatory";
    this.item.command = "observatory.showStatus";
    this.setStatus(this.status);
    this.item.show();
  }

  private async settings(): Promise<Settings> {
    const config = vscode.workspace.getConfiguration("observatory");
    const apiKey = await this.context.secrets.get(SECRET_KEY);
    return serverSettings((key) => config.get(key), apiKey);
  }

  private setStatus(status: Status): void {
    const changed = status !== this.status;
    this.status = status;
    const bar = statusBar(status, this.share);
    this.item.text = bar.text;
    this.item.tooltip = `${bar.tooltip}\n\nClick for details.`;
    this.item.accessibilityInformation = { label: bar.tooltip };
    this.item.backgroundColor =
      bar.severity === "info" ? undefined : new vscode.ThemeColor(`statusBarItem.${bar.severity}Background`);
    if (changed) this.statusChanged.fire(status);
  }

  /** The active file's share of agent-written lines, shown while connected. */
  setShare(share: FileShare | undefined): void {
    this.share = share;
    this.setStatus(this.status);
  }

  async start(): Promise<void> {
    const lookup = findBinary({
      setting: vscode.workspace.getConfiguration("observatory").get<string>("path"),
      env: process.env,
      extensionPath: this.context.extensionPath,
      platform: process.platform,
      isExecutable,
    });
    if (!lookup.found) {
      this.output.error(`${lookup.message} Tried: ${lookup.tried.join(", ")}`);
      this.fail(lookup.message);
      return;
    }
    this.output.info(`Starting ${lookup.path} lsp (found via ${lookup.source})`);
    this.setStatus({ state: "starting" });
    this.crashes = [];
    const server: ServerOptions = { command: lookup.path, args: ["lsp"], transport: TransportKind.stdio };
    const client = new LanguageClient("observatory", "Observatory", server, this.clientOptions(await this.settings()));
    client.onNotification(STATUS, (params: unknown) => {
      if (isConnectionStatus(params)) this.setStatus(params);
      else this.output.warn(`Ignored a malformed ${STATUS} notification: ${JSON.stringify(params)}`);
    });
    client.onNotification(DID_CHANGE_INSIGHTS, (params: TextDocument) => {
      this.insights.fire(params);
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.output.error(`${lookup.path} lsp did not start: ${String(error)}`);
      this.client = undefined;
      this.fail(startFailure(lookup.path, error));
      return;
    }
    const mismatch = protocolMismatch(client.initializeResult?.capabilities.experimental);
    if (mismatch !== undefined) {
      this.output.warn(mismatch);
      void vscode.window.showWarningMessage(`Observatory: ${mismatch}`);
    }
    try {
      const status: unknown = await client.sendRequest(STATUS, {});
      if (isConnectionStatus(status) && this.status.state === "starting") this.setStatus(status);
    } catch (error) {
      this.output.warn(`${STATUS} request failed: ${String(error)}`);
    }
  }

  private clientOptions(initializationOptions: Settings): LanguageClientOptions {
    const errorHandler: ErrorHandler = {
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
      closed: (): CloseHandlerResult => {
        const now = Date.now();
        this.crashes = [...this.crashes.filter((t) => now - t < 3 * 60_000), now];
        if (this.crashes.length <= 4) {
          this.output.warn("The language server exited; restarting it.");
          this.setStatus({ state: "starting" });
          return { action: CloseAction.Restart, handled: true };
        }
        this.fail("The language server exited 5 times in 3 minutes and was not restarted. The log has details.");
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    };
    return {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      initializationOptions,
      outputChannel: this.output,
      stdioOptions: {
        stdout: forwardServerLog,
        stderr: forwardServerLog,
      },
      errorHandler,
      // Hovers link only to opening a conversation; any other command link in one
      // would have come from recorded text.
      markdown: { isTrusted: { enabledCommands: [OPEN_CONVERSATION] }, supportHtml: false },
      middleware: {
        executeCommand: async (command, args, next) => {
          // Hover links and lenses: `[sessionId, messageUuid?]`, shown in the panel.
          if (command === OPEN_CONVERSATION) return this.openConversation(args);
          const result: unknown = await next(command, args);
          await this.afterCommand(command, result);
          return result;
        },
      },
    };
  }

  /** With `shim: true` the server leaves copying prompts and resuming to the extension. */
  private async afterCommand(command: string, result: unknown): Promise<void> {
    if (command === "observatory.copyPrompt") {
      const prompt = field(result, "prompt");
      if (prompt === undefined) return;
      await vscode.env.clipboard.writeText(prompt);
      void vscode.window.setStatusBarMessage("$(check) Observatory: prompt copied", 3000);
    } else if (command === "observatory.resumeConversation") {
      const args = typeof result === "object" && result !== null ? (result as Record<string, unknown>).args : undefined;
      const id: unknown = Array.isArray(args) ? (args as unknown[]).at(-1) : undefined;
      if (typeof id !== "string") return;
      // The local checkout of the file at hand, not the directory the conversation was
      // recorded in (another clone, another machine); that one only if it exists here.
      const editor = vscode.window.activeTextEditor;
      const folder = editor === undefined ? undefined : vscode.workspace.getWorkspaceFolder(editor.document.uri);
      const recorded = field(result, "cwd");
      const cwd =
        folder?.uri.scheme === "file"
          ? folder.uri.fsPath
          : recorded !== undefined && fs.existsSync(recorded)
            ? recorded
            : undefined;
      resumeInTerminal(id, cwd);
    }
  }

  private fail(message: string): void {
    this.setStatus({ state: "stopped", message });
    void vscode.window.showErrorMessage(`Observatory: ${message}`, "Open Settings", "Show Log").then((choice) => {
      if (choice === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", "observatory.path");
      if (choice === "Show Log") this.output.show();
    });
  }

  /** Sends the current settings (and API key) without restarting the server. */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (client === undefined || client.state !== State.Running) return;
    await client.sendNotification("workspace/didChangeConfiguration", { settings: settingsChange(await this.settings()) });
  }

  /** `observatory/didChangeCursor`, for `inlayHints: "currentLine"` (debounced). */
  cursorMoved(editor: vscode.TextEditor): void {
    const client = this.client;
    if (client === undefined || client.state !== State.Running) return;
    if (vscode.workspace.getConfiguration("observatory").get("inlayHints") !== "currentLine") return;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = setTimeout(() => {
      const params: CursorParams = {
        textDocument: { uri: editor.document.uri.toString() },
        position: { line: editor.selection.active.line, character: editor.selection.active.character },
      };
      void client.sendNotification(CURSOR, params);
    }, 100);
  }

  /** The connection's status now. */
  currentStatus(): Status {
    return this.status;
  }

  /** Whether requests can be sent: the language client runs. */
  isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  /** `observatory/conversations`: a page of conversations (of a project, a file…). */
  async conversations(params: ConversationsParams, token?: vscode.CancellationToken): Promise<ConversationPage> {
    return this.request<ConversationPage>(CONVERSATIONS, params, token);
  }

  /** `observatory/blame`: the server's cached attribution of an open document. */
  async blame(uri: string, token?: vscode.CancellationToken): Promise<BlameResult> {
    const params: TextDocument = { uri };
    return this.request<BlameResult>(BLAME, params, token);
  }

  /**
   * A request with its params by name. The token only when there is one: an
   * `undefined` last argument would make vscode-jsonrpc send `[params, null]`.
   */
  private request<R>(method: string, params: object, token: vscode.CancellationToken | undefined): Promise<R> {
    const client = this.running();
    return token === undefined ? client.sendRequest<R>(method, params) : client.sendRequest<R>(method, params, token);
  }

  private running(): LanguageClient {
    const client = this.client;
    if (client === undefined || client.state !== State.Running) throw new Error("the language server is not running");
    return client;
  }

  /** `observatory/search`; rejects with the server's error (InvalidParams for a refused query). */
  async search(params: SearchRequestParams, token: vscode.CancellationToken): Promise<SearchPage> {
    return this.request<SearchPage>(SEARCH, params, token);
  }

  /** `observatory/conversation`: the summary, files touched and a page of messages. */
  async conversation(params: ConversationParams, token?: vscode.CancellationToken): Promise<ConversationDetail> {
    return this.request<ConversationDetail>(CONVERSATION, params, token);
  }

  /** `observatory.openConversation`'s `[sessionId, messageUuid?]`: the conversation panel, at the message. */
  async openConversation(args: readonly unknown[]): Promise<void> {
    const [id, message] = args;
    if (typeof id !== "string" || id === "") throw new Error(`${OPEN_CONVERSATION} needs a conversation id`);
    await this.panels.open(id, typeof message === "string" && message !== "" ? message : undefined);
  }

  async showStatus(): Promise<void> {
    const details = statusDetails(this.status, this.share);
    const show =
      details.severity === "error"
        ? vscode.window.showErrorMessage
        : details.severity === "warning"
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const choice = await show(details.message, ...details.actions);
    if (choice === "Set API Key") await vscode.commands.executeCommand("observatory.setApiKey");
    if (choice === "Show Log") this.output.show();
    if (choice === "Restart Server") await this.restart();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined && client.state !== State.Stopped) {
      try {
        await client.stop();
      } catch (error) {
        this.output.warn(`Stopping the language server: ${String(error)}`);
      }
    }
  }

  dispose(): void {
    clearTimeout(this.cursorTimer);
    this.item.dispose();
    this.panels.dispose();
    this.insights.dispose();
    this.statusChanged.dispose();
    this.output.dispose();
  }
}
