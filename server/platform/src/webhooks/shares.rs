//! Agent share: a `file.agent_share` event when the share of a file's lines written
//! by agents crosses one of the configured percentages, up or down, so that a
//! webhook (or a stream client) can react to "`src/auth/` files are now mostly
//! agent-written" without blaming files itself.
//!
//! Derived from the event log, into the event log, like cost thresholds: after each
//! `attribution.changed` of a recent conversation, the file is read from disk (only
//! under the platform's `workspace_roots`, as for blame), blamed against the store,
//! and its level (the highest threshold its share reaches) compared with the level
//! the last `file.agent_share` event of that path announced. The log is the memory,
//! so a restart announces nothing twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use observatory_attribution::paths::PathMapping;
use observatory_protocol::events::kind::{self, FILE_AGENT_SHARE};
use observatory_store::{Catalog, EventQuery};
use serde_json::{json, Value};

use crate::files::WorkspaceRoots;
use crate::pool::Pool;

/// What to watch: the percentages, where files may be read, and how recorded paths
/// map onto this machine's.
pub struct Watch {
    /// Validated and ascending (`Settings`).
    pub thresholds: Vec<f64>,
    pub roots: Arc<WorkspaceRoots>,
    pub mappings: Vec<PathMapping>,
}

/// Watches the event log after `cursor`; runs until aborted.
pub async fn run(
    pool: Arc<Pool>,
    watch: Watch,
    bump: Arc<tokio::sync::watch::Sender<u64>>,
    cursor: i64,
) {
    if watch.thresholds.is_empty() {
        return;
    }
    let watch = Arc::new(watch);
    super::derived::follow("agent share", bump, cursor, |cursor| {
        step(Arc::clone(&pool), Arc::clone(&watch), cursor)
    })
    .await;
}

/// A crossing to log: the event's session, project and path, and its data.
type Crossing = (String, Option<String>, String, Value);

/// Reads `attribution.changed` events after `cursor` and logs the crossings they
/// reveal; returns the new cursor and whether anything was logged.
async fn step(
    pool: Arc<Pool>,
    watch: Arc<Watch>,
    cursor: i64,
) -> Result<(i64, bool), crate::error::ApiError> {
    let (next, crossings) = pool
        .read(move |store| {
            let (next, changed) = super::derived::page(store, kind::ATTRIBUTION_CHANGED, cursor)?;
            let mut files: Vec<(String, String)> = changed
                .into_iter()
                .filter_map(|e| Some((e.path?, e.session_id?)))
                .collect();
            files.sort();
            files.dedup_by(|a, b| a.0 == b.0);
            let mut crossings = Vec::new();
            for (path, session) in files {
                if let Some(c) = crossing(store, &watch, &path, &session)? {
                    crossings.push(c);
                }
            }
            Ok((next, crossings))
        })
        .await?;
    if crossings.is_empty() {
        return Ok((next, false));
    }
    pool.write(move |w| {
        for (session, project, path, data) in &crossings {
            w.append_event(
                FILE_AGENT_SHARE,
                Some(session),
                project.as_deref(),
                Some(path),
                data,
            )?;
        }
        Ok(())
    })
    .await?;
    Ok((next, true))
}

/// The crossing a change to `path` (by `session`) makes, if any.
fn crossing(
    store: &dyn Catalog,
    watch: &Watch,
    path: &str,
    session: &str,
) -> observatory_store::Result<Option<Crossing>> {
    let Ok(conversation) = store.conversation(session) else {
        return Ok(None); // deleted since
    };
    if super::derived::is_history(&conversation) {
        return Ok(None);
    }
    // Outside the workspace roots, gone, or too large: nothing to measure.
    let Ok(content) = watch.roots.read(path) else {
        return Ok(None);
    };
    let root = conversation.project.as_deref().map_or_else(
        || {
            Path::new(path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        },
        PathBuf::from,
    );
    let Ok(blame) = observatory_attribution::blame::blame(
        store,
        Path::new(path),
        &root,
        &content,
        &watch.mappings,
    ) else {
        return Ok(None);
    };
    let lines = blame.lines.len();
    if lines == 0 {
        return Ok(None);
    }
    let agent_lines = blame.lines.iter().filter(|l| l.is_some()).count();
    let share = 100.0 * agent_lines as f64 / lines as f64;
    let level = watch.thresholds.iter().rev().copied().find(|t| share >= *t);
    let previous = store
        .events(&EventQuery {
            after: 0,
            limit: 10_000,
            kinds: vec![FILE_AGENT_SHARE.to_owned()],
            path_prefix: Some(path.to_owned()),
            ..EventQuery::default()
        })?
        .into_iter()
        .rev()
        .find(|e| e.path.as_deref() == Some(path))
        .and_then(|e| e.data.get("level_percent").and_then(Value::as_f64));
    if level == previous {
        return Ok(None);
    }
    let data = json!({
        "share_percent": (share * 10.0).round() / 10.0,
        "level_percent": level,
        "previous_level_percent": previous,
        "agent_lines": agent_lines,
        "lines": lines,
    });
    Ok(Some((
        session.to_owned(),
        conversation.project.clone(),
        path.to_owned(),
        data,
    )))
}
