//! The language server: LSP requests answered from per-file views that background
//! tasks keep current (after typing, after the platform reports a new change, after
//! a reconnection).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::connect::{Connection, Local};
use crate::document::{line_len, Document, Encoding};
use crate::health::Health;
use crate::platform::Conversation;
use crate::settings::{InlayMode, Settings, SettingsExt};
use crate::view::{self, FileView};

/// Commands the server executes (`workspace/executeCommand`), as the protocol names
/// them.
pub use observatory_protocol::lsp::command;

/// What the client said it can do.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Caps {
    pub(crate) code_lens_refresh: bool,
    pub(crate) inlay_hint_refresh: bool,
    pub(crate) show_document: bool,
    pub(crate) work_done_progress: bool,
    /// Hovers in plain text: the client listed hover formats without Markdown
    /// (eglot without markdown-mode asks for `["plaintext"]`).
    pub(crate) plain_hover: bool,
    pub(crate) encoding: Encoding,
    /// One of Observatory's editor extensions, which handles command results itself
    /// (copies the prompt, runs `claude --resume` in a terminal).
    pub(crate) shim: bool,
}

/// An open document and everything kept for it. One entry per open document:
/// `didOpen` creates it and `didClose` drops all of it at once.
pub(crate) struct Doc {
    /// The text as the editor has it.
    pub(crate) document: Document,
    /// Its attribution, rebuilt in the background. An `Arc`, so a request takes a
    /// snapshot and lets go of the map at once.
    pub(crate) view: Option<Arc<FileView>>,
    /// Debounce generation: a scheduled refresh runs only if no newer one was
    /// scheduled meanwhile.
    pub(crate) generation: u64,
    /// The last line the user was on (for the current-line hint).
    pub(crate) cursor: Option<u32>,
    /// A small number standing for this opening of the document in code lens data.
    pub(crate) slot: u64,
}

pub struct State {
    pub(crate) client: Client,
    /// The open documents.
    pub(crate) docs: DashMap<Uri, Doc>,
    /// Views of workspace files agents changed, for `workspace/symbol`.
    pub(crate) workspace: DashMap<PathBuf, Arc<FileView>>,
    pub(crate) conversations: DashMap<String, Arc<Conversation>>,
    /// Event-driven refreshes of open documents and of workspace files.
    pub(crate) event_docs: crate::throttle::Throttle<Uri>,
    pub(crate) event_files: crate::throttle::Throttle<PathBuf>,
    pub(crate) next_generation: AtomicU64,
    /// The platform's first indexing pass is running (`ConnectionStatus::indexing`).
    pub(crate) indexing: AtomicBool,
    pub(crate) next_slot: AtomicU64,
    pub(crate) settings: RwLock<Settings>,
    pub(crate) caps: RwLock<Caps>,
    pub(crate) roots: RwLock<Vec<PathBuf>>,
    pub(crate) conn: RwLock<Option<Arc<Connection>>>,
    pub(crate) health: Mutex<Health>,
    /// What the user was told about the connection since it was last up.
    pub(crate) told: Mutex<crate::health::Told>,
    /// The connection settings changed: reconnect now, even in the middle of a
    /// backoff.
    pub(crate) wake: Notify,
    /// A request found the platform gone or refusing: stop following the stream
    /// and find out (within the backoff; requests do not cut it short).
    pub(crate) interrupt: Notify,
    /// A document's view was stored (for requests that wait for the first one).
    pub(crate) views: Notify,
    pub(crate) local: Local,
    pub(crate) cache_dir: PathBuf,
}

pub struct Backend {
    pub(crate) state: Arc<State>,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::ServerError(-32803),
        message: e.to_string().into(),
        data: None,
    }
}

pub(crate) fn path_of(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}

