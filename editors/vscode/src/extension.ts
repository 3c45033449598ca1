// Entry point: commands, settings and the status bar around Observatory's language server.
import * as vscode from "vscode";
import { Observatory, SECRET_KEY } from "./client";
import { Annotations, TOGGLE_FILE_ANNOTATIONS } from "./annotations";
import { searchConversations } from "./searchPick";
import type { FileShare } from "./status";
import { ConversationsTree } from "./tree";
import { CONVERSATIONS_VIEW } from "./treeModel";

let observatory: Observatory | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = performance.now();
  const obs = new Observatory(context);
  observatory = obs;
  context.subscriptions.push(
    obs,
    vscode.commands.registerCommand("observatory.setApiKey", async () => {
      const key = await vscode.window.showInputBox({
        title: "Observatory: API key",
        prompt: "The key for the platform in the setting observatory.url (from “observatory keys create”). Leave empty to remove it.",
        password: true,
        ignoreFocusOut: true,
      });
      if (key === undefined) return;
      if (key.trim() === "") await context.secrets.delete(SECRET_KEY);
      else await context.secrets.store(SECRET_KEY, key.trim());
      void vscode.window.showInformationMessage(key.trim() === "" ? "Observatory: API key removed." : "Observatory: API key saved.");
    }),
    vscode.commands.registerCommand("observatory.showStatus", () => obs.showStatus()),
    vscode.commands.registerCommand("observatory.showLog", () => {
      obs.output.show();
    }),
    vscode.commands.registerCommand("observatory.restartServer", () => obs.restart()),
    vscode.commands.registerCommand("observatory.getStarted", () =>
      vscode.commands.executeCommand("workbench.action.openWalkthrough", `${context.extension.id}#start`, false),
    ),
    vscode.commands.registerCommand("observatory.searchConversations", () => {
      searchConversations({
        search: (params, token) => obs.search(params, token),
        openConversation: (args) => obs.openConversation(args),
        log: (message) => {
          obs.output.warn(message);
        },
      });
    }),
    context.secrets.onDidChange((e) => {
      if (e.key === SECRET_KEY) void obs.pushSettings();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("observatory.path")) void obs.restart();
      else if (e.affectsConfiguration("observatory")) void obs.pushSettings();
    }),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      obs.cursorMoved(e.textEditor);
    }),
  );
  // The Observatory view (activity bar) and the line annotations.
  const views = {
    conversations: (params: Parameters<Observatory["conversations"]>[0], token: vscode.CancellationToken) =>
      obs.conversations(params, token),
    conversation: (params: Parameters<Observatory["conversation"]>[0], token: vscode.CancellationToken) =>
      obs.conversation(params, token),
    blame: (uri: string) => obs.blame(uri),
    isRunning: () => obs.isRunning(),
    status: () => obs.currentStatus(),
    onDidChangeStatus: obs.onDidChangeStatus,
    onDidChangeInsights: obs.onDidChangeInsights,
    log: (message: string) => {
      obs.output.warn(message);
    },
    showShare: (share: FileShare | undefined) => {
      obs.setShare(share);
    },
  };
  const tree = new ConversationsTree(views, CONVERSATIONS_VIEW);
  const annotations = new Annotations(views);
  context.subscriptions.push(
    tree,
    annotations,
    vscode.commands.registerCommand("observatory.refreshConversations", () => {
      tree.refresh();
    }),
    vscode.commands.registerCommand(TOGGLE_FILE_ANNOTATIONS, () => annotations.toggleFile()),
  );
  await obs.start();
  // The figure docs/benchmarks.md reports (the e2e reads it from this log).
  obs.output.info(`activated in ${Math.round(performance.now() - started)} ms (language server started)`);
}

export async function deactivate(): Promise<void> {
  await observatory?.stop();
  observatory = undefined;
}
