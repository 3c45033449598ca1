//! The language server: LSP requests answered from per-file views that background
//! tasks keep current (after typing, after the platform reports a new change, after
//! a reconnection).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use dashmap::DashMap;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::connect::{self, Connection, Local, Source};
use crate::document::{line_len, Document, Encoding};
use crate::platform::{Conversation, Platform, PlatformError};
use crate::settings::{InlayMode, Settings};
use crate::view::{self, FileView};

/// Commands the server executes (`workspace/executeCommand`).
pub mod command {
    pub const OPEN_CONVERSATION: &str = "observatory.openConversation";
    pub const LIST_CONVERSATIONS: &str = "observatory.listConversations";
    pub const COPY_PROMPT: &str = "observatory.copyPrompt";
    pub const SHOW_DIFF: &str = "observatory.showDiff";
    pub const RESUME: &str = "observatory.resumeConversation";
    pub const SEARCH: &str = "observatory.search";
    pub const ALL: [&str; 6] = [
        OPEN_CONVERSATION,
        LIST_CONVERSATIONS,
        COPY_PROMPT,
        SHOW_DIFF,
        RESUME,
        SEARCH,
    ];
}

/// What the client said it can do.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    code_lens_refresh: bool,
    inlay_hint_refresh: bool,
    show_document: bool,
    work_done_progress: bool,
    encoding: Encoding,
    /// One of Observatory's editor extensions, which handles command results itself
    /// (copies the prompt, runs `claude --resume` in a terminal).
    shim: bool,
}

pub struct State {
    client: Client,
    docs: DashMap<Uri, Document>,
    views: DashMap<Uri, Arc<FileView>>,
    /// Views of workspace files agents changed, for `workspace/symbol`.
    workspace: DashMap<PathBuf, Arc<FileView>>,
    conversations: DashMap<String, Arc<Conversation>>,
    /// Debounce generations: a refresh runs only if no newer one was scheduled.
    generations: DashMap<Uri, u64>,
    next_generation: AtomicU64,
    /// Small numbers standing for documents in code lens data.
    slots: DashMap<u64, Uri>,
    slot_of: DashMap<Uri, u64>,
    /// The last line the user was on, per document (for the current-line hint).
    cursor: DashMap<Uri, u32>,
    settings: RwLock<Settings>,
    caps: RwLock<Caps>,
    roots: RwLock<Vec<PathBuf>>,
    conn: RwLock<Option<Arc<Connection>>>,
    online: AtomicBool,
    /// Set when the connection must be re-established (settings changed, a request
    /// found the platform down).
    wake: Notify,
    local: Local,
    cache_dir: PathBuf,
}

pub struct Backend {
    state: Arc<State>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::ServerError(-32803),
        message: e.to_string().into(),
        data: None,
    }
}

fn path_of(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}

impl Backend {
    pub fn new(client: Client, local: Local, cache_dir: PathBuf) -> Self {
        Backend {
            state: Arc::new(State {
                client,
                docs: DashMap::new(),
                views: DashMap::new(),
                workspace: DashMap::new(),
                conversations: DashMap::new(),
                generations: DashMap::new(),
                next_generation: AtomicU64::new(1),
                cursor: DashMap::new(),
                slots: DashMap::new(),
                slot_of: DashMap::new(),
                settings: RwLock::new(Settings::default().with_env()),
                caps: RwLock::new(Caps::default()),
                roots: RwLock::new(Vec::new()),
                conn: RwLock::new(None),
                online: AtomicBool::new(false),
                wake: Notify::new(),
                local,
                cache_dir,
            }),
        }
    }

    // Custom requests (documented in docs/lsp.md).

    pub async fn search(&self, p: Value) -> Result<Value> {
        let query = p
            .get("query")
            .and_then(Value::as_str)
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| Error::invalid_params("`query` (a non-empty string) is required"))?;
        let mut q: Vec<(&str, String)> = vec![("q", query.to_owned())];
        q.extend(query_params(
            &p,
            &[
                "project", "file", "limit", "offset", "role", "kind", "tool", "model",
            ],
        )?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state.answer(platform.search(&pairs).await)
    }

