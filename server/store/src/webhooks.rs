//! Webhooks: subscriptions, the durable outbox and the log of delivery attempts.
//!
//! The outbox is filled by a trigger on `events` (migration 7): every event inserted
//! gets one `webhook_deliveries` row per active or paused subscription that matches
//! it, in the same transaction as the event, so an event the log accepted is an
//! event that will be delivered, whether it came from indexing or a hook, and
//! whichever process wrote it. A delivery keeps a copy of its event: deleting a
//! conversation deletes its events, not what is already on its way.
//!
//! The platform's dispatcher reads due deliveries (`Catalog::due_webhook_deliveries`)
//! and records each attempt (`Writer::record_webhook_attempt`); retry policy lives
//! there, not here.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use observatory_protocol::webhooks::{
    Delivery, DeliveryAttempt, DeliveryParams, DeliveryStatus, NewWebhook, Webhook, WebhookFormat,
    WebhookState, WebhookUpdate, TEST_KIND,
};
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::packed::StoredChange;
use crate::sql::{from_ms, key_hash};
use crate::{Error, Result};

/// Longest URL accepted.
pub const MAX_URL: usize = 2000;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Most event types a subscription lists.
pub const MAX_EVENT_TYPES: usize = 32;
/// Largest event `data` copied into the outbox; a larger one (a hook's payload with
/// a whole file in it) is replaced by `{"truncated": true, "bytes": N}`.
pub const MAX_DATA: usize = 256 * 1024;
/// Longest response excerpt kept per attempt.
pub const MAX_EXCERPT: usize = 1024;

/// The schema of the webhook tables and the outbox trigger (migration 7).
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        -- A JSON array of GLOB patterns over event kinds.
        event_types TEXT NOT NULL,
        project TEXT,
        path_glob TEXT,
        format TEXT NOT NULL DEFAULT 'standard',
        -- Signing needs the secret itself: the database is private to its user (0600).
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_until INTEGER,
        state TEXT NOT NULL DEFAULT 'active',
        disabled_reason TEXT,
        -- When the current run of failed attempts began (NULL after a success).
        failing_since INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        -- `webhook-id`: random, so that it stays unique for receivers even if this
        -- database is recreated and row ids start over.
        uid TEXT NOT NULL UNIQUE,
        webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        -- No foreign key: the event may go with its conversation; the copy below stays.
        event_id INTEGER,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        session_id TEXT,
        project TEXT,
        path TEXT,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        -- Position in the retry schedule; a redelivery starts it over.
        step INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        delivered_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
    CREATE TABLE webhook_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        status_code INTEGER,
        latency_ms INTEGER NOT NULL,
        response TEXT,
        error TEXT
    );
    CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);
    -- The outbox, written with the event. Paused subscriptions queue (and send on
    -- resume); disabled ones do not.
    CREATE TRIGGER webhook_outbox AFTER INSERT ON events
    WHEN EXISTS (SELECT 1 FROM webhooks WHERE state IN ('active', 'paused'))
    BEGIN
        INSERT INTO webhook_deliveries
            (uid, webhook_id, event_id, kind, at, session_id, project, path, data, created_at, next_attempt_at)
        SELECT lower(hex(randomblob(16))), w.id, NEW.id, NEW.kind, NEW.at, NEW.session_id,
               NEW.project, NEW.path,
               CASE WHEN length(NEW.data) <= 262144 THEN NEW.data
                    ELSE json_object('truncated', json('true'), 'bytes', length(NEW.data)) END,
               NEW.at, NEW.at
          FROM webhooks w
         WHERE w.state IN ('active', 'paused')
           AND EXISTS (SELECT 1 FROM json_each(w.event_types) t WHERE NEW.kind GLOB t.value)
           AND (w.project IS NULL OR NEW.project = w.project
                OR substr(NEW.project, 1, length(w.project) + 1) = w.project || '/')
           AND (w.path_glob IS NULL OR NEW.path GLOB w.path_glob);
    END;
"#;

