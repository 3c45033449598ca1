//! The event log over REST (from a cursor) and as a realtime WebSocket stream.
//!
//! The stream reads from the durable log, not from an in-memory queue: a client that
//! resumes with the last id it saw gets every missed event exactly once, in order, and
//! a slow client costs no memory: when a send does not complete in time the client is
//! disconnected with a close reason and can resume.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use observatory_protocol::events::{EventPage, EventParams};
use observatory_store::{Catalog, EventQuery};

use super::{page_limit, AppState, Query, WebSocketUpgrade};
use crate::auth::Identity;
use crate::error::ApiError;

const HEARTBEAT: Duration = Duration::from_secs(15);
/// Catch changes made by other processes (`observatory index` run by hand).
const POLL: Duration = Duration::from_secs(1);
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
const PAGE: usize = 500;

/// What the store reads for `p`: events after `after`, at most `limit`.
fn event_query(p: &EventParams, after: i64, limit: usize) -> EventQuery {
    EventQuery {
        after,
        limit,
        kinds: p.kinds(),
        project: p.project.clone(),
        path_prefix: p.path_prefix.clone(),
        session_id: p.session_id.clone(),
    }
}

/// The event log from a cursor, oldest first.
#[utoipa::path(get, path = "/events", params(EventParams), tag = "events",
    responses((status = 200, body = EventPage), (status = 400, body = crate::Problem),
        (status = 422, description = "`after` is beyond the newest event, or `limit` out of range", body = crate::Problem)))]
pub(super) async fn events(
    State(s): State<AppState>,
    Query(p): Query<EventParams>,
) -> Result<axum::Json<EventPage>, ApiError> {
    let limit = page_limit(p.limit, 1000, 100)?;
    let after = p.after.unwrap_or(0);
    let q = event_query(&p, after, limit);
    let events = s
        .pool
        .read(move |c| {
            check_cursor(c, after)?;
            Ok(c.events(&q)?)
        })
        .await?;
    let last_id = events.last().map_or(p.after.unwrap_or(0), |e| e.id);
    Ok(axum::Json(EventPage { events, last_id }))
}

/// Realtime stream (WebSocket). Each text message is one event as JSON; the server
/// pings every 15 s. Resume with `after` = the last id received.
// `EventParams` but `limit`, which the stream does not read (it sends every event).
#[utoipa::path(get, path = "/stream", tag = "events",
    params(("after" = Option<i64>, Query, description = "Only events after this id (the last one received); without it the stream starts at the newest event"),
        ("kind" = Option<String>, Query, description = "Comma-separated event kinds, as for `/events`"),
        ("project" = Option<String>, Query, description = "Only events of conversations in this project directory (or below)"),
        ("path_prefix" = Option<String>, Query, description = "Only events about paths starting with this"),
        ("session_id" = Option<String>, Query, description = "Only events of this conversation (session id)")),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, body = crate::Problem),
        (status = 422, description = "`after` is beyond the newest event", body = crate::Problem),
        (status = 426, description = "Not a WebSocket handshake (a plain GET): send `Connection: Upgrade` and `Upgrade: websocket`", body = crate::Problem,
            headers(("Upgrade" = String, description = "`websocket`")))))]
pub(super) async fn stream(
    State(s): State<AppState>,
    identity: Option<Extension<Identity>>,
    Query(p): Query<EventParams>,
    WebSocketUpgrade(ws): WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let after = p.after;
    let start = s
        .pool
        .read(move |c| match after {
            Some(a) => {
                check_cursor(c, a)?;
                Ok(a)
            }
            None => Ok(c.last_event_id()?),
        })
        .await?;
    let key_id = identity.and_then(|Extension(i)| i.key_id);
    Ok(ws.on_upgrade(move |socket| run(socket, s, p, start, key_id)))
}

/// A cursor past the newest event is a client's mistake (or a log that was reset):
/// accepting it would skip every event up to it without a word.
fn check_cursor(catalog: &dyn Catalog, after: i64) -> Result<(), ApiError> {
    let last = catalog.last_event_id()?;
    if after > last {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "after={after} is beyond the newest event ({last}); resume from an id you received, or omit it"
            ),
        ));
    }
    Ok(())
}

async fn run(
    mut socket: WebSocket,
    s: AppState,
    p: EventParams,
    mut cursor: i64,
    key_id: Option<i64>,
) {
    let _open = s.activity.stream();
    let mut changes = s.changes.subscribe();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut poll = tokio::time::interval(POLL);
    loop {
        // A stream lives as long as the key that opened it.
        if let Some(id) = key_id {
            match s.pool.read(move |c| Ok(c.is_api_key_active(id)?)).await {
                Ok(true) => {}
                Ok(false) => {
                    let _ = close(&mut socket, 1008, "the API key was revoked").await;
                    return;
                }
                Err(e) => tracing::warn!(detail = %e.detail, "stream could not check its key"),
            }
        }
        // Send everything after the cursor, page by page.
        loop {
            let q = event_query(&p, cursor, PAGE);
            let page = match s.pool.read(move |c| Ok(c.events(&q)?)).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(detail = %e.detail, "stream could not read the event log");
                    let _ = close(&mut socket, 1011, "the event log could not be read").await;
                    return;
                }
            };
            let full = page.len() == PAGE;
            for event in page {
                let text = serde_json::to_string(&event).unwrap_or_default();
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into())))
                    .await
                {
                    Ok(Ok(())) => cursor = event.id,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        // The close frame queues behind what the client has not read;
                        // give it a moment, then drop the connection either way.
                        let reason = "consumer too slow; resume with after=<last id>";
                        let _ =
                            tokio::time::timeout(SEND_TIMEOUT, close(&mut socket, 1008, reason))
                                .await;
                        return;
                    }
                }
            }
            if !full {
                break;
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = poll.tick() => {}
            _ = heartbeat.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) -> Result<(), axum::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await
}