impl Backend {
    pub fn new(client: Client, local: Local, cache_dir: PathBuf) -> Self {
        Backend {
            state: Arc::new(State {
                client,
                docs: DashMap::new(),
                workspace: DashMap::new(),
                conversations: DashMap::new(),
                event_docs: crate::throttle::Throttle::default(),
                event_files: crate::throttle::Throttle::default(),
                next_generation: AtomicU64::new(1),
                indexing: AtomicBool::new(false),
                next_slot: AtomicU64::new(1),
                settings: RwLock::new(Settings::default().with_env()),
                caps: RwLock::new(Caps::default()),
                roots: RwLock::new(Vec::new()),
                conn: RwLock::new(None),
                health: Mutex::new(Health::Connecting),
                told: Mutex::new(crate::health::Told::default()),
                wake: Notify::new(),
                interrupt: Notify::new(),
                views: Notify::new(),
                local,
                cache_dir,
            }),
        }
    }
}

/// A symbol lens's data is one number: the document's slot, then the symbol's index
/// in these low bits (one number, not an array: a lens per function adds up).
const LENS_INDEX_BITS: u32 = 24;

/// How long a lens request for a just-opened document waits for its first view.
/// Answering at once with nothing leaves the lens to a `codeLens/refresh` round trip,
/// which an editor then debounces (and Neovim 0.11 does not support at all).
const FIRST_VIEW_WAIT: Duration = Duration::from_millis(1500);

/// Files with more changed symbols than this get their symbol lenses' titles through
/// `codeLens/resolve`, for the lenses on screen only.
const EAGER_SYMBOL_LENSES: usize = 200;

fn symbol_lens_command(
    mut lens: CodeLens,
    v: &FileView,
    s: &view::ChangedSymbol,
    now: DateTime<Utc>,
) -> CodeLens {
    if let Some(r) = v.runs.get(s.latest) {
        lens.command = Some(Command {
            title: view::symbol_lens(v, s, now),
            command: command::OPEN_CONVERSATION.into(),
            arguments: Some(vec![json!(r.session_id), json!(r.message_uuid)]),
        });
    }
    lens
}

fn lens(line: u32, title: String, command: &str, args: Vec<Value>) -> CodeLens {
    CodeLens {
        range: Range::new(Position::new(line, 0), Position::new(line, 0)),
        command: Some(Command {
            title,
            command: command.into(),
            arguments: Some(args),
        }),
        data: None,
    }
}

