//! The server's state and the background work that keeps it current: per-file views
//! recomputed after typing or a recorded change, and the connection to the platform
//! (connect, follow the event stream, reconnect with backoff, report outages once).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::connect::{self, Connection, Source};
use crate::platform::{Platform, PlatformError};
use crate::server::{internal, path_of, Caps, State};
use crate::settings::Settings;
use crate::view::FileView;

impl State {
    pub(crate) fn slot(&self, uri: &Uri) -> u64 {
        *self.slot_of.entry(uri.clone()).or_insert_with(|| {
            let n = self.next_generation.fetch_add(1, Ordering::Relaxed);
            self.slots.insert(n, uri.clone());
            n
        })
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

    pub(crate) fn platform(&self) -> Result<Platform> {
        self.connection()
            .map(|c| c.platform.clone())
            .ok_or_else(|| internal("not connected to the Observatory platform yet"))
    }

    /// A platform answer, or a request error; an unreachable platform also starts
    /// reconnecting.
    pub(crate) fn answer<T>(&self, r: std::result::Result<T, PlatformError>) -> Result<T> {
        r.map_err(|e| {
            if e.is_unreachable() {
                self.lost(&e);
            }
            internal(e)
        })
    }

    pub(crate) fn lost(&self, e: &PlatformError) {
        tracing::warn!(error = %e, "platform request failed");
        self.wake.notify_one();
    }

    pub(crate) fn status_value(&self, message: Option<&str>) -> Value {
        let conn = self.connection();
        json!({
            "state": if self.online.load(Ordering::Relaxed) { "connected" } else if conn.is_some() { "offline" } else { "connecting" },
            "url": conn.as_ref().map(|c| c.platform.url.clone()),
            "source": conn.as_ref().map(|c| c.source),
            "message": message,
        })
    }

    pub(crate) async fn send_status(&self, message: Option<&str>) {
        self.client
            .send_notification::<StatusNotification>(self.status_value(message))
            .await;
    }

    pub(crate) async fn set_online(&self, url: &str) {
        if !self.online.swap(true, Ordering::Relaxed) {
            tracing::info!(url, "connected to the platform");
            self.send_status(None).await;
        }
    }

    /// Reported once per outage: a message, then the status notification.
    pub(crate) async fn set_offline(&self, why: &str) {
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

    /// Asks the client to fetch lenses and hints again.
    pub(crate) async fn refresh_client(&self) {
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
    pub(crate) fn schedule(self: &Arc<Self>, uri: Uri, delay: Duration) {
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

    pub(crate) fn schedule_all(self: &Arc<Self>) {
        let uris: Vec<Uri> = self.docs.iter().map(|d| d.key().clone()).collect();
        for uri in uris {
            self.schedule(uri, Duration::ZERO);
        }
    }

    /// Computes the view of an open document; true when it changed.
    pub(crate) async fn compute(&self, uri: &Uri) -> bool {
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

    pub(crate) async fn view_of(&self, path: &Path, text: &str, version: i32) -> Option<FileView> {
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
    pub(crate) async fn index_workspace(&self) {
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
    pub(crate) async fn supervise(self: Arc<Self>) {
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
                        match connect::configured(url, settings.api_key.as_deref(), &self.local) {
                            Ok(c) if c.platform.healthy().await => Ok(c),
                            Ok(_) => Err(anyhow::anyhow!("the platform at {url} does not answer")),
                            Err(e) => Err(e),
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
            backoff = crate::state::backoff();
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
    pub(crate) async fn first_index(self: Arc<Self>, platform: Platform) {
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
