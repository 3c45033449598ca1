//! The server's state and the background work that keeps it current: per-file views
//! recomputed after typing or a recorded change, and the connection to the platform
//! (connect, follow the event stream, reconnect with backoff, report outages once).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use observatory_protocol::lsp;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::connect::{self, ConfigError, Connection};
use crate::health::{Health, Refusal, RefusalReason};
use crate::platform::Platform;
use crate::server::{internal, path_of, Caps, State};
use crate::settings::Settings;
use crate::stream::OpenError;
use crate::view::FileView;

impl State {
    /// The current view of an open document: a snapshot, the map is let go at once.
    pub(crate) fn view(&self, uri: &Uri) -> Option<Arc<FileView>> {
        self.docs.get(uri).and_then(|d| d.view.clone())
    }

    /// Notes the line the user is on in an open document, and returns its view.
    pub(crate) fn move_cursor(&self, uri: &Uri, line: u32) -> Option<Arc<FileView>> {
        let mut d = self.docs.get_mut(uri)?;
        d.cursor = Some(line);
        d.view.clone()
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn caps(&self) -> Caps {
        self.caps.read().map(|c| *c).unwrap_or_default()
    }

    pub(crate) fn connection(&self) -> Option<Arc<Connection>> {
        self.conn.read().ok().and_then(|c| c.clone())
    }

    /// The platform, for a request. While it refuses this client, requests are not
    /// sent at all: only the supervisor asks again, at its backoff's pace.
    pub(crate) fn platform(&self) -> Result<Platform> {
        if let Health::Refused(r) = self.health() {
            return Err(internal(format!("Observatory: {}", r.message)));
        }
        self.connection()
            .map(|c| c.platform.clone())
            .ok_or_else(|| internal("not connected to the Observatory platform yet"))
    }

    /// How to name a local file to the platform's path filters: relative to its
    /// workspace folder (matched as a suffix, so transcripts from another checkout or
    /// machine count), or absolute outside any folder.
    pub(crate) fn recorded_form(&self, path: &Path) -> String {
        self.root_for(path)
            .and_then(|root| {
                path.strip_prefix(root)
                    .ok()
                    .map(|r| r.to_string_lossy().into_owned())
            })
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| path.to_string_lossy().into_owned())
    }

    pub(crate) fn root_for(&self, path: &Path) -> Option<String> {
        let roots = self.roots.read().ok()?;
        roots
            .iter()
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .map(|r| r.to_string_lossy().into_owned())
    }

    /// Asks the client to fetch lenses and hints again, without waiting for its
    /// answers: a handler awaiting them (a cursor move) held one of the session's
    /// few concurrent slots for as long as the client took.
    pub(crate) fn refresh_client(&self) {
        let caps = self.caps();
        let client = self.client.clone();
        tokio::spawn(async move {
            if caps.code_lens_refresh {
                let _ = client.code_lens_refresh().await;
            }
            if caps.inlay_hint_refresh {
                let _ = client.inlay_hint_refresh().await;
            }
        });
    }

