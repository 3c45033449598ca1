//! REST API v1 handlers. Every route is registered through `routes!` so that it is
//! in the OpenAPI document; `tests/api.rs` checks each documented path answers.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use observatory_attribution::blame::{blame, workspace_root};
use observatory_attribution::paths::PathMapping;
use observatory_store::{
    Catalog, ConversationFilter, ConversationSummary, EditedFile, FileInsights, FileTouch,
    ProjectSummary, SearchPage, SearchQuery, UsageGroup, UsageRow,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only conversations in this project directory (or below it).
    project: Option<String>,
    /// Only conversations active at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only conversations started before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Only conversations that used a model whose id contains this.
    model: Option<String>,
    /// Only conversations that touched this file (absolute path or path suffix).
    file: Option<String>,
    /// Only conversations whose text matches this search query (as in `/search`).
    #[param(min_length = 1)]
    q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^o[0-9]{1,12}$")]
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "title": "Fix token refresh", "kind": "session", "parent_session": null, "project": "/Users/dev/acme-api", "git_branch": "main", "version": "2.0.75", "entrypoint": "cli", "started_at": "2025-12-28T15:20:39.093Z", "ended_at": "2025-12-28T15:42:10.500Z", "message_count": 67, "models": ["claude-opus-4-5-20251101"], "usage": {"input_tokens": 71, "output_tokens": 1686, "cache_creation_input_tokens": 25778, "cache_read_input_tokens": 142624}, "cost_usd": 0.13}], "next_cursor": "o50"}))]
pub struct ConversationPage {
    items: Vec<ConversationSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    next_cursor: Option<String>,
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
        pool.run(move |s| Ok(s.conversation(&id)?)).await?,
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

/// Only hits of this role.
// Documents the parameter, which is read as a string: the store checks it against
// the same list (`ROLES` in store/src/search.rs).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum SearchRole {
    User,
    Assistant,
    System,
}

