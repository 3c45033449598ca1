//! What agents did to files: touches, insights, line attribution (blame) of a file on
//! disk or a posted buffer, and the symbols changes touched.

use std::path::PathBuf;

use axum::extract::State;
use observatory_attribution::blame::{blame_with, workspace_root, Blame};
use observatory_attribution::paths::PathMapping;
use observatory_attribution::Options;
use observatory_protocol::files::{
    BlameParams, BlameRequest, BlameResponse, BlameRun, FileInsights, FileTouch, PathParams,
    SymbolChange, SymbolChangeBy, SymbolChangeRow, SymbolParams,
};
use observatory_store::Catalog;

use super::{page_limit, AppState, Json, Query};
use crate::error::{ApiError, Problem};

/// Every recorded touch of a file (reads, edits, failures), newest first.
#[utoipa::path(get, path = "/files/touches", params(PathParams), tag = "files",
    responses((status = 200, body = Vec<FileTouch>), (status = 400, body = Problem)))]
pub(super) async fn file_touches(
    State(state): State<AppState>,
    Query(p): Query<PathParams>,
) -> Result<axum::Json<Vec<FileTouch>>, ApiError> {
    state.wanted(&p.path);
    let found = state
        .pool
        .read(move |c| Ok(c.file_touches(&p.path)?))
        .await?;
    Ok(axum::Json(found))
}

/// Blames `content` as the file at `path` (absolute, on the platform's machine),
/// relative to `root` or else its workspace root; returns the file's path with it.
fn blame_at(
    catalog: &dyn Catalog,
    path: &str,
    root: Option<&str>,
    content: &str,
    path_map: &[PathMapping],
    options: Options,
) -> Result<(PathBuf, Blame), ApiError> {
    let file = PathBuf::from(path);
    if !file.is_absolute() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("path must be absolute, not {path:?}"),
        ));
    }
    let root = root
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root(&file));
    let b = blame_with(catalog, &file, &root, content, path_map, options)?;
    Ok((file, b))
}

/// [`blame_at`], answered as runs of lines by the same change.
fn run_blame(
    catalog: &dyn Catalog,
    path: &str,
    root: Option<&str>,
    content: &str,
    path_map: &[PathMapping],
    options: Options,
) -> Result<BlameResponse, ApiError> {
    let (_, b) = blame_at(catalog, path, root, content, path_map, options)?;
    let runs = b
        .runs()
        .into_iter()
        .map(|r| {
            let w = &b.writes[r.write as usize];
            BlameRun {
                start_line: r.start,
                end_line: r.end,
                session_id: w.session_id.clone(),
                conversation_title: w.conversation_title.clone(),
                subagent: w.subagent.clone(),
                message_uuid: w.message_uuid.clone(),
                tool_use_id: w.tool_use_id.clone(),
                tool: w.tool.clone(),
                at: w.at,
                model: w.model.clone(),
                prompt: w.prompt.clone(),
                reason: w.reason.clone(),
                project: w.cwd.clone(),
            }
        })
        .collect();
    Ok(BlameResponse {
        lines: b.lines.len(),
        attributed_lines: b.attributed_lines(),
        runs,
    })
}

