//! Data from elsewhere: transcript lines uploaded by other machines, and Claude Code
//! `http` hooks.
//!
//! Uploaded lines are appended to `<data dir>/ingest/<machine>/projects/<machine>/
//! <session>.jsonl` and indexed by the platform's own watcher exactly like local
//! transcripts, so the transcript stays the source of truth. Hooks become stream
//! events at once (a hook arrives before the transcript line is written).

use std::io::Write;

use axum::extract::State;
use axum::http::StatusCode;
use observatory_protocol::ingest::{HookPayload, JsonLines, Uploaded};

use super::{AppState, Json, Path};
use crate::error::{ApiError, Problem};

/// Machine names and session ids become path components: keep them to a safe alphabet.
fn component(what: &str, s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} {s:?} must be 1-128 letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// Upload transcript lines (JSONL, as Claude Code writes them) for a machine's session.
/// Lines are appended; send each line once, complete, ending in a newline.
// The patterns are `component`'s rule; the body's, that it ends in a newline (`$` alone
// would also match before a final newline in Python's regexes).
#[utoipa::path(post, path = "/ingest/{machine}/{session}", tag = "ingest",
    params(("machine" = String, Path, description = "The machine (or user) the transcript comes from",
                pattern = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$"),
           ("session" = String, Path, description = "The session id (the transcript's file name)",
                pattern = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")),
    request_body(content = JsonLines, content_type = "application/x-ndjson"),
    responses((status = 202, body = Uploaded), (status = 422, body = Problem), (status = 403, body = Problem),
        (status = 503, description = "Uploads are not enabled on this platform", body = Problem)))]
pub(super) async fn upload(
    State(s): State<AppState>,
    Path((machine, session)): Path<(String, String)>,
    body: String,
) -> Result<(StatusCode, axum::Json<Uploaded>), ApiError> {
    component("machine", &machine)?;
    component("session", &session)?;
    let Some(root) = s.ingest_dir.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "uploads are not enabled on this platform",
        ));
    };
    if !body.ends_with('\n') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be complete lines, each ending in a newline",
        ));
    }
    let lines = body.lines().count();
    let bytes = body.len();
    let dir = root.join(&machine).join("projects").join(&machine);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{session}.jsonl")))?;
        // One write of whole lines: the watcher never sees half of one.
        f.write_all(body.as_bytes())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, axum::Json(Uploaded { lines, bytes })))
}

/// Receiver for Claude Code `http` hooks (PostToolUse and others): each payload is an
/// event on the stream at once, `hook.<hook_event_name>`.
#[utoipa::path(post, path = "/hooks/claude", tag = "ingest",
    request_body(content = HookPayload, description = "The hook's JSON payload, as Claude Code sends it"),
    responses((status = 202, description = "Recorded as an event"), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn hook(
    State(s): State<AppState>,
    Json(payload): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let Some(event) = payload
        .get("hook_event_name")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
    else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the payload has no hook_event_name",
        ));
    };
    let str_of = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let session = str_of("session_id");
    let cwd = str_of("cwd");
    let path = payload
        .get("tool_input")
        .and_then(|i| i.get("file_path").or_else(|| i.get("notebook_path")))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    // Tool responses can be whole files; the transcript has them, the event need not.
    let mut data = payload.clone();
    if let Some(o) = data.as_object_mut() {
        o.remove("tool_response");
    }
    s.pool
        .write(move |w| {
            Ok(w.append_event(
                &format!("{}{event}", observatory_protocol::events::kind::HOOK_PREFIX),
                session.as_deref(),
                cwd.as_deref(),
                path.as_deref(),
                &data,
            )?)
        })
        .await?;
    s.changes.send_modify(|n| *n += 1);
    Ok(StatusCode::ACCEPTED)
}