/// Only hits of this kind of block.
// Documents the parameter, like `SearchRole` (`KINDS` in store/src/search.rs).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum SearchKind {
    Prompt,
    User,
    Assistant,
    Thinking,
    ToolInput,
    ToolOutput,
    System,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words, "quoted phrases", prefix*, -excluded, a OR b. At least one word must be
    /// searched for (not only excluded words or punctuation), at most 16 terms, and a
    /// prefix needs 3 letters before `*`: else 400.
    #[param(min_length = 1)]
    q: String,
    project: Option<String>,
    /// Only conversations that touched this file (absolute path or path suffix).
    file: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    #[param(value_type = Option<SearchRole>, inline)]
    role: Option<String>,
    #[param(value_type = Option<SearchKind>, inline)]
    kind: Option<String>,
    tool: Option<String>,
    model: Option<String>,
    conversation: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// Hits to skip: the `next_offset` of the previous page.
    // `MAX_OFFSET`; tests/api.rs checks that the two agree.
    #[param(maximum = 1_099_511_627_776_u64)]
    offset: Option<usize>,
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
    Ok(axum::Json(pool.run(move |s| Ok(s.search(&q)?)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathParams {
    /// An absolute path, or a relative one matched against the end of recorded paths.
    path: String,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BlameParams {
    /// Absolute path of the file on the platform's machine, without `..` components,
    /// under one of its `workspace_roots` (else 403).
    #[param(pattern = r"^(?![\s\S]*/\.\.(/|$))/")]
    path: String,
    /// Workspace root the path is relative to (default: its git checkout).
    root: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BlameRequest {
    /// Absolute path of the file the buffer belongs to.
    #[schema(pattern = "^/")]
    path: String,
    root: Option<String>,
    /// The buffer's content, saved or not.
    content: String,
}

/// A run of lines written by one recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlameRun {
    start_line: usize,
    end_line: usize,
    session_id: String,
    conversation_title: String,
    message_uuid: String,
    tool_use_id: String,
    tool: String,
    at: Option<DateTime<Utc>>,
    model: Option<String>,
    prompt: Option<String>,
    /// What the assistant wrote just before the call.
    reason: Option<String>,
    /// The conversation's project directory.
    project: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"lines": 120, "attributed_lines": 37, "runs": [{"start_line": 12, "end_line": 25, "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "message_uuid": "186bc58d-e2bf-4e2e-ac6d-1e0257b9e5e6", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "tool": "Edit", "at": "2025-12-28T15:22:14.810Z", "model": "claude-opus-4-5-20251101", "prompt": "The refresh token expires too early", "reason": "The expiry is compared in seconds against a value in milliseconds; I'll convert it first.", "project": "/Users/dev/acme-api"}]}))]
pub struct BlameResponse {
    lines: usize,
    attributed_lines: usize,
    runs: Vec<BlameRun>,
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

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Conversation,
    Project,
    Day,
    Model,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// conversation | project | day | model (default model)
    #[param(inline)]
    by: Option<By>,
    project: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    model: Option<String>,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EditedParams {
    project: Option<String>,
    /// 1 to 500 (default 20).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ToolCallView {
    id: String,
    name: String,
    /// The tool's input as the agent gave it.
    #[schema(value_type = Object)]
    input: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ToolResultView {
    tool_use_id: String,
    is_error: bool,
    /// The output, cut at 4,000 characters.
    content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    uuid: Option<String>,
    parent_uuid: Option<String>,
    role: String,
    at: Option<DateTime<Utc>>,
    model: Option<String>,
    is_sidechain: bool,
    /// A prompt a person typed (not a tool result or a command echo).
    is_prompt: bool,
    text: String,
    tool_calls: Vec<ToolCallView>,
    tool_results: Vec<ToolResultView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"uuid": "6fc77626-91ba-47b3-959a-c50bc7c6a882", "parent_uuid": "e947d144-88ef-4779-8fc9-3e0a66b9af9f", "role": "assistant", "at": "2025-12-28T15:20:46.845Z", "model": "claude-opus-4-5-20251101", "is_sidechain": false, "is_prompt": false, "text": "I'll extend the token lifetime.", "tool_calls": [{"id": "toolu_01Az5RFXg2kqmCM5Ppu91oaU", "name": "Edit", "input": {"file_path": "/Users/dev/acme-api/src/auth.rs", "old_string": "ttl = 60", "new_string": "ttl = 3600"}}], "tool_results": []}], "next_cursor": null}))]
pub struct MessagePage {
    items: Vec<MessageView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^o[0-9]{1,12}$")]
    cursor: Option<String>,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SymbolParams {
    /// A function, method, class or module name (`refresh_token`) or qualified name
    /// (`Auth::refresh_token`, `Auth.refresh_token`), with at least 2 letters or
    /// digits (else 422).
    // Only the length is declared: "letters or digits" are Unicode categories, which
    // the regex dialects readers apply (ECMA without `u`, Python's `re.ASCII`) cannot
    // name.
    #[param(min_length = 2)]
    name: String,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// A recorded change that wrote lines inside a symbol.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"symbol": "Auth::refresh_token", "kind": "method", "path": "/Users/dev/acme-api/src/auth.rs", "lines": [44, 45, 46], "session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "tool": "Edit", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "at": "2025-12-28T15:22:14.810Z", "prompt": "The refresh token expires too early"}))]
pub struct SymbolChangeRow {
    symbol: String,
    kind: String,
    /// The file as the agent named it.
    path: String,
    /// Lines of the symbol the change wrote (1-based, in the file right after it).
    lines: Vec<usize>,
    session_id: String,
    conversation_title: String,
    tool: String,
    tool_use_id: String,
    at: Option<DateTime<Utc>>,
    prompt: Option<String>,
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

/// A symbol agents changed, with the conversations that changed it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "Auth::refresh_token", "kind": "function", "start_line": 40, "end_line": 61, "changes": [{"session_id": "2c965cfd-41e4-4e31-8339-2986ebced03c", "conversation_title": "Fix token refresh", "tool_use_id": "toolu_019SNd8fNkSwFWe1m4EHjxLs", "at": "2025-12-28T15:22:14.810Z", "lines": 9}]}))]
pub struct SymbolChange {
    name: String,
    kind: String,
    start_line: usize,
    end_line: usize,
    /// Latest first.
    changes: Vec<SymbolChangeBy>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolChangeBy {
    session_id: String,
    conversation_title: String,
    tool_use_id: String,
    at: Option<DateTime<Utc>>,
    lines: usize,
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
