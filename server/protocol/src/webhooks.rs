//! Webhooks: subscriptions to the event log, delivered over HTTP and signed by the
//! Standard Webhooks specification, with a log of every delivery attempt (admin
//! scope).
//!
//! Not in the TypeScript bindings: editors never manage webhooks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Kind of the event `POST /webhooks/{id}/test` sends (never in the event log).
pub const TEST_KIND: &str = "webhook.test";

/// The body a webhook receives.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"type", "timestamp", "data"}` (Standard Webhooks), `data` being the event.
    #[default]
    Standard,
    /// `{"text"}`, for a Slack incoming webhook.
    Slack,
    /// `{"content"}`, for a Discord webhook.
    Discord,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Slack => "slack",
            Self::Discord => "discord",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Self::Standard),
            "slack" => Some(Self::Slack),
            "discord" => Some(Self::Discord),
            _ => None,
        }
    }
}

/// Whether a webhook receives events.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookState {
    /// Events are queued and sent.
    #[default]
    Active,
    /// Events are queued but not sent until it is active again.
    Paused,
    /// Nothing is queued: the receiver answered 410 Gone, or failed for days
    /// (`disabled_reason` says which). Setting it `active` again re-enables it.
    Disabled,
}

impl WebhookState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// A subscription (its secret is shown only by create and rotate).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 1, "url": "https://hooks.example.com/observatory", "description": "auth changes", "event_types": ["file.touched"], "project": "/Users/dev/acme-api", "path_glob": "*/src/auth/*", "format": "standard", "state": "active", "disabled_reason": null, "created_at": "2025-12-28T15:00:00Z", "updated_at": "2025-12-28T15:00:00Z"})))]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event kinds it receives; `*` matches any run of characters (`hook.*`, `*`).
    pub event_types: Vec<String>,
    /// Only events of conversations in this project directory (or below).
    pub project: Option<String>,
    /// Only events about a path matching this glob (`*`, `?`, `[...]`; `*` also
    /// crosses `/`).
    pub path_glob: Option<String>,
    pub format: WebhookFormat,
    pub state: WebhookState,
    /// Why it was disabled, when it was.
    pub disabled_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A new subscription.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"url": "https://hooks.example.com/observatory", "event_types": ["file.touched"], "path_glob": "*/src/auth/*", "description": "auth changes"})))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http` or `https`, at most 2,000 characters, without user name or password.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2000, pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://")
    )]
    pub url: String,
    /// Event kinds (`file.touched`, `hook.*`, `*`…): 1 to 32 of them.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 32))]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub path_glob: Option<String>,
    /// A note for people, at most 500 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<WebhookFormat>,
}

/// Changes to a subscription; absent fields stay as they are, and an empty
/// `project` or `path_glob` removes that filter.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"state": "paused"})))]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2000, pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://")
    )]
    pub url: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 32))]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub path_glob: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<WebhookFormat>,
    /// `paused` stops sending (events are kept); `active` resumes, or re-enables a
    /// disabled webhook.
    #[serde(default)]
    pub state: Option<WebhookState>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"webhook": {"id": 1, "url": "https://hooks.example.com/observatory", "description": "auth changes", "event_types": ["file.touched"], "project": "/Users/dev/acme-api", "path_glob": "*/src/auth/*", "format": "standard", "state": "active", "disabled_reason": null, "created_at": "2025-12-28T15:00:00Z", "updated_at": "2025-12-28T15:00:00Z"}, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="})))]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// The signing secret (`whsec_` and base64), shown this once; rotate it to get
    /// a new one.
    pub secret: String,
}

/// Query of `POST /webhooks/{id}/rotate`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateParams {
    /// How long the old secret keeps signing beside the new one, in seconds, 0 to
    /// 604800 (default 86400).
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 604800))]
    pub grace_seconds: Option<u64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"secret": "whsec_c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHM=", "previous_valid_until": "2025-12-29T15:00:00Z"})))]
pub struct RotatedSecret {
    /// The new signing secret, shown this once.
    pub secret: String,
    /// Until then deliveries carry a signature by the old secret too.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// Where a delivery stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet; `next_attempt_at` says when it is tried.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt of the retry schedule failed, or the webhook was disabled.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one webhook (a message, in Standard Webhooks' words).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 88, "webhook_id": 1, "message_id": "msg_5f0c2e1d9a8b4c7d6e5f4a3b2c1d0e9f", "event_id": 1042, "kind": "file.touched", "status": "delivered", "attempts": 1, "created_at": "2025-12-28T15:22:14.900Z", "next_attempt_at": null, "delivered_at": "2025-12-28T15:22:14.950Z", "last_error": null})))]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    /// The `webhook-id` header: the same on every attempt, for receivers to dedupe.
    pub message_id: String,
    /// The event it carries (none for test events).
    pub event_id: Option<i64>,
    pub kind: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub created_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One HTTP request of a delivery.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 301, "delivery_id": 88, "at": "2025-12-28T15:22:14.920Z", "status_code": 200, "latency_ms": 31, "response": "ok", "error": null})))]
pub struct DeliveryAttempt {
    pub id: i64,
    pub delivery_id: i64,
    pub at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status; none when no answer came (refused, timed out).
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The start of the response body (at most 1 KiB).
    pub response: Option<String>,
    /// Why it failed without an answer, or what the answer meant.
    pub error: Option<String>,
}

/// Query of `GET /webhooks/{id}/deliveries`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryParams {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries older than this id (the last one of the previous page).
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub before: Option<i64>,
    /// Page size, 1 to 500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<usize>,
}

/// Newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"deliveries": [{"id": 88, "webhook_id": 1, "message_id": "msg_5f0c2e1d9a8b4c7d6e5f4a3b2c1d0e9f", "event_id": 1042, "kind": "file.touched", "status": "delivered", "attempts": 1, "created_at": "2025-12-28T15:22:14.900Z", "next_attempt_at": null, "delivered_at": "2025-12-28T15:22:14.950Z", "last_error": null}], "next_before": null})))]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Pass as `before` for the next page; none at the end.
    pub next_before: Option<i64>,
}

/// How many deliveries were queued again.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", schema(example = json!({"count": 3})))]
pub struct Redelivered {
    pub count: u64,
}