/// A delivery that is due, with what sending it needs. Its `Debug` leaves the
/// secrets out.
#[derive(Clone)]
pub struct DueDelivery {
    pub id: i64,
    /// `webhook-id`.
    pub message_id: String,
    pub webhook_id: i64,
    pub url: String,
    pub format: WebhookFormat,
    /// Secrets to sign with: the current one, then the previous one during its grace.
    pub secrets: Vec<String>,
    /// The event as the stream sends it (`id` is 0 for a test event).
    pub event: crate::Event,
    /// Attempts made in this round (the position in the retry schedule).
    pub step: u32,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("message_id", &self.message_id)
            .field("webhook_id", &self.webhook_id)
            .field("format", &self.format)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("event", &self.event.id)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; try again at this time (ms since the epoch).
    RetryAt(i64),
    /// Failed, and the retry schedule is spent.
    GiveUp,
    /// The receiver asked never to be called again (410 Gone): the webhook is
    /// disabled with this reason; the delivery stays pending, for a re-enabled one.
    Disable(String),
}

/// One attempt of one delivery, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub response: Option<String>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// A webhook failing for this long without a success is disabled (ms).
    pub disable_after_ms: i64,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(format!("invalid webhook: {}", msg.into()))
}

/// A URL a webhook may have: absolute `http(s)` with a host, no credentials.
/// Whether its address may be called is the platform's decision, when it connects.
pub fn check_url(url: &str) -> Result<url::Url> {
    if url.len() > MAX_URL {
        return Err(invalid(format!(
            "a webhook URL is at most {MAX_URL} characters"
        )));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("bad URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("a webhook URL is http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a webhook URL needs a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "a webhook URL carries no user name or password; the signature authenticates",
        ));
    }
    Ok(parsed)
}

fn check_event_types(types: &[String]) -> Result<()> {
    if types.is_empty() || types.len() > MAX_EVENT_TYPES {
        return Err(invalid(format!(
            "a webhook needs 1 to {MAX_EVENT_TYPES} event types (`*` for every kind)"
        )));
    }
    for t in types {
        let ok = !t.is_empty()
            && t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*'));
        if !ok {
            return Err(invalid(format!(
                "event type {t:?}: 1 to 100 letters, digits, '.', '_', '-' or '*'"
            )));
        }
    }
    Ok(())
}

/// `None` or empty: no filter.
fn check_filter(what: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} is at most {max} characters, none of them control characters"
        )));
    }
    Ok(Some(v.to_owned()))
}

fn check_description(d: Option<&str>) -> Result<String> {
    Ok(check_filter("a description", d, MAX_DESCRIPTION)?.unwrap_or_default())
}

fn project_filter(p: Option<&str>) -> Result<Option<String>> {
    Ok(check_filter("a project", p, 4096)?.map(|p| {
        let trimmed = p.trim_end_matches('/');
        if trimmed.is_empty() {
            p
        } else {
            trimmed.to_owned()
        }
    }))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64, as Standard
/// Webhooks has it.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

const WEBHOOK_COLUMNS: &str = "id, url, description, event_types, project, path_glob, format, state, disabled_reason, created_at, updated_at";

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let types: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        event_types: serde_json::from_str(&types).unwrap_or_default(),
        project: r.get(4)?,
        path_glob: r.get(5)?,
        format: WebhookFormat::parse(&r.get::<_, String>(6)?).unwrap_or_default(),
        state: WebhookState::parse(&r.get::<_, String>(7)?).unwrap_or_default(),
        disabled_reason: r.get(8)?,
        created_at: from_ms(r.get(9)?),
        updated_at: from_ms(r.get(10)?),
    })
}

/// `Catalog::webhooks`.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Webhook>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id"
    ))?;
    let rows = stmt.query_map([], webhook_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `Catalog::webhook`.
pub(crate) fn get(conn: &Connection, id: i64) -> Result<Webhook> {
    conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1"
    ))?
    .query_row([id], webhook_row)
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("no webhook {id}")))
}

