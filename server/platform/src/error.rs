//! RFC 9457 problem details for every error the API returns: the handlers' own
//! ([`ApiError`]), the extractors' rejections, and what layers and axum answer by
//! themselves ([`problem_responses`]). [`document_problems`] declares them in the
//! OpenAPI document.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use observatory_protocol::problem::Problem;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// Seconds to send in `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the platform's log",
        )
    }
}

/// The store could not read a file's history: its error, logged.
impl From<observatory_attribution::HistoryError> for ApiError {
    fn from(e: observatory_attribution::HistoryError) -> Self {
        Self::internal(format!("{e}: {}", e.0))
    }
}

impl From<observatory_store::Error> for ApiError {
    fn from(e: observatory_store::Error) -> Self {
        use observatory_store::Error as E;
        match e {
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            E::BadQuery(_) | E::Ambiguous(..) => Self::bad_request(e.to_string()),
            E::Invalid(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        res
    }
}

/// The content type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Longest error body kept as a problem's detail: the texts axum and tower-http
/// answer with are one line.
const MAX_DETAIL: usize = 4096;

/// Makes every error response a problem document. Handlers and the `Query`, `Json`
/// and `Path` wrappers answer with [`ApiError`] already; this catches the rest:
/// rejections of extractors without a wrapper (`String` bodies that are not UTF-8),
/// 405 from the router, 413 from the body limit, 408 from the timeout. Their text
/// becomes the detail; their headers (`Retry-After`, `Upgrade`) are kept.
///
/// What hyper answers by itself never gets here: 400 for a request it cannot parse,
/// 414 for a target over 64 KiB, 431 for over 100 header fields or ~400 KiB of
/// headers. Those are an empty body with `connection: close`.
pub async fn problem_responses(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(res.headers()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // A body over the limit is not a rejection's text; the status says enough then.
    let text = axum::body::to_bytes(body, MAX_DETAIL)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = default_detail(status, &method, text);
    let (problem, body) = ApiError::new(status, detail).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON))
}

/// A detail for a response that came with a bare status or a terse text.
fn default_detail(status: StatusCode, method: &Method, text: String) -> String {
    match status {
        // The router adds `Allow` after the layers have run: it is not here to quote.
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{method} is not allowed here; the `Allow` header lists what is")
        }
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is over the limit of {} MiB",
            crate::MAX_BODY / (1024 * 1024)
        ),
        StatusCode::REQUEST_TIMEOUT if text.is_empty() => {
            "the request took too long to answer".to_owned()
        }
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_lowercase(),
        _ => text,
    }
}

/// Error statuses every `/api/v1` operation can answer with, whatever its handler
/// does: the layers in front of the handlers give them (`app()` in lib.rs).
const EVERY_OPERATION: [u16; 4] = [401, 421, 429, 503];

/// The shared description of a problem response (`components/responses`), and
/// whether it carries `Retry-After`.
fn shared_problem(status: u16) -> Option<(&'static str, String, bool)> {
    let (name, description, retry_after) = match status {
        400 => (
            "BadRequest",
            "The query string, a path parameter or the body could not be read: not of \
             the declared type, not UTF-8, not JSON.",
            false,
        ),
        401 => (
            "Unauthorized",
            "No `Authorization: Bearer` token, or not a valid one.",
            false,
        ),
        413 => (
            "ContentTooLarge",
            &*format!(
                "The request body is over the size limit ({} MiB).",
                crate::MAX_BODY / (1024 * 1024)
            ),
            false,
        ),
        415 => (
            "UnsupportedMediaType",
            "The body is not sent as `application/json`.",
            false,
        ),
        421 => (
            "MisdirectedRequest",
            "The `Host` header is not a loopback name while the platform listens on \
             loopback only (a defence against DNS rebinding).",
            false,
        ),
        422 => (
            "UnprocessableContent",
            "The body is JSON but not of the declared shape, or a value in it is refused.",
            false,
        ),
        429 => (
            "TooManyRequests",
            "Over the credential's rate limit, or too many failed authentications from \
             this address. Retry after `Retry-After` seconds.",
            true,
        ),
        503 => (
            "ServiceUnavailable",
            "The platform is handling as many requests as it can. Retry after \
             `Retry-After` seconds.",
            true,
        ),
        _ => return None,
    };
    Some((name, description.to_owned(), retry_after))
}

/// "Not Found" for "404".
fn status_name(status: &str) -> String {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
        .to_owned()
}

fn problem_content() -> utoipa::openapi::Content {
    utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
}

/// Declares the problem documents in the OpenAPI document: error responses written
/// `body = Problem` in the handlers' annotations are served as
/// `application/problem+json` (utoipa writes `application/json` for any body), and
/// every operation also lists what the layers and extractors in front of its handler
/// can answer: 401, 421, 429 and 503 for all; 400 with parameters or a body (they may
/// not parse); 413 with a body; 415 and 422 with a JSON body. Run on the document
/// with its paths (after `split_for_parts`): `#[openapi(modifiers)]` run before the
/// routes are added.
pub fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr};
    let mut shared = std::collections::BTreeSet::new();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let declared_problem = response.content.get("application/json").is_some_and(|c| {
                    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                });
                if declared_problem {
                    if let Some(content) = response.content.shift_remove("application/json") {
                        response.content.insert(PROBLEM_JSON.to_owned(), content);
                    }
                    // utoipa leaves it empty unless the annotation gives one.
                    if response.description.is_empty() {
                        response.description = status_name(status);
                    }
                }
            }
            let mut statuses = EVERY_OPERATION.to_vec();
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                statuses.push(400);
            }
            if let Some(body) = &op.request_body {
                statuses.extend([400, 413]);
                if body.content.contains_key("application/json") {
                    statuses.extend([415, 422]);
                }
            }
            for status in statuses {
                let Some((name, _, _)) = shared_problem(status) else {
                    continue;
                };
                // What a handler's annotation declares itself stays as it is.
                if let std::collections::btree_map::Entry::Vacant(e) =
                    op.responses.responses.entry(status.to_string())
                {
                    e.insert(RefOr::Ref(Ref::from_response_name(name)));
                    shared.insert(status);
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for status in shared {
        let Some((name, description, retry_after)) = shared_problem(status) else {
            continue;
        };
        let mut response = utoipa::openapi::Response::new(description);
        response
            .content
            .insert(PROBLEM_JSON.to_owned(), problem_content());
        if retry_after {
            let mut header = utoipa::openapi::header::Header::new(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some(0)),
            );
            header.description = Some("Seconds to wait before retrying.".to_owned());
            response.headers.insert("Retry-After".to_owned(), header);
        }
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
}
