//! REST API v1: the application state, the extractors whose rejections are problem
//! documents (`extract`), and the handlers, one module per resource. Every route is
//! registered through `routes!` so that it is in the OpenAPI document;
//! `tests/api.rs` checks each documented path answers.
//!
//! Handlers reach the data only through the pool's `read` (`&dyn Catalog`) and
//! `write` (`&mut dyn Writer`): the store's traits, not SQLite.

mod analytics;
mod conversations;
mod events;
mod extract;
mod files;
mod ingest;
mod keys;
mod search;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

use observatory_attribution::paths::PathMapping;
use utoipa_axum::{router::OpenApiRouter, routes};

use extract::{Json, Path, Query, WebSocketUpgrade};

use crate::error::ApiError;
use crate::files::WorkspaceRoots;
use crate::pool::Pool;

#[derive(Clone)]
pub struct AppState {
    pub pool: Arc<Pool>,
    /// Bumped whenever the event log grew; streams wait on it.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where uploaded transcript lines are kept for the indexer (`None`: uploads off).
    pub ingest_dir: Option<PathBuf>,
    /// Where files may be read from disk for `GET /files/blame` and `/files/symbols`.
    pub files: Arc<WorkspaceRoots>,
    /// Rewrites of recorded paths before attribution (config `path_map`).
    pub path_map: Arc<Vec<PathMapping>>,
    /// Open streams keep the platform from stopping as idle.
    pub activity: Arc<crate::Activity>,
    /// Webhook delivery: which targets are allowed, and how to wake the dispatcher.
    pub webhooks: crate::webhooks::Handle,
    /// The files editors ask about, whose transcripts the indexer reads first.
    pub index_priority: Arc<observatory_store::IndexPriority>,
}

impl AppState {
    /// An editor asks about the file at `path`: while transcripts are still being
    /// indexed, the ones of its checkout go first (under its recorded path too,
    /// when `path_map` maps one to it).
    pub(crate) fn wanted(&self, path: &str) {
        self.index_priority.want_file(std::path::Path::new(path));
        for m in self.path_map.iter() {
            // The mapping read backwards: from this machine's path to the recorded one.
            let back = PathMapping {
                from: m.to.clone(),
                to: m.from.clone(),
            };
            let recorded = observatory_attribution::paths::map_path(path, &[back]);
            if recorded != path {
                self.index_priority
                    .want_file(std::path::Path::new(&recorded));
            }
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversations::list_conversations))
        .routes(routes!(conversations::get_conversation))
        .routes(routes!(conversations::conversation_markdown))
        .routes(routes!(conversations::conversation_messages))
        .routes(routes!(conversations::conversation_files))
        .routes(routes!(conversations::delete_conversation))
        .routes(routes!(search::search))
        .routes(routes!(files::file_touches))
        .routes(routes!(files::file_insights))
        .routes(routes!(files::blame_file, files::blame_buffer))
        .routes(routes!(files::file_symbols))
        .routes(routes!(files::symbol_changes))
        .routes(routes!(analytics::usage))
        .routes(routes!(analytics::projects))
        .routes(routes!(analytics::most_edited))
        .routes(routes!(events::events))
        .routes(routes!(events::stream))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(ingest::upload))
        .routes(routes!(ingest::hook))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::test_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::get_delivery))
        .routes(routes!(webhooks::list_attempts))
        .routes(routes!(webhooks::redeliver_one))
        .routes(routes!(webhooks::redeliver_failed))
}

/// A page size: `limit` if within 1 to `max` (422 otherwise), else `default`.
fn page_limit(limit: Option<usize>, max: usize, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(l) => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("limit must be between 1 and {max}, not {l}"),
        )),
    }
}

/// Largest offset a cursor may carry: far beyond any real list, far below overflow.
const MAX_OFFSET: usize = 1 << 40;

/// Cursors are opaque to clients; today they carry an offset.
fn decode_cursor(c: Option<&str>) -> Result<usize, ApiError> {
    match c {
        None => Ok(0),
        Some(c) => c
            .strip_prefix("o")
            // Exactly what the document's pattern says: digits only, 1 to 12.
            .filter(|n| (1..=12).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .filter(|&n| n <= MAX_OFFSET)
            .ok_or_else(|| ApiError::bad_request(format!("invalid cursor {c:?}"))),
    }
}