/// `Writer::create_webhook`.
pub(crate) fn create(conn: &Connection, w: &NewWebhook) -> Result<(Webhook, String)> {
    let url = check_url(&w.url)?;
    check_event_types(&w.event_types)?;
    let project = project_filter(w.project.as_deref())?;
    let path_glob = check_filter("a path glob", w.path_glob.as_deref(), 1000)?;
    let description = check_description(w.description.as_deref())?;
    let secret = new_secret();
    let now = now_ms();
    conn.execute(
        "INSERT INTO webhooks (url, description, event_types, project, path_glob, format, secret, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            url.as_str(),
            description,
            serde_json::to_string(&w.event_types).unwrap_or_else(|_| "[]".into()),
            project,
            path_glob,
            w.format.unwrap_or_default().as_str(),
            secret,
            now
        ],
    )?;
    Ok((get(conn, conn.last_insert_rowid())?, secret))
}

/// `Writer::update_webhook`.
pub(crate) fn update(conn: &mut Connection, id: i64, u: &WebhookUpdate) -> Result<Webhook> {
    // IMMEDIATE: it reads, then writes; a deferred one fails at once (SQLITE_BUSY)
    // when the indexer commits in between, instead of waiting its turn.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current = get(&tx, id)?;
    let now = now_ms();
    if let Some(url) = &u.url {
        let url = check_url(url)?;
        tx.execute(
            "UPDATE webhooks SET url = ?1 WHERE id = ?2",
            params![url.as_str(), id],
        )?;
    }
    if let Some(types) = &u.event_types {
        check_event_types(types)?;
        tx.execute(
            "UPDATE webhooks SET event_types = ?1 WHERE id = ?2",
            params![
                serde_json::to_string(types).unwrap_or_else(|_| "[]".into()),
                id
            ],
        )?;
    }
    if let Some(p) = &u.project {
        tx.execute(
            "UPDATE webhooks SET project = ?1 WHERE id = ?2",
            params![project_filter(Some(p))?, id],
        )?;
    }
    if let Some(g) = &u.path_glob {
        tx.execute(
            "UPDATE webhooks SET path_glob = ?1 WHERE id = ?2",
            params![check_filter("a path glob", Some(g), 1000)?, id],
        )?;
    }
    if let Some(d) = &u.description {
        tx.execute(
            "UPDATE webhooks SET description = ?1 WHERE id = ?2",
            params![check_description(Some(d))?, id],
        )?;
    }
    if let Some(f) = u.format {
        tx.execute(
            "UPDATE webhooks SET format = ?1 WHERE id = ?2",
            params![f.as_str(), id],
        )?;
    }
    match u.state {
        None => {}
        Some(WebhookState::Disabled) => {
            return Err(invalid(
                "a webhook is disabled by its failures; pause it instead",
            ))
        }
        Some(s) if s == current.state => {}
        Some(s) => {
            // Re-enabling starts the failure clock over.
            tx.execute(
                "UPDATE webhooks SET state = ?1, disabled_reason = NULL, failing_since = NULL WHERE id = ?2",
                params![s.as_str(), id],
            )?;
        }
    }
    tx.execute(
        "UPDATE webhooks SET updated_at = ?1 WHERE id = ?2",
        params![now, id],
    )?;
    let updated = get(&tx, id)?;
    tx.commit()?;
    Ok(updated)
}

/// `Writer::delete_webhook`: with its deliveries and their attempts.
pub(crate) fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM webhooks WHERE id = ?1", [id])? == 1)
}

