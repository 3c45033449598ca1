//! REST API v1 handlers. Every route is registered through `routes!` so that it is
//! in the OpenAPI document; `tests/api.rs` checks each documented path answers.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use observatory_attribution::blame::{blame, workspace_root};
use observatory_attribution::paths::PathMapping;
use observatory_protocol::analytics::{
    By, EditedFile, EditedParams, ProjectSummary, UsageParams, UsageRow,
};
use observatory_protocol::conversations::{
    ConversationPage, ConversationSummary, ListParams, MessagePage, MessageView, PageParams,
    ToolCallView, ToolResultView,
};
use observatory_protocol::files::{
    BlameParams, BlameRequest, BlameResponse, BlameRun, FileInsights, FileTouch, PathParams,
    SymbolChange, SymbolChangeBy, SymbolChangeRow, SymbolParams,
};
use observatory_protocol::search::{SearchPage, SearchParams};
use observatory_store::{Catalog, ConversationFilter, SearchQuery, UsageGroup};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, Problem};
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
}

/// `Query<T>` whose rejections are problem documents.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `Json<T>` whose rejections are problem documents (400 for syntax, 422 for shape).
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| Self(j.0))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// `Path<T>` whose rejections are problem documents (400: a segment that is not
/// percent-encoded UTF-8, or not of the parameter's type).
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// `WebSocketUpgrade` whose rejections are problem documents. A request that does
/// not ask to switch protocols (a plain GET, as from a browser or an HTTP client) is
/// told how: 426 Upgrade Required with `Upgrade: websocket` (RFC 9110 15.5.22).
pub struct WebSocketUpgrade(pub axum::extract::ws::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::ws::rejection::WebSocketUpgradeRejection as R;
        match axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state).await {
            Ok(ws) => Ok(Self(ws)),
            Err(R::InvalidConnectionHeader(_) | R::InvalidUpgradeHeader(_)) => {
                let mut res = ApiError::new(
                    StatusCode::UPGRADE_REQUIRED,
                    "this is a WebSocket endpoint: send the opening handshake \
                     (`Connection: Upgrade`, `Upgrade: websocket`)",
                )
                .into_response();
                let h = res.headers_mut();
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                Err(res)
            }
            Err(e) => Err(ApiError::new(e.status(), e.body_text()).into_response()),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(conversation_markdown))
        .routes(routes!(conversation_messages))
        .routes(routes!(delete_conversation))
        .routes(routes!(search))
        .routes(routes!(file_touches))
        .routes(routes!(file_insights))
        .routes(routes!(blame_file, blame_buffer))
        .routes(routes!(file_symbols))
        .routes(routes!(symbol_changes))
        .routes(routes!(usage))
        .routes(routes!(projects))
        .routes(routes!(most_edited))
        .routes(routes!(crate::stream::events))
        .routes(routes!(crate::stream::stream))
        .routes(routes!(crate::keys::create_key, crate::keys::list_keys))
        .routes(routes!(crate::keys::revoke_key))
        .routes(routes!(crate::ingest::upload))
        .routes(routes!(crate::ingest::hook))
}

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

/// List conversations, most recently active first.
#[utoipa::path(get, path = "/conversations", params(ListParams), tag = "conversations",
    responses((status = 200, body = ConversationPage), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn list_conversations(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<axum::Json<ConversationPage>, ApiError> {
    let limit = page_limit(p.limit, 500, 50)?;
    let offset = decode_cursor(p.cursor.as_deref())?;
    let filter = ConversationFilter {
        project: p.project,
        since: p.since,
        until: p.until,
        model: p.model,
        file: p.file,
        text: p.q,
        limit: Some(limit + 1),
        offset,
    };
    let mut items = pool.run(move |s| Ok(s.conversations(&filter)?)).await?;
    let next_cursor = (items.len() > limit).then(|| format!("o{}", offset + limit));
    items.truncate(limit);
    Ok(axum::Json(ConversationPage { items, next_cursor }))
}

/// One conversation, by session id or a unique prefix of it.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, body = ConversationSummary), (status = 404, body = Problem)))]
async fn get_conversation(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| Ok(s.conversation(&id)?.summary)).await?,
    ))
}

/// The conversation rendered as Markdown, from Observatory's own copy.
#[utoipa::path(get, path = "/conversations/{id}/markdown", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, content_type = "text/markdown", body = String,
        example = json!("# Fix token refresh\n\n- **Session:** `2c965cfd-41e4-4e31-8339-2986ebced03c`\n\n## Prompt · 2025-12-28 15:20:39 UTC\n\nThe refresh token expires too early\n")),
        (status = 404, body = Problem)))]
