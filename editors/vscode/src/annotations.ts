// Line annotations from `observatory/blame`: after the current line, the conversation
// that wrote it (GitLens-style, following the cursor), and on demand for the whole file
// a coloured left border per conversation with its title at the first line of each
// block. The logic is in annotationModel.ts.
import * as vscode from "vscode";
import type { BlameResult, BlameRun, DocumentBlame, TextDocument } from "../../protocol/observatory";
import {
  CURRENT_LINE_DEBOUNCE_MS,
  PALETTE,
  annotationText,
  fileBlocks,
  hoverMarkdown,
  readyBlame,
  runAt,
} from "./annotationModel";
import { OPEN_CONVERSATION } from "./search";
import type { FileShare, Status } from "./status";

export type BlameSource = {
  blame(uri: string): Promise<BlameResult>;
  isRunning(): boolean;
  readonly onDidChangeInsights: vscode.Event<TextDocument>;
  readonly onDidChangeStatus: vscode.Event<Status>;
  log(message: string): void;
  /** The active file's share of agent-written lines (`undefined`: none to show). */
  showShare(share: FileShare | undefined): void;
};

function shareOf(document: vscode.TextDocument, blame: DocumentBlame): FileShare {
  const last = document.lineCount - 1;
  // A final newline leaves an empty last line that no one wrote.
  const lines = last > 0 && document.lineAt(last).text === "" ? last : document.lineCount;
  return {
    name: document.uri.path.split("/").pop() ?? document.uri.path,
    attributedLines: blame.attributedLines,
    lines,
    conversations: blame.conversations,
  };
}

export const CURRENT_LINE_SETTING = "currentLineAnnotation";
export const TOGGLE_FILE_ANNOTATIONS = "observatory.toggleFileAnnotations";
/** Whether the active editor's file annotations are on (the editor title button). */
const FILE_ACTIVE_KEY = "observatory.fileAnnotationsActive";
const FOREGROUND = new vscode.ThemeColor("observatory.annotationForeground");

function annotatable(document: vscode.TextDocument): boolean {
  // The server attributes files on disk (by path); other schemes stay pending.
  return document.uri.scheme === "file";
}

function hover(run: BlameRun, now: number): vscode.MarkdownString {
  const md = new vscode.MarkdownString(hoverMarkdown(run, now));
  md.isTrusted = { enabledCommands: [OPEN_CONVERSATION] };
  return md;
}

/** An empty range at the end of `line`, where an `after` annotation goes. */
function endOf(document: vscode.TextDocument, line: number): vscode.Range {
  const end = document.lineAt(line).range.end;
  return new vscode.Range(end, end);
}

