//! Full-text search.

use axum::extract::State;
use observatory_protocol::search::{SearchPage, SearchParams};
use observatory_store::SearchQuery;

use super::{page_limit, AppState, Query, MAX_OFFSET};
use crate::error::{ApiError, Problem};

/// Full-text search, ranked by BM25, with `<mark>`-highlighted snippets.
#[utoipa::path(get, path = "/search", params(SearchParams), tag = "search",
    responses((status = 200, body = SearchPage), (status = 400, body = Problem),
        (status = 404, description = "No conversation matches `conversation`", body = Problem),
        (status = 422, body = Problem)))]
pub(super) async fn search(
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
    q.typing = p.typing.unwrap_or(false);
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
        pool.read(move |c| Ok(c.search(&q)?.into_page())).await?,
    ))
}
