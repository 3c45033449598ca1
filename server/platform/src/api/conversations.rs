//! Conversations: the list (cursor pages), one, its Markdown, its messages, the
//! files it touched, and deleting one.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use observatory_protocol::conversations::{
    ConversationFile, ConversationPage, ConversationSummary, ListParams, MessagePage, MessageView,
    PageParams, ToolCallView, ToolResultView,
};
use observatory_store::ConversationFilter;

use super::{decode_cursor, page_limit, AppState, Path, Query};
use crate::error::{ApiError, Problem};

/// List conversations, most recently active first.
#[utoipa::path(get, path = "/conversations", params(ListParams), tag = "conversations",
    responses((status = 200, body = ConversationPage), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn list_conversations(
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
    let mut items = pool.read(move |c| Ok(c.conversations(&filter)?)).await?;
    let next_cursor = (items.len() > limit).then(|| format!("o{}", offset + limit));
    items.truncate(limit);
    Ok(axum::Json(ConversationPage { items, next_cursor }))
}

/// One conversation, by session id or a unique prefix of it.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, body = ConversationSummary), (status = 404, body = Problem)))]
pub(super) async fn get_conversation(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>, ApiError> {
    Ok(axum::Json(
        pool.read(move |c| Ok(c.conversation(&id)?.summary)).await?,
    ))
}

/// The files the conversation touched, each once with the changes it made to it,
/// most recently touched first (then by path). Paths are as the agent recorded them.
#[utoipa::path(get, path = "/conversations/{id}/files", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, body = Vec<ConversationFile>), (status = 404, body = Problem)))]
pub(super) async fn conversation_files(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<ConversationFile>>, ApiError> {
    Ok(axum::Json(
        pool.read(move |c| {
            let conversation = c.conversation(&id)?;
            Ok(c.conversation_files(conversation.id)?)
        })
        .await?,
    ))
}

/// The conversation rendered as Markdown, from Observatory's own copy.
#[utoipa::path(get, path = "/conversations/{id}/markdown", tag = "conversations",
    params(("id" = String, Path, description = "Session id or unique prefix")),
    responses((status = 200, content_type = "text/markdown", body = String,
        example = json!("# Fix token refresh\n\n- **Session:** `2c965cfd-41e4-4e31-8339-2986ebced03c`\n\n## Prompt · 2025-12-28 15:20:39 UTC\n\nThe refresh token expires too early\n")),
        (status = 404, body = Problem)))]
pub(super) async fn conversation_markdown(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let md = pool
        .read(move |c| Ok(observatory_store::conversation_markdown(c, &id)?))
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md))
}

fn view(m: &observatory_transcript::Message) -> MessageView {
    use observatory_transcript::{CommandEcho, Role};
    let text = m.text();
    let echo = (m.role_or_user() == Role::User)
        .then(|| CommandEcho::of(&text))
        .flatten();
    let (command, command_output) = match echo {
        Some(CommandEcho::Typed(c)) => (Some(c), None),
        Some(CommandEcho::Output(o)) => (None, Some(o)),
        None => (None, None),
    };
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
        text,
        command,
        command_output,
        thinking: m.thinking(),
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
pub(super) async fn conversation_messages(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Result<axum::Json<MessagePage>, ApiError> {
    let limit = page_limit(p.limit, 500, 100)?;
    let offset = decode_cursor(p.cursor.as_deref())?;
    let records = pool
        .read(move |c| {
            let conversation = c.conversation(&id)?;
            Ok(c.conversation_records(conversation.id)?)
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
pub(super) async fn delete_conversation(
    State(AppState { pool, .. }): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>, ApiError> {
    Ok(axum::Json(
        pool.write(move |w| Ok(w.delete_conversation(&id)?)).await?,
    ))
}
