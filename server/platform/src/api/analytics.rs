//! Usage and cost, projects, and the files agents changed most.

use axum::extract::State;
use observatory_protocol::analytics::{
    By, EditedFile, EditedParams, ProjectSummary, UsageParams, UsageRow,
};
use observatory_store::{ConversationFilter, UsageGroup};

use super::{page_limit, AppState, Query};
use crate::error::{ApiError, Problem};

/// Token usage and estimated cost, grouped.
#[utoipa::path(get, path = "/analytics/usage", params(UsageParams), tag = "analytics",
    responses((status = 200, body = Vec<UsageRow>), (status = 400, body = Problem)))]
pub(super) async fn usage(
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
        pool.read(move |c| Ok(c.usage(group, &filter)?)).await?,
    ))
}

/// Projects (the directories conversations ran in), most recently active first.
#[utoipa::path(get, path = "/projects", tag = "analytics", responses((status = 200, body = Vec<ProjectSummary>)))]
pub(super) async fn projects(
    State(AppState { pool, .. }): State<AppState>,
) -> Result<axum::Json<Vec<ProjectSummary>>, ApiError> {
    Ok(axum::Json(pool.read(|c| Ok(c.projects()?)).await?))
}

/// The files agents changed most.
#[utoipa::path(get, path = "/analytics/files", params(EditedParams), tag = "analytics",
    responses((status = 200, body = Vec<EditedFile>), (status = 422, body = Problem)))]
pub(super) async fn most_edited(
    State(AppState { pool, .. }): State<AppState>,
    Query(p): Query<EditedParams>,
) -> Result<axum::Json<Vec<EditedFile>>, ApiError> {
    let limit = page_limit(p.limit, 500, 20)?;
    Ok(axum::Json(
        pool.read(move |c| Ok(c.most_edited_files(p.project.as_deref(), limit)?))
            .await?,
    ))
}
