//! Events derived from the event log into the event log (cost thresholds, a file's
//! agent share): the loop that follows the log, the page it reads each time, and what
//! counts as history rather than news.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use observatory_store::{Catalog, Conversation, Event, EventQuery};

use crate::error::ApiError;

/// Longest wait between two looks at the log when no change wakes the loop.
const POLL: Duration = Duration::from_secs(1);
/// Events read per look.
const PAGE: usize = 500;
/// Conversations whose last message is older than this are history (a first start
/// indexing months of transcripts), not news: nothing is derived from them.
const HISTORY_HOURS: i64 = 24;

/// Follows the log from `cursor`, calling `step` after every change (and at least
/// every second): `step` reads what came after the cursor, logs what it derives, and
/// returns the new cursor and whether it logged anything. Runs until aborted.
pub async fn follow<F, Fut>(
    what: &str,
    bump: Arc<tokio::sync::watch::Sender<u64>>,
    mut cursor: i64,
    mut step: F,
) where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<(i64, bool), ApiError>>,
{
    let mut changes = bump.subscribe();
    loop {
        match step(cursor).await {
            Ok((next, logged)) => {
                cursor = next;
                if logged {
                    bump.send_modify(|n| *n += 1);
                }
            }
            Err(e) => tracing::warn!(error = %e.detail, "{what}: checking failed"),
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// The events of `kind` after `cursor` (one page), and the cursor to go on from.
pub fn page(
    c: &dyn Catalog,
    kind: &str,
    cursor: i64,
) -> observatory_store::Result<(i64, Vec<Event>)> {
    // Read first: ids are given in commit order (one writer at a time), so every
    // event up to `last` is in the page read after it.
    let last = c.last_event_id()?;
    let events = c.events(&EventQuery {
        after: cursor,
        limit: PAGE,
        kinds: vec![kind.to_owned()],
        ..EventQuery::default()
    })?;
    let read_to = events.last().map_or(cursor, |e| e.id);
    let next = if events.len() == PAGE {
        read_to
    } else {
        last.max(read_to).max(cursor)
    };
    Ok((next, events))
}

/// Whether `conversation` is history: its last message is over a day old.
pub fn is_history(conversation: &Conversation) -> bool {
    conversation
        .ended_at
        .is_some_and(|t| chrono::Utc::now() - t > chrono::Duration::hours(HISTORY_HOURS))
}