/// Which recorded change wrote each line of a file on disk.
#[utoipa::path(get, path = "/files/blame", params(BlameParams), tag = "files",
    responses((status = 200, body = BlameResponse), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn blame_file(
    State(state): State<AppState>,
    Query(p): Query<BlameParams>,
) -> Result<axum::Json<BlameResponse>, ApiError> {
    state.wanted(&p.path);
    let AppState {
        pool,
        files,
        path_map,
        ..
    } = state;
    Ok(axum::Json(
        pool.read(move |c| {
            let content = files.read(&p.path)?;
            let options = Options {
                ignore_whitespace: p.ignore_whitespace,
            };
            run_blame(c, &p.path, p.root.as_deref(), &content, &path_map, options)
        })
        .await?,
    ))
}

/// Which recorded change wrote each line of an editor buffer (unsaved content).
#[utoipa::path(post, path = "/files/blame", request_body = BlameRequest, tag = "files",
    responses((status = 200, body = BlameResponse), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn blame_buffer(
    State(state): State<AppState>,
    Json(r): Json<BlameRequest>,
) -> Result<axum::Json<BlameResponse>, ApiError> {
    state.wanted(&r.path);
    let AppState { pool, path_map, .. } = state;
    Ok(axum::Json(
        pool.read(move |c| {
            let options = Options {
                ignore_whitespace: r.ignore_whitespace,
            };
            run_blame(
                c,
                &r.path,
                r.root.as_deref(),
                &r.content,
                &path_map,
                options,
            )
        })
        .await?,
    ))
}

/// Which conversations changed a function, method, class or module, anywhere in the
/// store, newest first ("which conversations changed `refresh_token`?").
#[utoipa::path(get, path = "/symbols", params(SymbolParams), tag = "files",
    responses((status = 200, body = Vec<SymbolChangeRow>), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn symbol_changes(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<SymbolParams>,
) -> Result<axum::Json<Vec<SymbolChangeRow>>, ApiError> {
    let limit = page_limit(p.limit, 500, 50)?;
    let letters = p
        .name
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count();
    if letters < 2 {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "name must have at least 2 letters or digits".to_owned(),
        ));
    }
    let rows = pool
        .read(move |c| {
            Ok(observatory_attribution::symbols::changes_to_symbol(
                c, &p.name, limit,
            )?)
        })
        .await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|c| SymbolChangeRow {
                symbol: c.symbol,
                kind: c.kind.name().to_owned(),
                path: c.path,
                lines: c.lines,
                session_id: c.session_id,
                conversation_title: c.conversation_title,
                tool: c.tool,
                tool_use_id: c.tool_use_id,
                at: c.at,
                prompt: c.prompt,
            })
            .collect(),
    ))
}

/// The functions, methods, classes and modules of a file on disk that agents changed
/// (Rust, Python, TypeScript/TSX, JavaScript, Go; empty for other languages).
#[utoipa::path(get, path = "/files/symbols", params(BlameParams), tag = "files",
    responses((status = 200, body = Vec<SymbolChange>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn file_symbols(
    State(AppState {
        pool,
        files,
        path_map,
        ..
    }): State<AppState>,
    Query(p): Query<BlameParams>,
) -> Result<axum::Json<Vec<SymbolChange>>, ApiError> {
    let out = pool
        .read(move |c| {
            let content = files.read(&p.path)?;
            let options = Options {
                ignore_whitespace: p.ignore_whitespace,
            };
            let (file, b) = blame_at(c, &p.path, p.root.as_deref(), &content, &path_map, options)?;
            let Some(symbols) = observatory_attribution::symbols::symbols(&file, &content) else {
                return Ok(Vec::new());
            };
            Ok(
                observatory_attribution::symbols::attribute(&symbols, &b.lines)
                    .into_iter()
                    .map(|a| {
                        let mut changes: Vec<SymbolChangeBy> = a
                            .lines_by_change
                            .iter()
                            .map(|(&o, &n)| {
                                let w = &b.writes[o as usize];
                                SymbolChangeBy {
                                    session_id: w.session_id.clone(),
                                    conversation_title: w.conversation_title.clone(),
                                    tool_use_id: w.tool_use_id.clone(),
                                    at: w.at,
                                    lines: n,
                                }
                            })
                            .collect();
                        changes.reverse();
                        SymbolChange {
                            name: a.symbol.qualified_name,
                            kind: a.symbol.kind.name().to_owned(),
                            start_line: a.symbol.start_line,
                            end_line: a.symbol.end_line,
                            changes,
                        }
                    })
                    .collect(),
            )
        })
        .await?;
    Ok(axum::Json(out))
}

/// What agents did to a file: conversations, edits, reads, failures, tokens, when, and
/// the prompts that led to the changes.
#[utoipa::path(get, path = "/files/insights", params(PathParams), tag = "files",
    responses((status = 200, body = FileInsights), (status = 400, body = Problem)))]
pub(super) async fn file_insights(
    State(state): State<AppState>,
    Query(p): Query<PathParams>,
) -> Result<axum::Json<FileInsights>, ApiError> {
    state.wanted(&p.path);
    let found = state
        .pool
        .read(move |c| Ok(c.file_insights(&p.path)?))
        .await?;
    Ok(axum::Json(found))
}