export class Annotations implements vscode.Disposable {
  private readonly lineType = vscode.window.createTextEditorDecorationType({
    after: { margin: "0 0 0 3em", fontStyle: "italic", color: FOREGROUND },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedOpen,
  });
  private readonly labelType = vscode.window.createTextEditorDecorationType({
    after: { margin: "0 0 0 3em", fontStyle: "italic", color: FOREGROUND },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedOpen,
  });
  private readonly blockTypes = PALETTE.map((color) =>
    vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      borderWidth: "0 0 0 3px",
      borderStyle: "solid",
      borderColor: color,
      overviewRulerColor: color,
      overviewRulerLane: vscode.OverviewRulerLane.Left,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    }),
  );
  /** The blame of each document, for one version of it (`undefined`: not ready for it). */
  private readonly cache = new Map<string, { version: number; blame: Promise<DocumentBlame | undefined> }>();
  /** Documents whose file annotations are on. */
  private readonly fileOn = new Set<string>();
  private readonly disposables: { dispose(): unknown }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Drops the answers of current-line updates a newer one replaced. */
  private lineGeneration = 0;
  private lineEditor: vscode.TextEditor | undefined;

  constructor(private readonly source: BlameSource) {
    this.disposables.push(
      this.lineType,
      this.labelType,
      ...this.blockTypes,
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === vscode.window.activeTextEditor) this.scheduleLine();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => {
        void this.updateContext();
        this.scheduleLine();
      }),
      vscode.window.onDidChangeVisibleTextEditors((editors) => {
        for (const editor of editors) if (this.fileOn.has(editor.document.uri.toString())) void this.renderFile(editor);
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0) return;
        // Lines moved: hide the current line's annotation until the server has
        // recomputed the attribution (didChangeInsights). File annotations move with
        // the text meanwhile.
        if (this.lineEditor?.document === e.document) this.clearLine();
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        const key = document.uri.toString();
        this.cache.delete(key);
        this.fileOn.delete(key);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`observatory.${CURRENT_LINE_SETTING}`)) void this.showLine();
      }),
      source.onDidChangeInsights((doc) => {
        this.cache.delete(doc.uri);
        this.rerender(doc.uri);
      }),
      source.onDidChangeStatus(() => {
        this.cache.clear();
        this.rerender(undefined);
      }),
    );
    void this.updateContext();
    this.scheduleLine();
  }

  private enabled(): boolean {
    return vscode.workspace.getConfiguration("observatory").get<boolean>(CURRENT_LINE_SETTING) ?? true;
  }

  /** The attribution of the document as it is now, from the cache or the server. */
  private blameFor(document: vscode.TextDocument): Promise<DocumentBlame | undefined> {
    const key = document.uri.toString();
    const version = document.version;
    const cached = this.cache.get(key);
    if (cached?.version === version) return cached.blame;
    if (!this.source.isRunning()) return Promise.resolve(undefined);
    const entry = {
      version,
      blame: this.source.blame(key).then(
        (result) => readyBlame(result, version),
        (error: unknown) => {
          this.source.log(`observatory/blame failed: ${error instanceof Error ? error.message : String(error)}`);
          // Not kept: the next cursor move asks again.
          if (this.cache.get(key) === entry) this.cache.delete(key);
          return undefined;
        },
      ),
    };
    this.cache.set(key, entry);
    return entry.blame;
  }

  /** The document's attribution changed (or the connection did): draw again. */
  private rerender(uri: string | undefined): void {
    const active = vscode.window.activeTextEditor;
    if (active !== undefined && (uri === undefined || active.document.uri.toString() === uri)) void this.showLine();
    for (const editor of vscode.window.visibleTextEditors) {
      const key = editor.document.uri.toString();
      if ((uri === undefined || key === uri) && this.fileOn.has(key)) void this.renderFile(editor);
    }
  }

  private scheduleLine(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.showLine(), CURRENT_LINE_DEBOUNCE_MS);
  }

  private clearLine(): void {
    this.lineGeneration++;
    this.lineEditor?.setDecorations(this.lineType, []);
    this.lineEditor = undefined;
  }

  /** The annotation after the active editor's current line, when an agent wrote it. */
  private async showLine(): Promise<void> {
    clearTimeout(this.timer);
    const editor = vscode.window.activeTextEditor;
    if (this.lineEditor !== editor) this.clearLine();
    const generation = ++this.lineGeneration;
    if (editor === undefined || !annotatable(editor.document)) {
      this.clearLine();
      this.source.showShare(undefined);
      return;
    }
    const document = editor.document;
    const version = document.version;
    const blame = await this.blameFor(document);
    if (generation !== this.lineGeneration || document.version !== version) return;
    this.source.showShare(blame === undefined ? undefined : shareOf(document, blame));
    if (!this.enabled()) {
      this.clearLine();
      return;
    }
    const line = editor.selection.active.line;
    const run = blame === undefined ? undefined : runAt(blame.runs, line);
    // File annotations already label the first line of each block.
    const labelled =
      run !== undefined &&
      this.fileOn.has(document.uri.toString()) &&
      (line === 0 || blame === undefined || runAt(blame.runs, line - 1)?.session_id !== run.session_id);
    if (run === undefined || labelled || line >= document.lineCount) {
      editor.setDecorations(this.lineType, []);
      this.lineEditor = editor;
      return;
    }
    const now = Date.now();
    editor.setDecorations(this.lineType, [
      {
        range: endOf(document, line),
        hoverMessage: hover(run, now),
        renderOptions: { after: { contentText: annotationText(run, now) } },
      },
    ]);
    this.lineEditor = editor;
  }

  /** Observatory: Toggle File Annotations, for the active editor's document. */
  async toggleFile(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || !annotatable(editor.document)) {
      void vscode.window.showInformationMessage("Observatory: open a file to annotate it.");
      return;
    }
    const key = editor.document.uri.toString();
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === key);
    if (this.fileOn.delete(key)) {
      for (const e of editors) this.clearFile(e);
    } else {
      this.fileOn.add(key);
      const shown = await Promise.all(editors.map((e) => this.renderFile(e)));
      if (shown.every((n) => n === 0)) {
        void vscode.window.setStatusBarMessage(
          this.source.isRunning()
            ? "Observatory: no line of this file is attributed to an agent (yet)"
            : "Observatory: the language server is not running",
          4000,
        );
      }
    }
    await this.updateContext();
    await this.showLine();
  }

  private clearFile(editor: vscode.TextEditor): void {
    for (const type of this.blockTypes) editor.setDecorations(type, []);
    editor.setDecorations(this.labelType, []);
  }

  /** The file annotations of one editor; the number of blocks shown. */
  private async renderFile(editor: vscode.TextEditor): Promise<number> {
    const document = editor.document;
    const key = document.uri.toString();
    const version = document.version;
    const blame = await this.blameFor(document);
    if (!this.fileOn.has(key)) return 0;
    // Not for this version: the decorations already there moved with the text; the
    // server's didChangeInsights brings the new attribution.
    if (blame === undefined || document.version !== version) return 0;
    const now = Date.now();
    const blocks = fileBlocks(blame.runs, now).filter((b) => b.start < document.lineCount);
    this.blockTypes.forEach((type, color) => {
      editor.setDecorations(
        type,
        blocks
          .filter((b) => b.color === color)
          .map((b) => new vscode.Range(b.start, 0, Math.min(b.end, document.lineCount - 1), 0)),
      );
    });
    editor.setDecorations(
      this.labelType,
      blocks.map((b) => ({
        range: endOf(document, b.start),
        hoverMessage: hover(b.run, now),
        renderOptions: { after: { contentText: b.label } },
      })),
    );
    return blocks.length;
  }

  private async updateContext(): Promise<void> {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    await vscode.commands.executeCommand("setContext", FILE_ACTIVE_KEY, uri !== undefined && this.fileOn.has(uri));
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