    pub async fn conversations(&self, p: Value) -> Result<Value> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(uri) = p.pointer("/textDocument/uri").and_then(Value::as_str) {
            let uri: Uri = uri
                .parse()
                .map_err(|_| Error::invalid_params("`textDocument.uri` is not a URI"))?;
            let path = path_of(&uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
            q.push(("file", self.state.recorded_form(&path)));
        }
        q.extend(query_params(
            &p,
            &[
                "project", "file", "q", "limit", "cursor", "since", "until", "model",
            ],
        )?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state.answer(platform.conversations(&pairs).await)
    }

    pub async fn file_insights(&self, p: TextDocumentIdentifier) -> Result<Value> {
        let path = path_of(&p.uri).ok_or_else(|| Error::invalid_params("not a file URI"))?;
        let platform = self.state.platform()?;
        self.state.answer(
            platform
                .file_insights(&self.state.recorded_form(&path))
                .await,
        )
    }

    /// The attribution of the document as the editor has it now.
    pub async fn blame(&self, p: TextDocumentIdentifier) -> Result<Value> {
        let Some(v) = self.state.views.get(&p.uri).map(|v| Arc::clone(&v)) else {
            return Ok(json!({"runs": [], "pending": true}));
        };
        Ok(json!({
            "version": v.version,
            "attributedLines": v.attributed_lines,
            "conversations": v.conversations,
            "skipped": v.skipped,
            "runs": v.runs,
            "symbols": v.symbols.iter().map(|s| json!({
                "name": s.symbol.qualified_name,
                "kind": s.symbol.kind,
                "startLine": s.symbol.start_line,
                "endLine": s.symbol.end_line,
                "latest": v.runs[s.latest],
                "conversations": s.conversations,
                "lines": s.lines,
            })).collect::<Vec<_>>(),
        }))
    }

    /// `observatory/didChangeCursor`: where the user is, for the current-line hint.
    pub async fn did_change_cursor(&self, p: TextDocumentPositionParams) {
        let line = p.position.line;
        let old = self.state.cursor.insert(p.text_document.uri, line);
        let mode = self.state.settings().inlay_hints;
        if mode == InlayMode::CurrentLine && old != Some(line) {
            self.state.refresh_client().await;
        }
    }

    /// `observatory/symbolChanges`: which conversations changed a symbol, anywhere.
    pub async fn symbol_changes(&self, p: Value) -> Result<Value> {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| Error::invalid_params("`name` (a non-empty string) is required"))?;
        let mut q = vec![("name", name.to_owned())];
        q.extend(query_params(&p, &["limit"])?);
        let platform = self.state.platform()?;
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.state
            .answer(platform.get_raw("/symbols", &pairs).await)
    }

    /// `observatory/status`: the connection as it is now.
    pub async fn status(&self, _: Value) -> Result<Value> {
        Ok(self.state.status_value(None))
    }
}

impl State {
    fn slot(&self, uri: &Uri) -> u64 {
        *self.slot_of.entry(uri.clone()).or_insert_with(|| {
            let n = self.next_generation.fetch_add(1, Ordering::Relaxed);
            self.slots.insert(n, uri.clone());
            n
        })
    }

    fn settings(&self) -> Settings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn caps(&self) -> Caps {
        self.caps.read().map(|c| *c).unwrap_or_default()
    }

    fn connection(&self) -> Option<Arc<Connection>> {
        self.conn.read().ok().and_then(|c| c.clone())
    }

    fn platform(&self) -> Result<Platform> {
        self.connection()
            .map(|c| c.platform.clone())
            .ok_or_else(|| internal("not connected to the Observatory platform yet"))
    }

    /// A platform answer, or a request error; an unreachable platform also starts
    /// reconnecting.
    fn answer<T>(&self, r: std::result::Result<T, PlatformError>) -> Result<T> {
        r.map_err(|e| {
            if e.is_unreachable() {
                self.lost(&e);
            }
            internal(e)
        })
    }

    fn lost(&self, e: &PlatformError) {
        tracing::warn!(error = %e, "platform request failed");
        self.wake.notify_one();
    }