/// `Writer::rotate_webhook_secret`: a new secret; the old one keeps signing until
/// `grace_until` (or not at all if that is now or earlier).
pub(crate) fn rotate(
    conn: &Connection,
    id: i64,
    grace_until: DateTime<Utc>,
) -> Result<(String, Option<DateTime<Utc>>)> {
    let secret = new_secret();
    let until = grace_until.timestamp_millis();
    let keep = until > now_ms();
    let n = conn.execute(
        "UPDATE webhooks SET previous_secret = CASE WHEN ?3 THEN secret END,
                             previous_secret_until = CASE WHEN ?3 THEN ?2 END,
                             secret = ?1, updated_at = ?4
          WHERE id = ?5",
        params![secret, until, keep, now_ms(), id],
    )?;
    if n == 0 {
        return Err(Error::NotFound(format!("no webhook {id}")));
    }
    Ok((secret, keep.then_some(grace_until)))
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, uid, event_id, kind, status, attempts, created_at, next_attempt_at, delivered_at, last_error";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        webhook_id: r.get(1)?,
        message_id: format!("msg_{}", r.get::<_, String>(2)?),
        event_id: r.get(3)?,
        kind: r.get(4)?,
        status: DeliveryStatus::parse(&r.get::<_, String>(5)?).unwrap_or(DeliveryStatus::Pending),
        attempts: r.get(6)?,
        created_at: from_ms(r.get(7)?),
        next_attempt_at: from_ms(r.get(8)?),
        delivered_at: from_ms(r.get(9)?),
        last_error: r.get(10)?,
    })
}

/// `Writer::send_webhook_test`: a `webhook.test` delivery, due now.
pub(crate) fn enqueue_test(conn: &Connection, id: i64) -> Result<Delivery> {
    let w = get(conn, id)?;
    let now = now_ms();
    let data = serde_json::json!({
        "message": "A test event from Observatory: this webhook is set up.",
        "webhook_id": w.id,
    });
    conn.execute(
        "INSERT INTO webhook_deliveries (uid, webhook_id, kind, at, data, created_at, next_attempt_at)
         VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?3, ?3)",
        params![id, TEST_KIND, now, data.to_string()],
    )?;
    delivery(conn, id, conn.last_insert_rowid())
}

/// `Catalog::webhook_delivery`.
pub(crate) fn delivery(conn: &Connection, webhook_id: i64, id: i64) -> Result<Delivery> {
    conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1 AND webhook_id = ?2"
    ))?
    .query_row([id, webhook_id], delivery_row)
    .optional()?
    .ok_or_else(|| Error::NotFound(format!("no delivery {id} of webhook {webhook_id}")))
}

/// `Catalog::webhook_deliveries`: newest first.
pub(crate) fn deliveries(
    conn: &Connection,
    webhook_id: i64,
    q: &DeliveryParams,
    limit: usize,
) -> Result<Vec<Delivery>> {
    get(conn, webhook_id)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
          WHERE webhook_id = ?1 AND id < ?2 AND (?3 IS NULL OR status = ?3)
          ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            webhook_id,
            q.before.unwrap_or(i64::MAX),
            q.status.map(DeliveryStatus::as_str),
            limit as i64
        ],
        delivery_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `Catalog::webhook_attempts`: oldest first.
