//! Extractors whose rejections are problem documents: axum's `Query`, `Json`, `Path`
//! and `WebSocketUpgrade`, answering 400, 422 or 426 in `application/problem+json`.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

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