    fn status_value(&self, message: Option<&str>) -> Value {
        let conn = self.connection();
        json!({
            "state": if self.online.load(Ordering::Relaxed) { "connected" } else if conn.is_some() { "offline" } else { "connecting" },
            "url": conn.as_ref().map(|c| c.platform.url.clone()),
            "source": conn.as_ref().map(|c| c.source),
            "message": message,
        })
    }

    async fn send_status(&self, message: Option<&str>) {
        self.client
            .send_notification::<StatusNotification>(self.status_value(message))
            .await;
    }

    async fn set_online(&self, url: &str) {
        if !self.online.swap(true, Ordering::Relaxed) {
            tracing::info!(url, "connected to the platform");
            self.send_status(None).await;
        }
    }

    /// Reported once per outage: a message, then the status notification.
    async fn set_offline(&self, why: &str) {
        if self.online.swap(false, Ordering::Relaxed) || self.connection().is_none() {
            let text = format!(
                "Observatory: {why}. Showing what was already loaded; reconnecting in the background."
            );
            self.client.show_message(MessageType::WARNING, &text).await;
            self.send_status(Some(why)).await;
        }
    }

    /// How to name a local file to the platform's path filters: relative to its
    /// workspace folder (matched as a suffix, so transcripts from another checkout or
    /// machine count), or absolute outside any folder.
    fn recorded_form(&self, path: &Path) -> String {
        self.root_for(path)
            .and_then(|root| {
                path.strip_prefix(root)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            })
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| path.to_string_lossy().into_owned())
    }

    fn root_for(&self, path: &Path) -> Option<String> {
        let roots = self.roots.read().ok()?;
        roots
            .iter()
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .map(|r| r.to_string_lossy().into_owned())
    }

    /// Asks the client to fetch lenses and hints again.
    async fn refresh_client(&self) {
        let caps = self.caps();
        if caps.code_lens_refresh {
            let _ = self.client.code_lens_refresh().await;
        }
        if caps.inlay_hint_refresh {
            let _ = self.client.inlay_hint_refresh().await;
        }
    }

    /// Recomputes `uri`'s view after `delay`, unless another refresh is scheduled
    /// meanwhile.
    fn schedule(self: &Arc<Self>, uri: Uri, delay: Duration) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        self.generations.insert(uri.clone(), generation);
        let state = Arc::clone(self);
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if state.generations.get(&uri).map(|g| *g) != Some(generation) {
                return;
            }
            if state.compute(&uri).await {
                state
                    .client
                    .send_notification::<InsightsChanged>(json!({"uri": uri.as_str()}))
                    .await;
                state.refresh_client().await;
            }
        });
    }

    fn schedule_all(self: &Arc<Self>) {
        let uris: Vec<Uri> = self.docs.iter().map(|d| d.key().clone()).collect();
        for uri in uris {
            self.schedule(uri, Duration::ZERO);
        }
    }

    /// Computes the view of an open document; true when it changed.
    async fn compute(&self, uri: &Uri) -> bool {
        let Some((text, version)) = self.docs.get(uri).map(|d| (d.text.clone(), d.version)) else {
            return false;
        };
        let Some(path) = path_of(uri) else {
            return false;
        };
        let max = self.settings().max_file_bytes;
        if text.len() > max {
            let why = format!(
                "Observatory: not attributed, the file is larger than {} KB (setting maxFileBytes)",
                max / 1024
            );
            self.views
                .insert(uri.clone(), Arc::new(FileView::skipped(version, why)));
            return true;
        }
        let Some(view) = self.view_of(&path, &text, version).await else {
            return false;
        };
        self.views.insert(uri.clone(), Arc::new(view));
        true
    }

    async fn view_of(&self, path: &Path, text: &str, version: i32) -> Option<FileView> {
        let platform = self.connection()?.platform.clone();
        let root = self.root_for(path);
        let blame = match platform
            .blame(&path.to_string_lossy(), root.as_deref(), text)
            .await
        {
            Ok(b) => b,
            Err(e) => {
                if e.is_unreachable() {
                    self.lost(&e);
                } else {
                    tracing::warn!(path = %path.display(), error = %e, "attribution failed");
                }
                return None;
            }
        };
        let view = FileView::new(version, path, text, blame);
        // Hover shows each conversation's tokens: fetch them now, not while the user
        // waits on a hover.
        for id in view.session_ids() {
            if !self.conversations.contains_key(&id) {
                match platform.conversation(&id).await {
                    Ok(c) => {
                        self.conversations.insert(id, Arc::new(c));
                    }
                    Err(e) => tracing::debug!(session = %id, error = %e, "no conversation summary"),
                }
            }
        }
        Some(view)
    }

    /// Views of the workspace files agents changed, for `workspace/symbol`.
    async fn index_workspace(&self) {
        let Some(conn) = self.connection() else {
            return;
        };
        let roots = self.roots.read().map(|r| r.clone()).unwrap_or_default();
        for root in roots {
            let project = root.to_string_lossy().into_owned();
            let files: Value = match conn
                .platform
                .get_raw(
                    "/analytics/files",
                    &[("project", &project), ("limit", "200")],
                )
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(error = %e, "no workspace file list");
                    continue;
                }
            };
            for f in files.as_array().into_iter().flatten() {
                let Some(p) = f.get("path").and_then(Value::as_str) else {
                    continue;
                };
                let path = PathBuf::from(p);
                if path.starts_with(&root) {
                    self.index_file(&path).await;
                }
            }
        }
    }

    async fn index_file(&self, path: &Path) {
        let Ok(text) = tokio::fs::read_to_string(path).await else {
            self.workspace.remove(path);
            return;
        };
        if text.len() > self.settings().max_file_bytes {
            return;
        }
        if let Some(v) = self.view_of(path, &text, 0).await {
            self.workspace.insert(path.to_path_buf(), Arc::new(v));
        }
    }

    /// A recorded change touched `path`: recompute the open documents that are
    /// that file (matched by name: the platform matches the rest) and its workspace
    /// entry.
    async fn changed(self: &Arc<Self>, path: &str) {
        let name = Path::new(path).file_name();
        let uris: Vec<Uri> = self
            .docs
            .iter()
            .filter(|d| path_of(d.key()).is_some_and(|p| p.file_name() == name))
            .map(|d| d.key().clone())
            .collect();
        for uri in uris {
            self.schedule(uri, Duration::ZERO);
        }
        let local = PathBuf::from(path);
        if self.root_for(&local).is_some() {
            self.index_file(&local).await;
        }
    }

    /// Connects, keeps the event stream open, and reconnects with backoff.
    async fn supervise(self: Arc<Self>) {
        let mut backoff = backoff();
        let mut last_event: Option<i64> = None;
        let mut first = true;
        loop {
            let settings = self.settings();
            let healthy = match self.connection() {
                Some(c) => c.platform.healthy().await,
                None => false,
            };
            if !healthy {
                let attempt = match &settings.url {
                    Some(url) => {
                        let c = connect::configured(url, settings.api_key.as_deref(), &self.local);
                        if c.platform.healthy().await {
                            Ok(c)
                        } else {
                            Err(anyhow::anyhow!("the platform at {url} does not answer"))
                        }
                    }
                    None => connect::local(&self.local).await,
                };
                match attempt {
                    Ok(c) => {
                        if let Ok(mut slot) = self.conn.write() {
                            *slot = Some(Arc::new(c));
                        }
                    }
                    Err(e) => {
                        self.set_offline(&format!("{e:#}")).await;
                        let wait = backoff.next().unwrap_or(Duration::from_secs(30));
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = self.wake.notified() => {}
                        }
                        continue;
                    }
                }
            }
            let Some(conn) = self.connection() else {
                continue;
            };
            backoff = crate::server::backoff();
            let was_online = self.online.load(Ordering::Relaxed);
            self.set_online(&conn.platform.url).await;
            if first {
                first = false;
                let state = Arc::clone(&self);
                let platform = conn.platform.clone();
                tokio::spawn(async move { state.first_index(platform).await });
            } else if !was_online {
                // Back after an outage: what changed meanwhile is fetched again.
                self.schedule_all();
                self.index_workspace().await;
            }
            let reason = crate::stream::follow(&conn.platform, &mut last_event, &self.wake, |e| {
                let state = Arc::clone(&self);
                async move {
                    // The conversation grew: its token count in hovers is stale.
                    if let Some(id) = &e.session_id {
                        state.conversations.remove(id);
                    }
                    if let Some(p) = &e.path {
                        state.changed(p).await;
                    }
                }
            })
            .await;
            tracing::info!(reason = %reason, "event stream ended");
            if !conn.platform.healthy().await {
                self.set_offline(&format!(
                    "the platform at {} stopped answering",
                    conn.platform.url
                ))
                .await;
                if let Ok(mut slot) = self.conn.write() {
                    // Keep the old one for its URL in the status until a new one is up.
                    if slot
                        .as_ref()
                        .is_some_and(|c| c.source != Source::Configured)
                    {
                        *slot = Some(conn);
                    }
                }
                let wait = backoff.next().unwrap_or(Duration::from_secs(30));
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// The first connection: progress while the platform finishes its first
    /// indexing pass, then every view.
    async fn first_index(self: Arc<Self>, platform: Platform) {
        if !platform.ready().await {
            let caps = self.caps();
            let token = ProgressToken::String("observatory/indexing".into());
            let progress = if caps.work_done_progress
                && self
                    .client
                    .create_work_done_progress(token.clone())
                    .await
                    .is_ok()
            {
                Some(
                    self.client
                        .progress(token, "Observatory")
                        .with_message("indexing Claude Code transcripts…")
                        .begin()
                        .await,
                )
            } else {
                None
            };
            let mut waited = 0;
            while !platform.ready().await && waited < 3600 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                waited += 1;
                // Views of open files fill in as indexing goes.
                if waited % 20 == 0 {
                    self.schedule_all();
                }
            }
            if let Some(p) = progress {
                p.finish_with_message("transcripts indexed").await;
            }
        }
        self.schedule_all();
        self.index_workspace().await;
    }
}