    /// Recomputes `uri`'s view after `delay`, unless another refresh is scheduled
    /// meanwhile or the document is closed.
    pub(crate) fn schedule(self: &Arc<Self>, uri: Uri, delay: Duration) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        match self.docs.get_mut(&uri) {
            Some(mut d) => d.generation = generation,
            None => return,
        }
        let state = Arc::clone(self);
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if state.docs.get(&uri).map(|d| d.generation) != Some(generation) {
                return;
            }
            if state.compute(&uri).await {
                state
                    .client
                    .send_notification::<InsightsChanged>(lsp::TextDocument {
                        uri: uri.as_str().to_owned(),
                    })
                    .await;
                state.refresh_client();
            }
        });
    }

    /// Recomputes `uri`'s view for an event about it (see `throttle`).
    fn refresh_for_event(self: &Arc<Self>, uri: Uri) {
        let Some(wait) = self.event_docs.wait(&uri) else {
            return;
        };
        let state = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            state.event_docs.start(&uri);
            state.schedule(uri, Duration::ZERO);
        });
    }

    /// Re-reads the workspace file at `path` for an event about it (see `throttle`).
    fn reindex_for_event(self: &Arc<Self>, path: PathBuf) {
        let Some(wait) = self.event_files.wait(&path) else {
            return;
        };
        let state = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            state.event_files.start(&path);
            state.index_file(&path).await;
        });
    }

    pub(crate) fn schedule_all(self: &Arc<Self>) {
        let uris: Vec<Uri> = self.docs.iter().map(|d| d.key().clone()).collect();
        for uri in uris {
            self.schedule(uri, Duration::ZERO);
        }
    }

    /// Computes the view of an open document; true when it changed.
    pub(crate) async fn compute(&self, uri: &Uri) -> bool {
        let Some((text, version, slot)) = self
            .docs
            .get(uri)
            .map(|d| (d.document.text.clone(), d.document.version, d.slot))
        else {
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
            return self.set_view(uri, slot, FileView::skipped(version, why));
        }
        let Some(view) = self.view_of(&path, &text, version).await else {
            return false;
        };
        self.set_view(uri, slot, view)
    }

    /// Stores a computed view, unless the document was closed meanwhile (and maybe
    /// opened again, a new slot: its own refresh is on its way).
    fn set_view(&self, uri: &Uri, slot: u64, view: FileView) -> bool {
        match self.docs.get_mut(uri) {
            Some(mut d) if d.slot == slot => {
                d.view = Some(Arc::new(view));
                drop(d);
                self.views.notify_waiters();
                true
            }
            _ => false,
        }
    }

    /// An open document's view and slot; for one not computed yet, its first view
    /// within `wait` (none when it is not open, or not attributed in time).
    pub(crate) async fn first_view(
        &self,
        uri: &Uri,
        wait: Duration,
    ) -> Option<(Arc<FileView>, u64)> {
        let current = || {
            self.docs
                .get(uri)
                .map(|d| d.view.as_ref().map(|v| (Arc::clone(v), d.slot)))
        };
        tokio::time::timeout(wait, async {
            loop {
                // Registered before the check, so a view stored in between still wakes it.
                let stored = self.views.notified();
                match current() {
                    None => return None,
                    Some(Some(view)) => return Some(view),
                    Some(None) => stored.await,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    pub(crate) async fn view_of(&self, path: &Path, text: &str, version: i32) -> Option<FileView> {
        let platform = self.platform().ok()?;
        let root = self.root_for(path);
        let blame = match platform
            .blame(
                &path.to_string_lossy(),
                root.as_deref(),
                text,
                self.settings().ignore_whitespace,
            )
            .await
        {
            Ok(b) => b,
            Err(e) => {
                if e.is_unreachable() || e.refuses_client() {
                    self.failed(&e);
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
    ///
    /// The files come from the platform's most edited: those recorded in this very
    /// checkout, and those recorded anywhere whose path ends with a path that exists
    /// in the folder. Transcripts often come from another checkout or machine
    /// (`/Users/cjm/repos/x/main.py` for `<folder>/main.py`); the blame of each file
    /// then matches recorded paths exactly as an open document's does, so a file
    /// that only shares a name with another project's gets no runs and is left out.
    pub(crate) async fn index_workspace(&self) {
        let Ok(platform) = self.platform() else {
            return;
        };
        let roots = self.roots.read().map(|r| r.clone()).unwrap_or_default();
        for root in roots {
            let project = root.to_string_lossy().into_owned();
            let mut recorded = Vec::new();
            for scope in [Some(project.as_str()), None] {
                match platform.most_edited(scope, MOST_EDITED).await {
                    Ok(files) => recorded.extend(files.into_iter().map(|f| f.path)),
                    Err(e) => tracing::debug!(error = %e, "no workspace file list"),
                }
            }
            let mut local: Vec<PathBuf> = Vec::new();
            for path in recorded {
                if let Some(p) = local_file(&root, Path::new(&path)).await {
                    if !local.contains(&p) {
                        local.push(p);
                    }
                }
                if local.len() >= WORKSPACE_FILES {
                    break;
                }
            }
            for path in local {
                self.index_file(&path).await;
            }
        }
    }

    pub(crate) async fn index_file(&self, path: &Path) {
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
    pub(crate) async fn changed(self: &Arc<Self>, path: &str) {
        // The platform's first pass logs a change for every file any transcript
        // touched: open documents are refreshed every few seconds meanwhile, and the
        // workspace indexed once it ends (`first_index`).
        if self.indexing.load(Ordering::Relaxed) {
            return;
        }
        let name = Path::new(path).file_name();
        let uris: Vec<Uri> = self
            .docs
            .iter()
            .filter(|d| path_of(d.key()).is_some_and(|p| p.file_name() == name))
            .map(|d| d.key().clone())
            .collect();
        for uri in uris {
            self.refresh_for_event(uri);
        }
        let roots = self.roots.read().map(|r| r.clone()).unwrap_or_default();
        for root in roots {
            if let Some(local) = local_file(&root, Path::new(path)).await {
                self.reindex_for_event(local);
            }
        }
    }

    /// Connects, keeps the event stream open, and reconnects with backoff: after an
    /// outage, a refusal (no sooner than the platform's `Retry-After`) or a stream
    /// that ended, so that no failure turns into a busy loop. A settings change
    /// reconnects at once.
    pub(crate) async fn supervise(self: Arc<Self>) {
        let mut backoff = backoff();
        let mut last_event: Option<i64> = None;
        let mut first = true;
        loop {
            let wait = match self.connect_and_follow(&mut last_event, &mut first).await {
                Next::Now => continue,
                Next::SettingsChange => {
                    self.wake.notified().await;
                    continue;
                }
                Next::Steady => {
                    backoff = crate::state::backoff();
                    backoff.next()
                }
                Next::Backoff => backoff.next(),
            }
            .unwrap_or(Duration::from_secs(30));
            // A refusal that named its wait is not retried sooner.
            let wait = match self.health() {
                Health::Refused(Refusal {
                    until: Some(until), ..
                }) => wait.max(until.saturating_duration_since(Instant::now())),
                _ => wait,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// One round: a platform, the event stream (which also proves the key is
    /// accepted), then its events until it ends.
    async fn connect_and_follow(
        self: &Arc<Self>,
        last_event: &mut Option<i64>,
        first: &mut bool,
    ) -> Next {
        let conn = match self.connection() {
            Some(c) if c.platform.healthy().await => c,
            _ => match self.connect().await {
                Ok(Some(c)) => c,
                // The settings changed meanwhile: connect to what they say now.
                Ok(None) => return Next::Now,
                Err(Unusable::UntilSettingsChange(health)) => {
                    self.set_health(health).await;
                    return Next::SettingsChange;
                }
                Err(Unusable::Down(why)) => {
                    self.set_health(Health::Offline(why)).await;
                    return Next::Backoff;
                }
            },
        };
        let url = conn.platform.url.clone();
        let socket = match crate::stream::open(&conn.platform, *last_event).await {
            Ok(s) => s,
            Err(OpenError::Refused {
                status,
                detail,
                retry_after,
            }) => {
                let refusal = Refusal::of_status(&url, status, &detail, retry_after);
                self.set_health(Health::Refused(refusal)).await;
                return Next::Backoff;
            }
            Err(OpenError::CursorAhead) => {
                tracing::info!("the platform's event log was reset; following it from now");
                *last_event = None;
                self.schedule_all();
                return Next::Now;
            }
            Err(OpenError::Failed(why)) => {
                let why = if conn.platform.healthy().await {
                    why
                } else {
                    format!("the platform at {url} does not answer")
                };
                self.set_health(Health::Offline(why)).await;
                return Next::Backoff;
            }
        };
        let was_connected = self.is_connected();
        self.set_health(Health::Connected).await;
        if std::mem::take(first) {
            let state = Arc::clone(self);
            let platform = conn.platform.clone();
            tokio::spawn(async move { state.first_index(platform).await });
        } else if !was_connected {
            // Back after an outage or a refusal: what changed meanwhile is fetched
            // again.
            self.schedule_all();
            self.index_workspace().await;
        }
        let opened = Instant::now();
        let mut settings_changed = false;
        let stop = async {
            tokio::select! {
                _ = self.wake.notified() => settings_changed = true,
                _ = self.interrupt.notified() => {}
            }
        };
        let reason = crate::stream::follow(socket, last_event, stop, |e| {
            let state = Arc::clone(self);
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
        if settings_changed {
            return Next::Now;
        }
        if !conn.platform.healthy().await {
            self.set_health(Health::Offline(format!(
                "the platform at {url} stopped answering"
            )))
            .await;
            return Next::Backoff;
        }
        // A stream that stays up for a while resets the backoff; one the platform
        // keeps closing at once does not.
        if opened.elapsed() >= STEADY {
            Next::Steady
        } else {
            Next::Backoff
        }
    }

    /// A platform for the current settings; `None` when they changed meanwhile.
    async fn connect(&self) -> std::result::Result<Option<Arc<Connection>>, Unusable> {
        let settings = self.settings();
        let conn = match &settings.url {
            Some(url) => match connect::configured(url, settings.api_key.as_deref(), &self.local) {
                Ok(c) if c.platform.healthy().await => c,
                Ok(_) => {
                    return Err(Unusable::Down(format!(
                        "the platform at {url} does not answer"
                    )))
                }
                Err(e @ ConfigError::ApiKeyRequired { .. }) => {
                    return Err(Unusable::UntilSettingsChange(Health::Refused(Refusal {
                        reason: RefusalReason::ApiKeyRequired,
                        message: e.to_string(),
                        until: None,
                    })))
                }
                Err(e @ ConfigError::BadUrl { .. }) => {
                    return Err(Unusable::UntilSettingsChange(Health::Offline(
                        e.to_string(),
                    )))
                }
                Err(ConfigError::Client(e)) => return Err(Unusable::Down(format!("{e:#}"))),
            },
            None => connect::local(&self.local)
                .await
                .map_err(|e| Unusable::Down(format!("{e:#}")))?,
        };
        let now = self.settings();
        if now.url != settings.url || now.api_key != settings.api_key {
            return Ok(None);
        }
        let conn = Arc::new(conn);
        if let Ok(mut slot) = self.conn.write() {
            *slot = Some(Arc::clone(&conn));
        }
        Ok(Some(conn))
    }

    /// The first connection: progress while the platform finishes its first
    /// indexing pass, then every view.
    pub(crate) async fn first_index(self: Arc<Self>, platform: Platform) {
        if platform.readiness().await.is_some() {
            self.set_indexing(true).await;
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
                        .with_message("indexing Claude Code transcripts, newest first…")
                        .with_percentage(0)
                        .begin()
                        .await,
                )
            } else {
                None
            };
            let mut waited = 0;
            let mut shown = 0;
            while let Some(done) = platform.readiness().await {
                if waited >= 3600 {
                    break;
                }
                if let (Some(p), Some(done)) = (&progress, done) {
                    if done != shown {
                        shown = done;
                        p.report_with_message(format!("{done}% of transcripts read"), done)
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                waited += 1;
                // Views of open files fill in as indexing goes: their transcripts
                // are read first (the platform hears of them from these requests),
                // so within seconds of opening.
                if waited % 8 == 0 {
                    self.schedule_all();
                }
            }
            if let Some(p) = progress {
                p.finish_with_message("transcripts indexed").await;
            }
            self.set_indexing(false).await;
        }
        self.schedule_all();
        self.index_workspace().await;
    }
}

/// Files asked for per scope (this checkout, anywhere) when indexing a folder.
const MOST_EDITED: u32 = 500;
/// Workspace files indexed per folder for `workspace/symbol`.
const WORKSPACE_FILES: usize = 200;

/// The file in `root` that a path an agent recorded stands for: the path itself when
/// it is inside `root`, else `root` joined with the longest trailing part of it that
/// names an existing file (the path in another checkout or on another machine).
/// Only plain name components are joined, so the result stays inside `root`.
async fn local_file(root: &Path, recorded: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let is_file = |p: PathBuf| async move {
        tokio::fs::metadata(&p)
            .await
            .is_ok_and(|m| m.is_file())
            .then_some(p)
    };
    if recorded.starts_with(root) {
        return is_file(recorded.to_path_buf()).await;
    }
    let names: Vec<&std::ffi::OsStr> = recorded
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Some(n)),
            Component::RootDir | Component::Prefix(_) | Component::CurDir => None,
            Component::ParentDir => Some(None),
        })
        .collect::<Option<_>>()?;
    for start in 0..names.len() {
        let candidate: PathBuf = std::iter::once(root.as_os_str())
            .chain(names[start..].iter().copied())
            .collect();
        if let Some(found) = is_file(candidate).await {
            return Some(found);
        }
    }
    None
}

/// What the supervisor does after a round.
enum Next {
    /// Reconnect at once.
    Now,
    /// Wait for the backoff's next delay.
    Backoff,
    /// The stream had been up for a while: start the backoff over, then wait.
    Steady,
    /// Nothing will change until the settings do.
    SettingsChange,
}

/// Why no platform could be used.
enum Unusable {
    Down(String),
    UntilSettingsChange(Health),
}

/// How long a stream must have stayed open to count as a working connection.
const STEADY: Duration = Duration::from_secs(10);

pub(crate) fn backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

/// A notification of the protocol, as tower-lsp sends it.
pub struct Ext<N>(std::marker::PhantomData<N>);

impl<N> notification::Notification for Ext<N>
where
    N: lsp::Notification,
    N::Params: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Params = N::Params;
    const METHOD: &'static str = N::METHOD;
}

/// `observatory/status`, sent when the connection changes.
pub type StatusNotification = Ext<lsp::StatusNotification>;

/// `observatory/didChangeInsights`: a document's insights changed, for clients that
/// cannot be asked to refresh code lenses (their extensions refresh on it).
pub type InsightsChanged = Ext<lsp::DidChangeInsights>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recorded_paths_from_another_checkout_map_into_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("work/simple");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("main.py"), "").unwrap();
        std::fs::write(root.join("src/lib.rs"), "").unwrap();
        let local = |p: &str| {
            let (root, p) = (root.clone(), PathBuf::from(p));
            async move { local_file(&root, &p).await }
        };
        assert_eq!(
            local("/Users/cjm/repos/ai-blame-test/main.py").await,
            Some(root.join("main.py"))
        );
        assert_eq!(
            local("/home/x/other/src/lib.rs").await,
            Some(root.join("src/lib.rs"))
        );
        assert_eq!(local("/Users/cjm/repos/x/missing.py").await, None);
        let inside = root.join("main.py");
        assert_eq!(local(&inside.to_string_lossy()).await, Some(inside.clone()));
        // Nothing leads outside the folder.
        assert_eq!(local("/a/../../etc/passwd").await, None);
    }
}