async fn conversation_markdown(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let md = pool
        .run(move |s| Ok(observatory_store::conversation_markdown(s, &id)?))
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md))
}

/// Full-text search, ranked by BM25, with `<mark>`-highlighted snippets.
#[utoipa::path(get, path = "/search", params(SearchParams), tag = "search",
    responses((status = 200, body = SearchPage), (status = 400, body = Problem),
        (status = 404, description = "No conversation matches `conversation`", body = Problem),
        (status = 422, body = Problem)))]
async fn search(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<axum::Json<SearchPage>, ApiError> {
    let mut q = SearchQuery::new(p.q);
    q.project = p.project;
    q.file = p.file;
    q.since = p.since;
    q.until = p.until;
    q.role = p.role;
    q.kind = p.kind;
    q.tool = p.tool;
    q.model = p.model;
    q.conversation = p.conversation;
    q.limit = page_limit(p.limit, 100, 20)?;
    q.offset = match p.offset {
        Some(o) if o > MAX_OFFSET => {
            return Err(ApiError::bad_request(format!(
                "offset must be at most {MAX_OFFSET}"
            )))
        }
        o => o.unwrap_or(0),
    };
    q.highlight = ("<mark>".into(), "</mark>".into());
    Ok(axum::Json(
        pool.run(move |s| Ok(s.search(&q)?.into_page())).await?,
    ))
}

/// Every recorded touch of a file (reads, edits, failures), newest first.
#[utoipa::path(get, path = "/files/touches", params(PathParams), tag = "files",
    responses((status = 200, body = Vec<FileTouch>), (status = 400, body = Problem)))]
async fn file_touches(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<PathParams>,
) -> Result<axum::Json<Vec<FileTouch>>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| Ok(s.file_touches(&p.path)?)).await?,
    ))
}

/// A file on the platform's machine and the workspace root its path is relative to.
fn locate(path: &str, root: Option<&str>) -> Result<(PathBuf, PathBuf), ApiError> {
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
    Ok((file, root))
}

fn run_blame(
    s: &mut observatory_store::Store,
    path: &str,
    root: Option<&str>,
    content: &str,
    path_map: &[PathMapping],
) -> Result<BlameResponse, ApiError> {
    let (file, root) = locate(path, root)?;
    let b = blame(s, &file, &root, content, path_map)?;
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
async fn blame_file(
    State(AppState {
        pool,
        files,
        path_map,
        ..
    }): State<AppState>,
    Query(p): Query<BlameParams>,
) -> Result<axum::Json<BlameResponse>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| {
            let content = files.read(&p.path)?;
            run_blame(s, &p.path, p.root.as_deref(), &content, &path_map)
        })
        .await?,
    ))
}

/// Which recorded change wrote each line of an editor buffer (unsaved content).
#[utoipa::path(post, path = "/files/blame", request_body = BlameRequest, tag = "files",
    responses((status = 200, body = BlameResponse), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn blame_buffer(
    State(AppState { pool, path_map, .. }): State<AppState>,
    Json(r): Json<BlameRequest>,
) -> Result<axum::Json<BlameResponse>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| run_blame(s, &r.path, r.root.as_deref(), &r.content, &path_map))
            .await?,
    ))
}

/// Token usage and estimated cost, grouped.
#[utoipa::path(get, path = "/analytics/usage", params(UsageParams), tag = "analytics",
    responses((status = 200, body = Vec<UsageRow>), (status = 400, body = Problem)))]
async fn usage(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<UsageParams>,
) -> Result<axum::Json<Vec<UsageRow>>, ApiError> {
    let group = match p.by.unwrap_or(By::Model) {
        By::Conversation => UsageGroup::Conversation,
        By::Project => UsageGroup::Project,
        By::Day => UsageGroup::Day,
        By::Model => UsageGroup::Model,
    };
    let filter = ConversationFilter {
        project: p.project,
        since: p.since,
        until: p.until,
        model: p.model,
        file: None,
        text: None,
        limit: None,
        offset: 0,
    };
    Ok(axum::Json(
        pool.run(move |s| Ok(s.usage(group, &filter)?)).await?,
    ))
}

/// Projects (the directories conversations ran in), most recently active first.
#[utoipa::path(get, path = "/projects", tag = "analytics", responses((status = 200, body = Vec<ProjectSummary>)))]
async fn projects(
    State(AppState { pool, .. }): State<AppState>,
) -> Result<axum::Json<Vec<ProjectSummary>>, ApiError> {
    Ok(axum::Json(pool.run(|s| Ok(s.projects()?)).await?))
}