fn arg_str(args: &[Value], i: usize, what: &str) -> Result<String> {
    args.get(i)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid_params(format!("argument {} must be {what}", i + 1)))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let cap = &params.capabilities;
        let encoding = cap
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref())
            .filter(|e| e.contains(&PositionEncodingKind::UTF8))
            .map_or(Encoding::Utf16, |_| Encoding::Utf8);
        let options = params.initialization_options.clone().unwrap_or(Value::Null);
        let caps = Caps {
            code_lens_refresh: cap
                .workspace
                .as_ref()
                .and_then(|w| w.code_lens.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
            inlay_hint_refresh: cap
                .workspace
                .as_ref()
                .and_then(|w| w.inlay_hint.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
            show_document: cap
                .window
                .as_ref()
                .and_then(|w| w.show_document.as_ref())
                .is_some_and(|s| s.support),
            work_done_progress: cap
                .window
                .as_ref()
                .and_then(|w| w.work_done_progress)
                .unwrap_or(false),
            // A client that names no formats gets Markdown, as before: the clients
            // that omit it (older ones) render it, and every current one lists it.
            plain_hover: cap
                .text_document
                .as_ref()
                .and_then(|t| t.hover.as_ref())
                .and_then(|h| h.content_format.as_ref())
                .is_some_and(|formats| !formats.contains(&MarkupKind::Markdown)),
            encoding,
            shim: options
                .get("shim")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        if let Ok(mut c) = self.state.caps.write() {
            *c = caps;
        }
        match Settings::merged(&self.state.settings(), &options) {
            Ok(s) => {
                if let Ok(mut slot) = self.state.settings.write() {
                    *slot = s.with_env();
                }
            }
            Err(e) => return Err(Error::invalid_params(e)),
        }
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| path_of(&f.uri))
            .collect();
        #[allow(deprecated)]
        if roots.is_empty() {
            if let Some(p) = params.root_uri.as_ref().and_then(path_of) {
                roots.push(p);
            }
        }
        if let Ok(mut r) = self.state.roots.write() {
            *r = roots;
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(match encoding {
                    Encoding::Utf8 => PositionEncodingKind::UTF8,
                    Encoding::Utf16 => PositionEncodingKind::UTF16,
                }),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        ..Default::default()
                    },
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(true),
                }),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: command::ALL.iter().map(|c| c.to_string()).collect(),
                    ..Default::default()
                }),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                // What Observatory's editor packages may rely on, versioned.
                experimental: Some(serde_json::json!({
                    "observatory": observatory_protocol::lsp::ExperimentalCapabilities::current()
                })),
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "observatory".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let state = Arc::clone(&self.state);
        tokio::spawn(state.supervise());
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, p: DidOpenTextDocumentParams) {
        let d = p.text_document;
        let document = Document::new(d.text, d.version);
        // Opened again without a close: the same document, with new text.
        match self.state.docs.entry(d.uri.clone()) {
            Entry::Occupied(mut e) => e.get_mut().document = document,
            Entry::Vacant(e) => {
                e.insert(Doc {
                    document,
                    view: None,
                    generation: 0,
                    cursor: None,
                    slot: self.state.next_slot.fetch_add(1, Ordering::Relaxed),
                });
            }
        }
        self.state.schedule(d.uri, Duration::ZERO);
    }

    async fn did_change(&self, p: DidChangeTextDocumentParams) {
        // Applied before any await: tower-lsp runs handlers concurrently, and the next
        // change must find this one in place.
        let uri = p.text_document.uri;
        let enc = self.state.caps().encoding;
        let applied = match self.state.docs.get_mut(&uri) {
            Some(mut d) => d
                .document
                .apply(p.content_changes, p.text_document.version, enc),
            None => {
                tracing::warn!(
                    uri = uri.as_str(),
                    "change to a document that is not open; ignored"
                );
                return;
            }
        };
        if let Err(e) = applied {
            tracing::warn!(uri = uri.as_str(), error = %e, "change refused");
            return;
        }
        let delay = Duration::from_millis(self.state.settings().debounce_ms);
        self.state.schedule(uri, delay);
    }

    async fn did_close(&self, p: DidCloseTextDocumentParams) {
        self.state.docs.remove(&p.text_document.uri);
        self.state.event_docs.forget(&p.text_document.uri);
    }

    async fn did_change_configuration(&self, p: DidChangeConfigurationParams) {
        let before = self.state.settings();
        match Settings::merged(&before, &p.settings) {
            Ok(after) => {
                let reconnect = after.url != before.url || after.api_key != before.api_key;
                if let Ok(mut slot) = self.state.settings.write() {
                    *slot = after;
                }
                if reconnect {
                    if let Ok(mut c) = self.state.conn.write() {
                        *c = None;
                    }
                    self.state.forget_refusal();
                    self.state.set_health(Health::Connecting).await;
                    self.state.wake.notify_one();
                }
                self.state.schedule_all();
                self.state.refresh_client();
            }
            Err(e) => {
                self.state.client.show_message(MessageType::ERROR, e).await;
            }
        }
    }

    async fn hover(&self, p: HoverParams) -> Result<Option<Hover>> {
        if !self.state.settings().hover {
            return Ok(None);
        }
        let pos = p.text_document_position_params;
        let Some(v) = self
            .state
            .move_cursor(&pos.text_document.uri, pos.position.line)
        else {
            return Ok(None);
        };
        let Some(r) = v.run_at(pos.position.line as usize) else {
            return Ok(None);
        };
        let conversation = self
            .state
            .conversations
            .get(&r.session_id)
            .map(|c| Arc::clone(&c));
        let now = Utc::now();
        let contents = if self.state.caps().plain_hover {
            MarkupContent {
                kind: MarkupKind::PlainText,
                value: view::hover_plain(r, conversation.as_deref(), now),
            }
        } else {
            MarkupContent {
                kind: MarkupKind::Markdown,
                value: view::hover(r, conversation.as_deref(), now),
            }
        };
        Ok(Some(Hover {
            contents: HoverContents::Markup(contents),
            range: Some(Range::new(
                Position::new(r.start_line.saturating_sub(1) as u32, 0),
                Position::new(r.end_line.saturating_sub(1) as u32, 0),
            )),
        }))
    }

    async fn code_lens(&self, p: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        if !self.state.settings().code_lens {
            return Ok(None);
        }
        let uri = p.text_document.uri;
        let Some((v, slot)) = self.state.first_view(&uri, FIRST_VIEW_WAIT).await else {
            return Ok(None);
        };
        if let Some(why) = &v.skipped {
            return Ok(Some(vec![lens(0, why.clone(), "", Vec::new())]));
        }
        if v.runs.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let now = Utc::now();
        let ids = v.session_ids();
        let top = if let [only] = ids.as_slice() {
            (command::OPEN_CONVERSATION, vec![json!(only)])
        } else {
            (command::LIST_CONVERSATIONS, vec![json!(uri.as_str())])
        };
        let mut out = vec![lens(0, view::file_lens(&v, now), top.0, top.1)];
        // Titles are cheap, and a lens left to `codeLens/resolve` can stay blank: VS
        // Code reserved the line above `def greet` but never asked to resolve it (seen
        // in code-server 4.100). Only a file with very many changed symbols (a
        // generated one) gets its lenses' text on demand.
        let eager = v.symbols.len() <= EAGER_SYMBOL_LENSES;
        out.extend(v.symbols.iter().enumerate().map(|(i, s)| {
            let line = s.symbol.start_line.saturating_sub(1) as u32;
            let lens = CodeLens {
                range: Range::new(Position::new(line, 0), Position::new(line, 0)),
                command: None,
                data: Some(json!(slot << LENS_INDEX_BITS | i as u64)),
            };
            if eager {
                symbol_lens_command(lens, &v, s, now)
            } else {
                lens
            }
        }));
        Ok(Some(out))
    }

    async fn code_lens_resolve(&self, lens: CodeLens) -> Result<CodeLens> {
        let bad = || Error::invalid_params("not a code lens of this server");
        let data = lens.data.as_ref().and_then(Value::as_u64).ok_or_else(bad)?;
        let (slot, i) = (
            data >> LENS_INDEX_BITS,
            (data & ((1 << LENS_INDEX_BITS) - 1)) as usize,
        );
        let v = self
            .state
            .docs
            .iter()
            .find(|d| d.slot == slot)
            .map(|d| d.view.clone())
            .ok_or_else(bad)?;
        let Some(v) = v else {
            return Err(Error::content_modified());
        };
        // The view changed since the lens was sent: it is about to be refreshed.
        let Some(s) = v.symbols.get(i) else {
            return Err(Error::content_modified());
        };
        Ok(symbol_lens_command(lens, &v, s, Utc::now()))
    }

    async fn inlay_hint(&self, p: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let mode = self.state.settings().inlay_hints;
        if mode == InlayMode::Off {
            return Ok(None);
        }
        // A view of an older version would put its hints on lines that moved since
        // (a line just typed labelled with the agent's change that was there): none
        // until the recomputed view arrives, with its inlay hint refresh.
        let Some((v, text, cursor)) = self.state.docs.get(&p.text_document.uri).and_then(|d| {
            let v = Arc::clone(d.view.as_ref()?);
            (v.version == d.document.version).then(|| (v, d.document.text.clone(), d.cursor))
        }) else {
            return Ok(None);
        };
        let enc = self.state.caps().encoding;
        let now = Utc::now();
        let lines: Vec<u32> = match mode {
            InlayMode::CurrentLine => cursor.into_iter().collect(),
            _ => view::labelled_lines(&v.runs, now)
                .into_iter()
                .map(|l| l as u32)
                .filter(|&l| l >= p.range.start.line && l <= p.range.end.line)
                .collect(),
        };
        let hints = lines
            .into_iter()
            .filter_map(|l| {
                let r = v.run_at(l as usize)?;
                Some(InlayHint {
                    position: Position::new(l, line_len(&text, l as usize, enc)),
                    label: InlayHintLabel::String(view::inlay(r, now)),
                    kind: None,
                    text_edits: None,
                    tooltip: Some(InlayHintTooltip::String(view::inlay_tooltip(r))),
                    padding_left: Some(true),
                    padding_right: None,
                    data: None,
                })
            })
            .collect();
        Ok(Some(hints))
    }

    async fn code_action(&self, p: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        if !self.state.settings().code_actions {
            return Ok(None);
        }
        let uri = p.text_document.uri;
        let Some(v) = self.state.move_cursor(&uri, p.range.start.line) else {
            return Ok(None);
        };
        let path = path_of(&uri)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let runs = v.runs_in(p.range.start.line as usize, p.range.end.line as usize);
        let multi = runs.len() > 1;
        let mut out: Vec<CodeActionOrCommand> = Vec::new();
        let action = |title: String, cmd: &str, args: Vec<Value>| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.clone(),
                command: Some(Command {
                    title,
                    command: cmd.into(),
                    arguments: Some(args),
                }),
                ..Default::default()
            })
        };
        for r in runs {
            let of = if multi {
                format!(" ({})", view::trim(view::label(r), 40))
            } else {
                String::new()
            };
            out.push(action(
                format!("Observatory: open the conversation that wrote this{of}"),
                command::OPEN_CONVERSATION,
                vec![json!(r.session_id), json!(r.message_uuid)],
            ));
            out.push(action(
                format!("Observatory: copy the prompt{of}"),
                command::COPY_PROMPT,
                vec![
                    json!(r.session_id),
                    json!(r.tool_use_id),
                    json!(uri.as_str()),
                ],
            ));
            out.push(action(
                format!("Observatory: show the diff of this edit{of}"),
                command::SHOW_DIFF,
                vec![json!(path), json!(r.tool_use_id)],
            ));
            out.push(action(
                format!("Observatory: resume the conversation in Claude Code{of}"),
                command::RESUME_CONVERSATION,
                vec![json!(r.session_id), json!(r.project)],
            ));
        }
        // Search by the symbol under the cursor (or the enclosing changed symbol).
        let word = self
            .state
            .docs
            .get(&uri)
            .and_then(|d| word_at(&d.document.text, p.range.start, self.state.caps().encoding));
        if let Some(w) = word {
            // The workspace's own conversations first: the project the document's
            // changes were recorded in (the recorded path, which may be another
            // checkout's), else the workspace folder. Every project is one more
            // action away.
            let project = v
                .runs
                .iter()
                .filter_map(|r| r.project.clone())
                .max_by_key(|p| {
                    v.runs
                        .iter()
                        .filter(|r| r.project.as_ref() == Some(p))
                        .count()
                })
                .or_else(|| path_of(&uri).and_then(|p| self.state.root_for(&p)));
            if let Some(p) = project {
                out.push(action(
                    format!("Observatory: search conversations about “{w}” in this project"),
                    command::SEARCH,
                    vec![json!(w), json!(p)],
                ));
            }
            out.push(action(
                format!("Observatory: search conversations about “{w}” in all projects"),
                command::SEARCH,
                vec![json!(w)],
            ));
        }
        Ok(Some(out))
    }

    async fn execute_command(&self, p: ExecuteCommandParams) -> Result<Option<Value>> {
        let args = p.arguments;
        match p.command.as_str() {
            command::OPEN_CONVERSATION => {
                let id = arg_str(&args, 0, "a conversation id")?;
                let message = args.get(1).and_then(Value::as_str).map(str::to_owned);
                self.open_conversation(&id, message.as_deref()).await
            }
            command::LIST_CONVERSATIONS => {
                let uri: Uri = arg_str(&args, 0, "a document URI")?
                    .parse()
                    .map_err(|_| Error::invalid_params("argument 1 must be a document URI"))?;
                self.list_conversations(&uri).await
            }
            command::COPY_PROMPT => {
                let id = arg_str(&args, 0, "a conversation id")?;
                let call = arg_str(&args, 1, "a tool call id")?;
                let prompt = self
                    .state
                    .docs
                    .iter()
                    .find_map(|d| {
                        d.view
                            .as_ref()?
                            .runs
                            .iter()
                            .find(|r| r.session_id == id && r.tool_use_id == call)
                            .and_then(|r| r.prompt.clone())
                    })
                    .ok_or_else(|| Error::invalid_params("no prompt is known for that change"))?;
                if !self.state.caps().shim {
                    // A client without Observatory's extension cannot copy: show it.
                    self.state
                        .client
                        .show_message(MessageType::INFO, format!("Prompt: {prompt}"))
                        .await;
                }
                Ok(crate::commands::result(command::CopiedPrompt { prompt }))
            }
            command::SHOW_DIFF => {
                let path = arg_str(&args, 0, "a file path")?;
                let call = arg_str(&args, 1, "a tool call id")?;
                self.show_diff(&path, &call).await
            }
            command::RESUME_CONVERSATION => {
                let id = arg_str(&args, 0, "a conversation id")?;
                let cwd = args.get(1).and_then(Value::as_str).map(str::to_owned);
                let line = format!("claude --resume {id}");
                if !self.state.caps().shim {
                    let at = cwd
                        .as_deref()
                        .map(|c| format!(" (in {c})"))
                        .unwrap_or_default();
                    self.state
                        .client
                        .show_message(MessageType::INFO, format!("Run in a terminal{at}: {line}"))
                        .await;
                }
                Ok(crate::commands::result(command::Resume {
                    command: "claude".into(),
                    args: vec!["--resume".into(), id],
                    cwd,
                    command_line: line,
                }))
            }
            command::SEARCH => {
                let query = arg_str(&args, 0, "a search query")?;
                let project = args
                    .get(1)
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty());
                self.search_command(&query, project).await
            }
            other => Err(Error::invalid_params(format!("unknown command {other}"))),
        }
    }

    async fn symbol(&self, p: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        let q = p.query.to_lowercase();
        let mut out: Vec<SymbolInformation> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let open: Vec<(PathBuf, Arc<FileView>)> = self
            .state
            .docs
            .iter()
            .filter_map(|e| Some((path_of(e.key())?, Arc::clone(e.view.as_ref()?))))
            .collect();
        let indexed: Vec<(PathBuf, Arc<FileView>)> = self
            .state
            .workspace
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        for (path, v) in open.into_iter().chain(indexed) {
            if !seen.insert(path.clone()) || v.runs.is_empty() {
                continue;
            }
            let Some(uri) = Uri::from_file_path(&path) else {
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let now = Utc::now();
            if name.to_lowercase().contains(&q) {
                #[allow(deprecated)]
                out.push(SymbolInformation {
                    name: name.clone(),
                    kind: SymbolKind::FILE,
                    tags: None,
                    deprecated: None,
                    location: Location::new(uri.clone(), Range::default()),
                    container_name: Some(view::summary(&v, now)),
                });
            }
            for s in &v.symbols {
                if !s.symbol.qualified_name.to_lowercase().contains(&q) {
                    continue;
                }
                let start = s.symbol.start_line.saturating_sub(1) as u32;
                let end = s.symbol.end_line.saturating_sub(1) as u32;
                #[allow(deprecated)]
                out.push(SymbolInformation {
                    name: s.symbol.qualified_name.clone(),
                    kind: lsp_kind(s.symbol.kind),
                    tags: None,
                    deprecated: None,
                    location: Location::new(
                        uri.clone(),
                        Range::new(Position::new(start, 0), Position::new(end, 0)),
                    ),
                    container_name: Some(format!("{} · {}", name, view::symbol_lens(&v, s, now))),
                });
            }
        }
        Ok(Some(WorkspaceSymbolResponse::Flat(out)))
    }
}

fn lsp_kind(k: observatory_symbols::SymbolKind) -> SymbolKind {
    use observatory_symbols::SymbolKind as K;
    match k {
        K::Function => SymbolKind::FUNCTION,
        K::Method => SymbolKind::METHOD,
        K::Class | K::Impl => SymbolKind::CLASS,
        K::Struct => SymbolKind::STRUCT,
        K::Enum => SymbolKind::ENUM,
        K::Trait | K::Interface => SymbolKind::INTERFACE,
        K::Module => SymbolKind::MODULE,
        K::Macro => SymbolKind::FUNCTION,
    }
}

/// The identifier at `pos`, if any.
fn word_at(text: &str, pos: Position, enc: Encoding) -> Option<String> {
    let at = crate::document::offset(text, pos, enc).ok()?;
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start = text[..at]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(at, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .find(|(_, c)| !is_word(*c))
        .map_or(text.len(), |(i, _)| at + i);
    let w = &text[start..end];
    (w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit())).then(|| w.to_owned())
}