pub(crate) fn attempts(
    conn: &Connection,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<Vec<DeliveryAttempt>> {
    delivery(conn, webhook_id, delivery_id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, delivery_id, at, status_code, latency_ms, response, error
           FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([delivery_id], |r| {
        Ok(DeliveryAttempt {
            id: r.get(0)?,
            delivery_id: r.get(1)?,
            at: from_ms(r.get(2)?),
            status_code: r.get(3)?,
            latency_ms: r.get(4)?,
            response: r.get(5)?,
            error: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `Catalog::tool_call_change`: the change a tool call made, if it made one.
pub(crate) fn tool_change(
    conn: &Connection,
    tool_use_id: &str,
) -> Result<Option<observatory_transcript::FileChange>> {
    let change: Option<Option<StoredChange>> = conn
        .prepare_cached(
            "SELECT change FROM tool_calls WHERE tool_use_id_hash = ?1 AND tool_use_id = ?2",
        )?
        .query_row(params![key_hash(tool_use_id), tool_use_id], |r| r.get(0))
        .optional()?;
    Ok(change.flatten().and_then(|c| c.file_change().ok()))
}

/// `Writer::redeliver_webhook`: one delivery (any state) or every failed one, due
/// now, with the retry schedule started over. Returns how many.
pub(crate) fn redeliver(
    conn: &Connection,
    webhook_id: i64,
    delivery_id: Option<i64>,
) -> Result<u64> {
    get(conn, webhook_id)?;
    let now = now_ms();
    let n = match delivery_id {
        Some(id) => {
            delivery(conn, webhook_id, id)?;
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = ?1
                  WHERE id = ?2 AND webhook_id = ?3",
                params![now, id, webhook_id],
            )?
        }
        None => conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = ?1
              WHERE webhook_id = ?2 AND status = 'failed'",
            params![now, webhook_id],
        )?,
    };
    Ok(n as u64)
}

/// `Catalog::due_webhook_deliveries`: deliveries of active webhooks (or of one)
/// due by `now`, oldest first per webhook, at most `per_webhook` of each and
/// `limit` in all.
pub(crate) fn due(
    conn: &Connection,
    now: DateTime<Utc>,
    webhook: Option<i64>,
    per_webhook: usize,
    limit: usize,
) -> Result<Vec<DueDelivery>> {
    let now = now.timestamp_millis();
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.uid, d.webhook_id, w.url, w.format, w.secret,
                CASE WHEN w.previous_secret_until > ?1 THEN w.previous_secret END,
                d.event_id, d.kind, d.at, d.session_id, d.project, d.path, d.data, d.step
           FROM (SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY id) AS n
                   FROM webhook_deliveries
                  WHERE status = 'pending' AND next_attempt_at <= ?1
                    AND (?4 IS NULL OR webhook_id = ?4)) due
           JOIN webhook_deliveries d ON d.id = due.id
           JOIN webhooks w ON w.id = d.webhook_id
          WHERE due.n <= ?2 AND w.state = 'active'
          ORDER BY d.webhook_id, d.id
          LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![now, per_webhook as i64, limit as i64, webhook],
        |r| {
            let mut secrets = vec![r.get::<_, String>(5)?];
            if let Some(previous) = r.get::<_, Option<String>>(6)? {
                secrets.push(previous);
            }
            let data: String = r.get(13)?;
            Ok(DueDelivery {
                id: r.get(0)?,
                message_id: format!("msg_{}", r.get::<_, String>(1)?),
                webhook_id: r.get(2)?,
                url: r.get(3)?,
                format: WebhookFormat::parse(&r.get::<_, String>(4)?).unwrap_or_default(),
                secrets,
                event: crate::Event {
                    id: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
                    kind: r.get(8)?,
                    at: from_ms(r.get(9)?),
                    session_id: r.get(10)?,
                    project: r.get(11)?,
                    path: r.get(12)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                },
                step: r.get(14)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next pending delivery of an active webhook is due, if any.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = conn.query_row(
        "SELECT min(d.next_attempt_at) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
          WHERE d.status = 'pending' AND w.state = 'active'",
        [],
        |r| r.get(0),
    )?;
    Ok(from_ms(ms))
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn excerpt(s: &str, max: usize) -> &str {
    let end = (0..=max.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[..end]
}

/// `Writer::record_webhook_attempt`: the attempt, the delivery's new state and the
/// webhook's failure clock, in one transaction. Returns the reason the webhook was
/// disabled, if this attempt disabled it.
pub(crate) fn record_attempt(conn: &mut Connection, a: &AttemptRecord) -> Result<Option<String>> {
    // IMMEDIATE: it reads, then writes; a deferred one fails at once (SQLITE_BUSY)
    // when the indexer commits in between, instead of waiting its turn.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let at = a.at.timestamp_millis();
    let webhook_id: Option<i64> = tx
        .query_row(
            "SELECT webhook_id FROM webhook_deliveries WHERE id = ?1",
            [a.delivery_id],
            |r| r.get(0),
        )
        .optional()?;
    // Deleted with its webhook while the request was out: nothing to record.
    let Some(webhook_id) = webhook_id else {
        return Ok(None);
    };
    tx.execute(
        "INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, response, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.delivery_id,
            at,
            a.status_code,
            a.latency_ms as i64,
            a.response.as_deref().map(|r| excerpt(r, MAX_EXCERPT)),
            a.error
        ],
    )?;
    let error = a.error.clone().or_else(|| {
        a.status_code
            .filter(|_| a.outcome != Outcome::Delivered)
            .map(|s| format!("HTTP {s}"))
    });
    let mut disabled = None;
    match &a.outcome {
        Outcome::Delivered => {
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, step = step + 1,
                        next_attempt_at = NULL, delivered_at = ?1, last_error = NULL WHERE id = ?2",
                params![at, a.delivery_id],
            )?;
            tx.execute(
                "UPDATE webhooks SET failing_since = NULL WHERE id = ?1",
                [webhook_id],
            )?;
        }
        Outcome::RetryAt(_) | Outcome::GiveUp | Outcome::Disable(_) => {
            let (status, next) = match &a.outcome {
                Outcome::RetryAt(t) => ("pending", Some(*t)),
                Outcome::Disable(_) => ("pending", Some(at)),
                _ => ("failed", None),
            };
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1, step = step + 1,
                        next_attempt_at = ?2, last_error = ?3 WHERE id = ?4",
                params![status, next, error, a.delivery_id],
            )?;
            tx.execute(
                "UPDATE webhooks SET failing_since = COALESCE(failing_since, ?1) WHERE id = ?2",
                params![at, webhook_id],
            )?;
            let failing_since: Option<i64> = tx
                .query_row(
                    "SELECT failing_since FROM webhooks WHERE id = ?1 AND state = 'active'",
                    [webhook_id],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let reason = match &a.outcome {
                Outcome::Disable(reason) => Some(reason.clone()),
                _ => failing_since
                    .filter(|since| at - since >= a.disable_after_ms)
                    .map(|since| {
                        format!(
                            "every attempt failed for {} hours (since {}); last: {}",
                            (at - since) / 3_600_000,
                            from_ms(Some(since))
                                .map(|t| t.to_rfc3339())
                                .unwrap_or_default(),
                            error.as_deref().unwrap_or("no answer")
                        )
                    }),
            };
            if let Some(reason) = reason {
                tx.execute(
                    "UPDATE webhooks SET state = 'disabled', disabled_reason = ?1, updated_at = ?2 WHERE id = ?3",
                    params![reason, at, webhook_id],
                )?;
                disabled = Some(reason);
            }
        }
    }
    tx.commit()?;
    Ok(disabled)
}

/// `Writer::prune_webhook_deliveries`: finished deliveries created before `before`,
/// with their attempts. Returns how many went.
pub(crate) fn prune(conn: &Connection, before: DateTime<Utc>) -> Result<u64> {
    Ok(conn.execute(
        "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND created_at < ?1",
        [before.timestamp_millis()],
    )? as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{Catalog, Store, Writer};

    fn new(url: &str, types: &[&str]) -> NewWebhook {
        NewWebhook {
            url: url.into(),
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            project: None,
            path_glob: None,
            description: None,
            format: None,
        }
    }

    #[test]
    fn events_fill_the_outbox_of_matching_webhooks_only() {
        let mut store = Store::open_in_memory().unwrap();
        let (all, secret) = store
            .create_webhook(&new("https://example.com/a", &["*"]))
            .unwrap();
        assert!(secret.starts_with("whsec_"));
        let mut auth = new("https://example.com/b", &["file.touched", "hook.*"]);
        auth.project = Some("/p/".into());
        auth.path_glob = Some("*/src/auth/*".into());
        let (auth, _) = store.create_webhook(&auth).unwrap();
        assert_eq!(auth.project.as_deref(), Some("/p"));
        let (paused, _) = store
            .create_webhook(&new("https://example.com/c", &["*"]))
            .unwrap();
        let (gone, _) = store
            .create_webhook(&new("https://example.com/d", &["*"]))
            .unwrap();
        store
            .update_webhook(
                paused.id,
                &WebhookUpdate {
                    state: Some(WebhookState::Paused),
                    ..Default::default()
                },
            )
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE webhooks SET state = 'disabled' WHERE id = ?1",
                [gone.id],
            )
            .unwrap();

        let ev = |store: &mut Store, kind: &str, project: &str, path: Option<&str>| {
            store
                .append_event(
                    kind,
                    Some("s"),
                    Some(project),
                    path,
                    &serde_json::json!({"x": 1}),
                )
                .unwrap()
        };
        ev(
            &mut store,
            "file.touched",
            "/p/sub",
            Some("/p/sub/src/auth/login.rs"),
        );
        ev(&mut store, "file.touched", "/p", Some("/p/src/other.rs"));
        ev(&mut store, "file.touched", "/px", Some("/px/src/auth/a.rs"));
        ev(&mut store, "usage.updated", "/p", None);
        ev(&mut store, "hook.Stop", "/p", Some("/p/src/auth/x"));

        let count = |id: i64| {
            store
                .webhook_deliveries(id, &DeliveryParams::default(), 100)
                .unwrap()
                .len()
        };
        assert_eq!(count(all.id), 5);
        assert_eq!(count(auth.id), 2, "project, path glob and kinds all apply");
        assert_eq!(count(paused.id), 5, "paused webhooks queue");
        assert_eq!(count(gone.id), 0, "disabled ones do not");

        // Due: only active webhooks', in order per webhook.
        let due = store
            .due_webhook_deliveries(Utc::now(), None, 3, 100)
            .unwrap();
        assert_eq!(due.iter().filter(|d| d.webhook_id == all.id).count(), 3);
        assert!(due.iter().all(|d| d.webhook_id != paused.id));
        let ids: Vec<i64> = due
            .iter()
            .filter(|d| d.webhook_id == all.id)
            .map(|d| d.event.id)
            .collect();
        assert_eq!(ids, vec![1, 2, 3], "the oldest first");
        let one = store
            .due_webhook_deliveries(Utc::now(), Some(auth.id), 10, 10)
            .unwrap();
        assert_eq!(one.len(), 2);
    }

    #[test]
    fn deliveries_outlive_their_conversations_events() {
        let mut store = Store::open_in_memory().unwrap();
        let (w, _) = store
            .create_webhook(&new("https://example.com/a", &["*"]))
            .unwrap();
        store
            .append_event(
                "hook.Stop",
                Some("s1"),
                None,
                None,
                &serde_json::json!({"big": "x".repeat(MAX_DATA + 1)}),
            )
            .unwrap();
        store.conn.execute("DELETE FROM events", []).unwrap();
        let due = store
            .due_webhook_deliveries(Utc::now(), None, 10, 10)
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event.session_id.as_deref(), Some("s1"));
        assert_eq!(due[0].event.data["truncated"], serde_json::json!(true));
        assert!(due[0].message_id.starts_with("msg_"));
        assert_eq!(due[0].webhook_id, w.id);
    }

    #[test]
    fn attempts_retries_giving_up_redelivery_and_disabling() {
        let mut store = Store::open_in_memory().unwrap();
        let (w, _) = store
            .create_webhook(&new("https://example.com/a", &["*"]))
            .unwrap();
        let d = store.send_webhook_test(w.id).unwrap();
        assert_eq!(d.kind, TEST_KIND);
        let rec = |outcome, status| AttemptRecord {
            delivery_id: d.id,
            at: Utc::now(),
            status_code: status,
            latency_ms: 3,
            response: Some("é".repeat(MAX_EXCERPT)),
            error: None,
            outcome,
            disable_after_ms: 1_000_000,
        };
        let later = Utc::now().timestamp_millis() + 60_000;
        assert_eq!(
            store
                .record_webhook_attempt(&rec(Outcome::RetryAt(later), Some(500)))
                .unwrap(),
            None
        );
        assert!(store
            .due_webhook_deliveries(Utc::now(), None, 10, 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .record_webhook_attempt(&rec(Outcome::GiveUp, Some(500)))
                .unwrap(),
            None
        );
        let got = store.webhook_delivery(w.id, d.id).unwrap();
        assert_eq!((got.status, got.attempts), (DeliveryStatus::Failed, 2));
        assert_eq!(got.last_error.as_deref(), Some("HTTP 500"));
        let attempts = store.webhook_attempts(w.id, d.id).unwrap();
        assert_eq!(attempts.len(), 2);
        assert!(attempts[0].response.as_ref().unwrap().len() <= MAX_EXCERPT);

        assert_eq!(store.redeliver_webhook(w.id, None).unwrap(), 1);
        let due = store
            .due_webhook_deliveries(Utc::now(), None, 10, 10)
            .unwrap();
        assert_eq!((due.len(), due[0].step), (1, 0));
        store
            .record_webhook_attempt(&rec(Outcome::Delivered, Some(200)))
            .unwrap();
        assert_eq!(
            store.webhook_delivery(w.id, d.id).unwrap().status,
            DeliveryStatus::Delivered
        );

        // Failing past the limit disables it, with the reason kept.
        store.redeliver_webhook(w.id, Some(d.id)).unwrap();
        store
            .conn
            .execute("UPDATE webhooks SET failing_since = 0", [])
            .unwrap();
        let reason = store
            .record_webhook_attempt(&rec(Outcome::RetryAt(later), None))
            .unwrap();
        assert!(reason.is_some());
        let w2 = store.webhook(w.id).unwrap();
        assert_eq!(w2.state, WebhookState::Disabled);
        assert!(w2.disabled_reason.unwrap().contains("every attempt failed"));
        // Re-enabled, it starts over.
        let w3 = store
            .update_webhook(
                w.id,
                &WebhookUpdate {
                    state: Some(WebhookState::Active),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((w3.state, w3.disabled_reason), (WebhookState::Active, None));
    }

    #[test]
    fn secrets_rotate_with_a_grace_period() {
        let mut store = Store::open_in_memory().unwrap();
        let (w, first) = store
            .create_webhook(&new("https://example.com/a", &["*"]))
            .unwrap();
        let (second, until) = store
            .rotate_webhook_secret(w.id, Utc::now() + chrono::Duration::hours(1))
            .unwrap();
        assert!(until.is_some() && second != first);
        store.send_webhook_test(w.id).unwrap();
        let due = store
            .due_webhook_deliveries(Utc::now(), None, 10, 10)
            .unwrap();
        assert_eq!(due[0].secrets, vec![second.clone(), first]);
        let (third, until) = store.rotate_webhook_secret(w.id, Utc::now()).unwrap();
        assert_eq!(until, None);
        let due = store
            .due_webhook_deliveries(Utc::now(), None, 10, 10)
            .unwrap();
        assert_eq!(due[0].secrets, vec![third]);
        assert!(matches!(
            store.rotate_webhook_secret(999, Utc::now()),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        let mut store = Store::open_in_memory().unwrap();
        for (url, types) in [
            ("ftp://example.com", vec!["*"]),
            ("https://user:pw@example.com", vec!["*"]),
            ("not a url", vec!["*"]),
            ("https://example.com", vec![]),
            ("https://example.com", vec!["a b"]),
        ] {
            assert!(
                matches!(
                    store.create_webhook(&new(url, &types)),
                    Err(Error::Invalid(_))
                ),
                "{url} {types:?}"
            );
        }
        let (w, _) = store
            .create_webhook(&new("http://example.com", &["*"]))
            .unwrap();
        assert!(matches!(
            store.update_webhook(
                w.id,
                &WebhookUpdate {
                    state: Some(WebhookState::Disabled),
                    ..Default::default()
                }
            ),
            Err(Error::Invalid(_))
        ));
        assert!(store.delete_webhook(w.id).unwrap());
        assert!(!store.delete_webhook(w.id).unwrap());
    }
}
