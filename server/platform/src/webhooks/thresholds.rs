//! Cost thresholds: a `usage.threshold` event when a conversation's estimated cost
//! first reaches one of the configured amounts, so that a webhook (or a stream
//! client) can react to "this session passed $5" without computing costs itself.
//!
//! Derived from the event log, into the event log: after each `usage.updated` the
//! conversation's cost is read (the store prices its usage), and each threshold it
//! reached that no `usage.threshold` event of that conversation names yet is logged.
//! The log itself is the memory of what was announced, so a restart announces
//! nothing twice, and a crossing that happened while no platform ran is announced
//! at the conversation's next usage update. Conversations whose last message is more
//! than a day old are history (a first start indexing months of transcripts), not
//! news: they are not announced.

use std::sync::Arc;

use observatory_protocol::events::kind::{self, USAGE_THRESHOLD};
use observatory_store::EventQuery;
use serde_json::json;

use crate::pool::Pool;

/// Watches the event log after `cursor` (its end when the platform started, read
/// before indexing begins, so nothing this run logs is missed) for `thresholds`
/// (validated and ascending: `Settings`); runs until aborted.
pub async fn run(
    pool: Arc<Pool>,
    thresholds: Vec<f64>,
    bump: Arc<tokio::sync::watch::Sender<u64>>,
    cursor: i64,
) {
    if thresholds.is_empty() {
        return;
    }
    let thresholds = Arc::new(thresholds);
    super::derived::follow("cost thresholds", bump, cursor, |cursor| {
        step(Arc::clone(&pool), Arc::clone(&thresholds), cursor)
    })
    .await;
}

/// A crossing to log: session, project, threshold, cost.
type Crossing = (String, Option<String>, f64, f64);

/// Reads `usage.updated` events after `cursor` and logs the crossings they reveal;
/// returns the new cursor and whether anything was logged.
async fn step(
    pool: Arc<Pool>,
    thresholds: Arc<Vec<f64>>,
    cursor: i64,
) -> Result<(i64, bool), crate::error::ApiError> {
    let (next, crossings) = pool
        .read(move |c| {
            let (next, updates) = super::derived::page(c, kind::USAGE_UPDATED, cursor)?;
            let mut sessions: Vec<String> =
                updates.into_iter().filter_map(|e| e.session_id).collect();
            sessions.sort();
            sessions.dedup();
            let mut crossings: Vec<Crossing> = Vec::new();
            for session in sessions {
                let Ok(conversation) = c.conversation(&session) else {
                    continue; // deleted since
                };
                // Indexing old transcripts (a first start, a new machine) is not news.
                if super::derived::is_history(&conversation) {
                    continue;
                }
                let announced: Vec<f64> = c
                    .events(&EventQuery {
                        after: 0,
                        limit: 1000,
                        kinds: vec![USAGE_THRESHOLD.to_owned()],
                        session_id: Some(session.clone()),
                        ..EventQuery::default()
                    })?
                    .iter()
                    .filter_map(|e| {
                        e.data
                            .get("threshold_usd")
                            .and_then(serde_json::Value::as_f64)
                    })
                    .collect();
                crossings.extend(
                    thresholds
                        .iter()
                        .filter(|t| conversation.cost_usd >= **t && !announced.contains(t))
                        .map(|t| {
                            (
                                session.clone(),
                                conversation.project.clone(),
                                *t,
                                conversation.cost_usd,
                            )
                        }),
                );
            }
            Ok((next, crossings))
        })
        .await?;
    if crossings.is_empty() {
        return Ok((next, false));
    }
    pool.write(move |w| {
        for (session, project, threshold, cost) in &crossings {
            w.append_event(
                USAGE_THRESHOLD,
                Some(session),
                project.as_deref(),
                None,
                &json!({ "threshold_usd": threshold, "cost_usd": cost }),
            )?;
        }
        Ok(())
    })
    .await?;
    Ok((next, true))
}
