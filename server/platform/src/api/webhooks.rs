//! Webhook subscriptions and their delivery log over the API (admin scope: a
//! webhook's URL may carry a token, and it receives every matching event).
//! Secrets are in the answers of create and rotate only.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use observatory_protocol::webhooks::{
    CreatedWebhook, Delivery, DeliveryAttempt, DeliveryPage, DeliveryParams, NewWebhook,
    Redelivered, RotateParams, RotatedSecret, Webhook, WebhookUpdate,
};

use super::{page_limit, AppState, Json, Path, Query};
use crate::error::{ApiError, Problem};

/// Default grace of a rotated secret: a day, as Svix's.
const DEFAULT_GRACE: u64 = 86400;
const MAX_GRACE: u64 = 7 * 86400;

/// A body that is a JSON object of `T`'s fields. serde also reads a struct from an
/// array of its fields in order (`[null, null]`), which the document does not allow.
fn object<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// A URL the platform would refuse to call is refused when it is given, when that
/// can be known then (an IP literal); names are checked on each connection.
fn check_target(s: &AppState, url: &str) -> Result<(), ApiError> {
    let parsed = observatory_store::webhooks::check_url(url)?;
    crate::webhooks::check_target(&parsed, s.webhooks.allow_private_targets)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))
}

/// Subscribe a URL to events.
#[utoipa::path(post, path = "/webhooks", request_body = NewWebhook, tag = "webhooks",
    responses((status = 201, body = CreatedWebhook), (status = 403, body = Problem),
        (status = 422, description = "A bad URL, event type or filter, or a target on a non-public address", body = Problem)))]
pub(super) async fn create_webhook(
    State(s): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Result<(StatusCode, axum::Json<CreatedWebhook>), ApiError> {
    let new: NewWebhook = object(body)?;
    check_target(&s, &new.url)?;
    let (webhook, secret) = s.pool.write(move |w| Ok(w.create_webhook(&new)?)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedWebhook { webhook, secret }),
    ))
}

/// List webhooks (never their secrets).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = Problem)))]
pub(super) async fn list_webhooks(
    State(s): State<AppState>,
) -> Result<axum::Json<Vec<Webhook>>, ApiError> {
    Ok(axum::Json(s.pool.read(|c| Ok(c.webhooks()?)).await?))
}

/// One webhook.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn get_webhook(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Webhook>, ApiError> {
    Ok(axum::Json(s.pool.read(move |c| Ok(c.webhook(id)?)).await?))
}

/// Change a webhook: its URL, event types, filters, description, format, or state
/// (`paused` to stop sending while keeping events, `active` to resume or re-enable).
#[utoipa::path(patch, path = "/webhooks/{id}", request_body = WebhookUpdate, tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 404, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "A bad URL, event type or filter, a target on a non-public address, or `state: disabled`", body = Problem)))]
pub(super) async fn update_webhook(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<serde_json::Value>,
) -> Result<axum::Json<Webhook>, ApiError> {
    let update: WebhookUpdate = object(body)?;
    if let Some(url) = &update.url {
        check_target(&s, url)?;
    }
    let webhook = s
        .pool
        .write(move |w| Ok(w.update_webhook(id, &update)?))
        .await?;
    // Resumed: what it queued while paused is due.
    s.webhooks.wake.notify_one();
    Ok(axum::Json(webhook))
}

/// Delete a webhook, with its deliveries.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn delete_webhook(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if s.pool.write(move |w| Ok(w.delete_webhook(id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no webhook {id}"),
        ))
    }
}

/// Give a webhook a new signing secret. The old one keeps signing beside it for
/// `grace_seconds` (deliveries carry both signatures), so receivers can switch.
#[utoipa::path(post, path = "/webhooks/{id}/rotate", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), RotateParams),
    responses((status = 200, body = RotatedSecret), (status = 404, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "`grace_seconds` out of range", body = Problem)))]
pub(super) async fn rotate_secret(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<RotateParams>,
) -> Result<axum::Json<RotatedSecret>, ApiError> {
    let grace = p.grace_seconds.unwrap_or(DEFAULT_GRACE);
    if grace > MAX_GRACE {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("grace_seconds is at most {MAX_GRACE}"),
        ));
    }
    let until = Utc::now() + chrono::Duration::seconds(i64::try_from(grace).unwrap_or(0));
    let (secret, previous_valid_until) = s
        .pool
        .write(move |w| Ok(w.rotate_webhook_secret(id, until)?))
        .await?;
    Ok(axum::Json(RotatedSecret {
        secret,
        previous_valid_until,
    }))
}

/// Send a `webhook.test` event to a webhook now (queued like any delivery; follow
/// it in the delivery log).
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 202, body = Delivery), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn test_webhook(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, axum::Json<Delivery>), ApiError> {
    let delivery = s.pool.write(move |w| Ok(w.send_webhook_test(id)?)).await?;
    s.webhooks.wake.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(delivery)))
}

/// A webhook's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), DeliveryParams),
    responses((status = 200, body = DeliveryPage), (status = 404, body = Problem), (status = 403, body = Problem),
        (status = 400, body = Problem), (status = 422, description = "`limit` or `before` out of range", body = Problem)))]
pub(super) async fn list_deliveries(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<DeliveryParams>,
) -> Result<axum::Json<DeliveryPage>, ApiError> {
    let limit = page_limit(p.limit, 500, 50)?;
    if p.before.is_some_and(|b| b < 1) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "before is a delivery id, 1 or more",
        ));
    }
    let deliveries = s
        .pool
        .read(move |c| Ok(c.webhook_deliveries(id, &p, limit)?))
        .await?;
    let next_before = (deliveries.len() == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    Ok(axum::Json(DeliveryPage {
        deliveries,
        next_before,
    }))
}

/// One delivery.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = Delivery), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn get_delivery(
    State(s): State<AppState>,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<axum::Json<Delivery>, ApiError> {
    Ok(axum::Json(
        s.pool
            .read(move |c| Ok(c.webhook_delivery(id, delivery)?))
            .await?,
    ))
}

/// Every HTTP attempt of a delivery, oldest first: status, latency and the start
/// of the response.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{delivery}/attempts", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = Vec<DeliveryAttempt>), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn list_attempts(
    State(s): State<AppState>,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<axum::Json<Vec<DeliveryAttempt>>, ApiError> {
    Ok(axum::Json(
        s.pool
            .read(move |c| Ok(c.webhook_attempts(id, delivery)?))
            .await?,
    ))
}

/// Send one delivery again, whatever its state, with the retry schedule started over.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 202, body = Redelivered), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn redeliver_one(
    State(s): State<AppState>,
    Path((id, delivery)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<Redelivered>), ApiError> {
    let count = s
        .pool
        .write(move |w| Ok(w.redeliver_webhook(id, Some(delivery))?))
        .await?;
    s.webhooks.wake.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Redelivered { count })))
}

/// Send every failed delivery of a webhook again.
#[utoipa::path(post, path = "/webhooks/{id}/redeliver", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 202, body = Redelivered), (status = 404, body = Problem), (status = 403, body = Problem)))]
pub(super) async fn redeliver_failed(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, axum::Json<Redelivered>), ApiError> {
    let count = s
        .pool
        .write(move |w| Ok(w.redeliver_webhook(id, None)?))
        .await?;
    s.webhooks.wake.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Redelivered { count })))
}