pub(crate) fn backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

/// A symbol lens's data is one number: the document's slot, then the symbol's index
/// in these low bits (one number, not an array: a lens per function adds up).
const LENS_INDEX_BITS: u32 = 24;

/// `observatory/status`, sent when the connection changes.
pub enum StatusNotification {}

impl notification::Notification for StatusNotification {
    type Params = Value;
    const METHOD: &'static str = "observatory/status";
}

/// `observatory/didChangeInsights`: a document's insights changed, for clients that
/// cannot be asked to refresh code lenses (their extensions refresh on it).
pub enum InsightsChanged {}

impl notification::Notification for InsightsChanged {
    type Params = Value;
    const METHOD: &'static str = "observatory/didChangeInsights";
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

/// The listed keys of a custom request's parameters, as query parameters for the
/// platform (strings and numbers; anything else is refused, naming the key).
fn query_params(p: &Value, keys: &[&'static str]) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for &key in keys {
        match p.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.push((key, s.clone())),
            Some(Value::Number(n)) => out.push((key, n.to_string())),
            Some(_) => {
                return Err(Error::invalid_params(format!(
                    "`{key}` must be a string or a number"
                )))
            }
        }
    }
    Ok(out)
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
        self.state.docs.insert(
            d.uri.clone(),
            Document::new(d.text, d.version, d.language_id),
        );
        self.state.schedule(d.uri, Duration::ZERO);
    }

    async fn did_change(&self, p: DidChangeTextDocumentParams) {
        // Applied before any await: tower-lsp runs handlers concurrently, and the next
        // change must find this one in place.
        let uri = p.text_document.uri;
        let enc = self.state.caps().encoding;
        let applied = match self.state.docs.get_mut(&uri) {
            Some(mut d) => d.apply(p.content_changes, p.text_document.version, enc),
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
        let uri = p.text_document.uri;
        self.state.docs.remove(&uri);
        self.state.views.remove(&uri);
        self.state.generations.remove(&uri);
        self.state.cursor.remove(&uri);
        if let Some((_, slot)) = self.state.slot_of.remove(&uri) {
            self.state.slots.remove(&slot);
        }
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
                    self.state.online.store(false, Ordering::Relaxed);
                    self.state.wake.notify_one();
                }
                self.state.schedule_all();
                self.state.refresh_client().await;
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
        let uri = pos.text_document.uri;
        self.state.cursor.insert(uri.clone(), pos.position.line);
        let Some(v) = self.state.views.get(&uri).map(|v| Arc::clone(&v)) else {
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
        Ok(Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: view::hover(r, conversation.as_deref(), Utc::now()),
            }),
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
        let Some(v) = self.state.views.get(&uri).map(|v| Arc::clone(&v)) else {
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
        let mut out = vec![lens(0, view::summary(&v, now), top.0, top.1)];
        // A file agents wrote whole has a lens per function: send only where they
        // are, and their text when the editor shows them (codeLens/resolve).
        let slot = self.state.slot(&uri);
        out.extend(v.symbols.iter().enumerate().map(|(i, s)| {
            let line = s.symbol.start_line.saturating_sub(1) as u32;
            CodeLens {
                range: Range::new(Position::new(line, 0), Position::new(line, 0)),
                command: None,
                data: Some(json!(slot << LENS_INDEX_BITS | i as u64)),
            }
        }));
        Ok(Some(out))
    }

    async fn code_lens_resolve(&self, mut lens: CodeLens) -> Result<CodeLens> {
        let bad = || Error::invalid_params("not a code lens of this server");
        let data = lens.data.as_ref().and_then(Value::as_u64).ok_or_else(bad)?;
        let (slot, i) = (
            data >> LENS_INDEX_BITS,
            (data & ((1 << LENS_INDEX_BITS) - 1)) as usize,
        );
        let uri = self
            .state
            .slots
            .get(&slot)
            .map(|u| u.clone())
            .ok_or_else(bad)?;
        let Some(v) = self.state.views.get(&uri).map(|v| Arc::clone(&v)) else {
            return Err(Error::content_modified());
        };
        // The view changed since the lens was sent: it is about to be refreshed.
        let Some(s) = v.symbols.get(i) else {
            return Err(Error::content_modified());
        };
        let r = &v.runs[s.latest];
        lens.command = Some(Command {
            title: view::symbol_lens(&v, s, Utc::now()),
            command: command::OPEN_CONVERSATION.into(),
            arguments: Some(vec![json!(r.session_id), json!(r.message_uuid)]),
        });
        Ok(lens)
    }

    async fn inlay_hint(&self, p: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let mode = self.state.settings().inlay_hints;
        if mode == InlayMode::Off {
            return Ok(None);
        }
        let uri = p.text_document.uri;
        let Some(v) = self.state.views.get(&uri).map(|v| Arc::clone(&v)) else {
            return Ok(None);
        };
        let Some(text) = self.state.docs.get(&uri).map(|d| d.text.clone()) else {
            return Ok(None);
        };
        let enc = self.state.caps().encoding;
        let now = Utc::now();
        let lines: Vec<u32> = match mode {
            InlayMode::CurrentLine => self
                .state
                .cursor
                .get(&uri)
                .map(|l| vec![*l])
                .unwrap_or_default(),
            _ => v
                .runs
                .iter()
                .map(|r| r.start_line.saturating_sub(1) as u32)
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
                    tooltip: r.prompt.as_ref().map(|p| {
                        InlayHintTooltip::String(format!("Prompt: {}", view::trim(p, 300)))
                    }),
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
        self.state.cursor.insert(uri.clone(), p.range.start.line);
        let Some(v) = self.state.views.get(&uri).map(|v| Arc::clone(&v)) else {
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
                format!(" ({})", view::trim(&r.conversation_title, 40))
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
                command::RESUME,
                vec![json!(r.session_id), json!(r.project)],
            ));
        }
        // Search by the symbol under the cursor (or the enclosing changed symbol).
        let word = self
            .state
            .docs
            .get(&uri)
            .and_then(|d| word_at(&d.text, p.range.start, self.state.caps().encoding));
        if let Some(w) = word {
            out.push(action(
                format!("Observatory: search conversations about `{w}`"),
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
                    .views
                    .iter()
                    .find_map(|v| {
                        v.runs
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
                Ok(Some(json!({"prompt": prompt})))
            }
            command::SHOW_DIFF => {
                let path = arg_str(&args, 0, "a file path")?;
                let call = arg_str(&args, 1, "a tool call id")?;
                self.show_diff(&path, &call).await
            }
            command::RESUME => {
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
                Ok(Some(
                    json!({"command": "claude", "args": ["--resume", id], "cwd": cwd, "commandLine": line}),
                ))
            }
            command::SEARCH => {
                let query = arg_str(&args, 0, "a search query")?;
                self.search_command(&query).await
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
            .views
            .iter()
            .filter_map(|e| Some((path_of(e.key())?, Arc::clone(e.value()))))
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

fn lsp_kind(k: observatory_attribution::symbols::SymbolKind) -> SymbolKind {
    use observatory_attribution::symbols::SymbolKind as K;
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

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ':')
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

impl Backend {
    /// Writes `text` to the cache and asks the client to show it.
    async fn show(&self, name: &str, text: &str, line: u32) -> Result<Option<Value>> {
        let dir = &self.state.cache_dir;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| internal(format!("creating {}: {e}", dir.display())))?;
        let file = dir.join(name);
        tokio::fs::write(&file, text)
            .await
            .map_err(|e| internal(format!("writing {}: {e}", file.display())))?;
        let uri =
            Uri::from_file_path(&file).ok_or_else(|| internal("cache path is not absolute"))?;
        let shown = if self.state.caps().show_document {
            self.state
                .client
                .show_document(ShowDocumentParams {
                    uri: uri.clone(),
                    external: Some(false),
                    take_focus: Some(true),
                    selection: Some(Range::new(Position::new(line, 0), Position::new(line, 0))),
                })
                .await
                .unwrap_or(false)
        } else {
            false
        };
        if !shown {
            self.state
                .client
                .show_message(
                    MessageType::INFO,
                    format!("Observatory: written to {}", file.display()),
                )
                .await;
        }
        Ok(Some(
            json!({"uri": uri.as_str(), "path": file, "line": line, "shown": shown}),
        ))
    }

    async fn open_conversation(&self, id: &str, message: Option<&str>) -> Result<Option<Value>> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid_params(format!(
                "{id:?} is not a conversation id"
            )));
        }
        let platform = self.state.platform()?;
        let md = self.state.answer(platform.markdown(id).await)?;
        // The message's own line when the rendering names it; else the top.
        let line = message
            .and_then(|m| md.lines().position(|l| l.contains(m)))
            .unwrap_or(0) as u32;
        self.show(&format!("conversation-{id}.md"), &md, line).await
    }

    async fn list_conversations(&self, uri: &Uri) -> Result<Option<Value>> {
        let v = self
            .state
            .views
            .get(uri)
            .map(|v| Arc::clone(&v))
            .ok_or_else(|| Error::invalid_params("that document is not open"))?;
        let name = path_of(uri)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let now = Utc::now();
        let mut md = format!("# Agent conversations that wrote {name}\n\n");
        for id in v.session_ids() {
            let runs: Vec<_> = v.runs.iter().filter(|r| r.session_id == id).collect();
            let lines: usize = runs.iter().map(|r| r.end_line + 1 - r.start_line).sum();
            let last = runs.iter().filter_map(|r| r.at).max();
            let title = runs
                .first()
                .map(|r| r.conversation_title.clone())
                .unwrap_or_default();
            md.push_str(&format!(
                "## {title}\n\n{lines} lines · last {} · `{id}`\n\n",
                view::ago(last, now)
            ));
            if let Some(p) = runs.iter().rev().find_map(|r| r.prompt.as_ref()) {
                md.push_str(&format!("> {}\n\n", view::trim(p, 300)));
            }
            md.push_str(&format!("Open: run the command `observatory.openConversation` with `{id}`, or `claude --resume {id}`\n\n"));
        }
        self.show(&format!("conversations-{name}.md"), &md, 0).await
    }

    async fn show_diff(&self, path: &str, call: &str) -> Result<Option<Value>> {
        let platform = self.state.platform()?;
        // Recorded paths are the agent's (another checkout, another machine): ask by
        // file name and pick the call.
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned());
        let touches = self.state.answer(platform.touches(&name).await)?;
        let t = touches
            .iter()
            .find(|t| t.tool_use_id == call)
            .ok_or_else(|| Error::invalid_params(format!("no recorded change {call} of {path}")))?;
        let change = t.change.clone().unwrap_or_default();
        let mut diff = format!(
            "# {} · {} · {}\n--- a{}\n+++ b{}\n",
            t.conversation_title,
            t.tool,
            t.at.map(|a| a.to_rfc3339()).unwrap_or_default(),
            t.path,
            t.path
        );
        if !change.hunks.is_empty() {
            for h in &change.hunks {
                diff.push_str(&format!(
                    "@@ -{},{} +{},{} @@\n",
                    h.old_start, h.old_lines, h.new_start, h.new_lines
                ));
                for l in &h.lines {
                    diff.push_str(l);
                    diff.push('\n');
                }
            }
        } else if !change.edits.is_empty() {
            for e in &change.edits {
                diff.push_str("@@ @@\n");
                for l in e.old_string.lines() {
                    diff.push_str(&format!("-{l}\n"));
                }
                for l in e.new_string.lines() {
                    diff.push_str(&format!("+{l}\n"));
                }
            }
        } else if let Some(c) = &change.content {
            diff.push_str("@@ @@\n");
            for l in c.lines() {
                diff.push_str(&format!("+{l}\n"));
            }
        }
        self.show(&format!("change-{call}.diff"), &diff, 0).await
    }

    async fn search_command(&self, query: &str) -> Result<Option<Value>> {
        let platform = self.state.platform()?;
        let page = self
            .state
            .answer(platform.search(&[("q", query), ("limit", "20")]).await)?;
        // An identifier: first the recorded changes inside a symbol of that name.
        let changes = if is_identifier(query) {
            self.state.answer(
                platform
                    .get_raw("/symbols", &[("name", query), ("limit", "20")])
                    .await,
            )?
        } else {
            json!([])
        };
        let mut md = format!("# Conversations about `{query}`\n\n");
        let rows = changes.as_array().cloned().unwrap_or_default();
        if !rows.is_empty() {
            md.push_str(&format!("## Changes to `{query}`\n\n"));
            for r in &rows {
                let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
                let lines: Vec<u64> = r
                    .get("lines")
                    .and_then(Value::as_array)
                    .map(|l| l.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                let span = match (lines.first(), lines.last()) {
                    (Some(a), Some(b)) if a != b => format!(":{a}-{b}"),
                    (Some(a), _) => format!(":{a}"),
                    _ => String::new(),
                };
                md.push_str(&format!(
                    "- **{}** · {} `{}` in `{}{span}` · {} · `{}`\n",
                    field("conversation_title"),
                    field("tool"),
                    field("symbol"),
                    field("path"),
                    field("at"),
                    field("session_id"),
                ));
            }
            md.push_str("\n## Mentions\n\n");
        }
        let hits = page
            .get("hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if hits.is_empty() {
            md.push_str("No conversation mentions it.\n");
        }
        for h in &hits {
            let title = h
                .get("conversation_title")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = h
                .get("session_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let snippet = h.get("snippet").and_then(Value::as_str).unwrap_or_default();
            md.push_str(&format!(
                "## {title}\n\n`{id}`\n\n> {}\n\n",
                snippet
                    .replace("<mark>", "**")
                    .replace("</mark>", "**")
                    .replace('\n', " ")
            ));
        }
        let safe: String = query
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let shown = self.show(&format!("search-{safe}.md"), &md, 0).await?;
        Ok(Some(
            json!({"results": page, "symbolChanges": changes, "document": shown}),
        ))
    }
}