/// The files agents changed most.
#[utoipa::path(get, path = "/analytics/files", params(EditedParams), tag = "analytics",
    responses((status = 200, body = Vec<EditedFile>), (status = 422, body = Problem)))]
async fn most_edited(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<EditedParams>,
) -> Result<axum::Json<Vec<EditedFile>>, ApiError> {
    let limit = page_limit(p.limit, 500, 20)?;
    Ok(axum::Json(
        pool.run(move |s| Ok(s.most_edited_files(p.project.as_deref(), limit)?))
            .await?,
    ))
}

fn view(m: &observatory_transcript::Message) -> MessageView {
    MessageView {
        uuid: m.uuid.clone(),
        parent_uuid: m
            .parent_uuid
            .clone()
            .or_else(|| m.logical_parent_uuid.clone()),
        role: m.role_or_user().as_str().to_owned(),
        at: m.timestamp,
        model: m.model.clone(),
        is_sidechain: m.is_sidechain,
        is_prompt: m.is_prompt(),
        text: m.text(),
        tool_calls: m
            .tool_uses()
            .map(|(id, name, input)| ToolCallView {
                id: id.to_owned(),
                name: name.to_owned(),
                input: input.clone(),
            })
            .collect(),
        tool_results: m
            .tool_results()
            .map(|(id, content, is_error)| ToolResultView {
                tool_use_id: id.to_owned(),
                is_error,
                content: content.chars().take(4000).collect(),
            })
            .collect(),
    }
}

/// The conversation's messages in transcript order, with tool calls and results.
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix"), PageParams),
    responses((status = 200, body = MessagePage), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn conversation_messages(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Result<axum::Json<MessagePage>, ApiError> {
    let limit = page_limit(p.limit, 500, 100)?;
    let offset = decode_cursor(p.cursor.as_deref())?;
    let records = pool
        .run(move |s| {
            let c = s.conversation(&id)?;
            Ok(s.conversation_records(c.id)?)
        })
        .await?;
    let mut seen = std::collections::HashSet::new();
    let messages: Vec<&observatory_transcript::Message> = records
        .iter()
        .filter_map(|r| match r {
            observatory_transcript::Record::Message(m) => Some(m.as_ref()),
            _ => None,
        })
        // `--resume` copies earlier records into the file: each message once.
        .filter(|m| m.uuid.as_ref().is_none_or(|u| seen.insert(u.clone())))
        .collect();
    let items: Vec<MessageView> = messages
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| view(m))
        .collect();
    let next_cursor = (messages.len() > offset + limit).then(|| format!("o{}", offset + limit));
    Ok(axum::Json(MessagePage { items, next_cursor }))
}

/// Delete a conversation from Observatory (its copy, index and figures). The
/// transcript file is not touched.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, body = ConversationSummary), (status = 404, body = Problem), (status = 403, body = Problem)))]
async fn delete_conversation(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| Ok(s.delete_conversation(&id)?)).await?,
    ))
}

/// Which conversations changed a function, method, class or module, anywhere in the
/// store, newest first ("which conversations changed `refresh_token`?").
#[utoipa::path(get, path = "/symbols", params(SymbolParams), tag = "files",
    responses((status = 200, body = Vec<SymbolChangeRow>), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn symbol_changes(
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
        .run(move |s| {
            Ok(observatory_attribution::symbols::changes_to_symbol(
                s, &p.name, limit,
            )?)
        })
        .await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|c| SymbolChangeRow {
                symbol: c.symbol,
                kind: kind_name(c.kind),
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

/// `function`, `method`, `class`…, as the symbol kind serialises.
fn kind_name(kind: observatory_attribution::symbols::SymbolKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The functions, methods, classes and modules of a file on disk that agents changed
/// (Rust, Python, TypeScript/TSX, JavaScript, Go; empty for other languages).
#[utoipa::path(get, path = "/files/symbols", params(BlameParams), tag = "files",
    responses((status = 200, body = Vec<SymbolChange>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
async fn file_symbols(
    State(AppState {
        pool,
        files,
        path_map,
        ..
    }): State<AppState>,
    Query(p): Query<BlameParams>,
) -> Result<axum::Json<Vec<SymbolChange>>, ApiError> {
    let out = pool
        .run(move |s| {
            let content = files.read(&p.path)?;
            let (file, root) = locate(&p.path, p.root.as_deref())?;
            let b = blame(s, &file, &root, &content, &path_map)?;
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
                            kind: kind_name(a.symbol.kind),
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
async fn file_insights(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<PathParams>,
) -> Result<axum::Json<FileInsights>, ApiError> {
    Ok(axum::Json(
        pool.run(move |s| Ok(s.file_insights(&p.path)?)).await?,
    ))
}
