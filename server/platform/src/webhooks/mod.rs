//! Webhook delivery: the dispatcher that sends what the store's outbox holds.
//!
//! The outbox is written with each event (a trigger in the store), so nothing here
//! needs to run for an event to be kept: the dispatcher only reads due deliveries,
//! sends them and records each attempt. Killed at any moment, the platform sends
//! again whatever it had not recorded as delivered when it comes back: delivery is
//! at least once, and receivers dedupe by `webhook-id`.
//!
//! Per webhook, one request is in flight at a time and due deliveries go oldest
//! first, so a healthy receiver gets events in the log's order. A delivery that
//! failed waits for its retry while later ones go ahead: after a failure, order is
//! not kept (every event carries its increasing `id` for receivers that need it).
//! Across webhooks, at most `max_concurrency` requests run at once, and a webhook
//! that keeps failing has its circuit breaker opened: its deliveries wait (without
//! spending attempts) until a single probe succeeds.

mod client;
mod derived;
mod format;
pub mod shares;
mod sign;
pub mod thresholds;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use backon::BackoffBuilder;
use chrono::Utc;
use observatory_store::{AttemptRecord, DueDelivery, Outcome};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{Notify, Semaphore};

pub use client::{check_target, is_private, parse_retry_after};
pub use format::{body, chat_text, lines_written};
pub use sign::signature_header;

use crate::config::WebhookConfig;
use crate::pool::Pool;

/// Longest wait between looks at the outbox: deliveries queued by another process
/// (`observatory webhooks test`) are noticed within this.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries a webhook's worker takes per read.
const BATCH: usize = 50;
/// Longest `Retry-After` honoured; a receiver asking for more is asked again then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How often finished deliveries past their retention are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What the API needs to know of webhook delivery.
#[derive(Clone, Default)]
pub struct Handle {
    /// Whether targets on non-public addresses may be subscribed.
    pub allow_private_targets: bool,
    /// Wakes the dispatcher (a test event or a redelivery was queued).
    pub wake: Arc<Notify>,
}

/// Validated [`WebhookConfig`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub allow_private_targets: bool,
    pub timeout: Duration,
    pub max_concurrency: usize,
    pub schedule: Vec<Duration>,
    pub disable_after: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    pub retention: Duration,
    /// Ascending, each once (as the watchers that log crossings read them).
    pub cost_thresholds_usd: Vec<f64>,
    /// Ascending, each once.
    pub agent_share_thresholds_percent: Vec<f64>,
}

/// Validated thresholds, ascending, each once.
fn levels(thresholds: &[f64]) -> Vec<f64> {
    let mut levels = thresholds.to_vec();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
}

fn seconds(what: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("webhooks.{what} must be a number of seconds, not {s}"))
}

impl Settings {
    pub fn new(c: &WebhookConfig) -> anyhow::Result<Self> {
        if c.retry_schedule.is_empty() {
            bail!("webhooks.retry_schedule needs at least one delay (0: at once)");
        }
        let timeout = seconds("timeout", c.timeout)?;
        if timeout.is_zero() {
            bail!("webhooks.timeout must be more than 0");
        }
        if let Some(t) = c
            .cost_thresholds_usd
            .iter()
            .find(|t| !t.is_finite() || **t < 0.0)
        {
            bail!("webhooks.cost_thresholds_usd are amounts in dollars, not {t}");
        }
        if let Some(t) = c
            .agent_share_thresholds_percent
            .iter()
            .find(|t| !t.is_finite() || **t <= 0.0 || **t > 100.0)
        {
            bail!("webhooks.agent_share_thresholds_percent are percentages above 0 and up to 100, not {t}");
        }
        Ok(Self {
            allow_private_targets: c.allow_private_targets,
            timeout,
            max_concurrency: c.max_concurrency.max(1),
            schedule: c
                .retry_schedule
                .iter()
                .map(|s| seconds("retry_schedule", *s))
                .collect::<anyhow::Result<_>>()?,
            disable_after: seconds("disable_after", c.disable_after)?,
            breaker_failures: c.breaker_failures.max(1),
            breaker_cooldown: seconds("breaker_cooldown", c.breaker_cooldown)?,
            retention: Duration::from_secs(u64::from(c.retention_days) * 86400),
            cost_thresholds_usd: levels(&c.cost_thresholds_usd),
            agent_share_thresholds_percent: levels(&c.agent_share_thresholds_percent),
        })
    }
}

/// A webhook's circuit breaker: closed until `failures` in a row, then open for a
/// cool-down that grows (exponentially, with jitter, by backon) while the probe
/// after each keeps failing. A `Retry-After` holds it open at least that long.
struct Breaker {
    consecutive: u32,
    open_until: Option<Instant>,
    cooldowns: backon::ExponentialBackoff,
}

impl Breaker {
    fn new(s: &Settings) -> Self {
        Self {
            consecutive: 0,
            open_until: None,
            cooldowns: cooldowns(s),
        }
    }
}

fn cooldowns(s: &Settings) -> backon::ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(s.breaker_cooldown)
        .with_max_delay(s.breaker_cooldown * 64)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Sends due deliveries; one per platform.
pub struct Dispatcher {
    pool: Arc<Pool>,
    client: client::Client,
    settings: Settings,
    breakers: Mutex<HashMap<i64, Breaker>>,
    /// Webhooks with a worker running: at most one each.
    busy: Mutex<HashSet<i64>>,
    permits: Arc<Semaphore>,
    wake: Arc<Notify>,
    metrics: crate::Metrics,
}

impl Dispatcher {
    pub fn new(
        pool: Arc<Pool>,
        settings: Settings,
        wake: Arc<Notify>,
        metrics: crate::Metrics,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            pool,
            client: client::Client::new(settings.timeout, settings.allow_private_targets)?,
            permits: Arc::new(Semaphore::new(settings.max_concurrency)),
            settings,
            breakers: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashSet::new()),
            wake,
            metrics,
        }))
    }

    /// Runs until dropped (abort its task): wakes on a change of the event log, on
    /// `wake`, when the next delivery is due, and at least every second.
    pub async fn run(self: Arc<Self>, changes: tokio::sync::watch::Receiver<u64>) {
        let mut changes = Some(changes);
        let mut last_prune: Option<Instant> = None;
        // Dropped with this future: stopping the platform stops its requests too (the
        // language server's in-process platform shares a runtime that goes on).
        let mut workers = tokio::task::JoinSet::new();
        loop {
            while workers.try_join_next().is_some() {}
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                self.prune().await;
            }
            let wait = match self.dispatch(&mut workers).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!(error = %e.detail, "webhooks: reading the outbox failed");
                    POLL
                }
            };
            let changed = async {
                match changes.as_mut() {
                    Some(c) => c.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                alive = changed => if !alive {
                    // The indexer is gone: keep delivering on the timer.
                    changes = None;
                },
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn prune(&self) {
        let Ok(keep) = chrono::Duration::from_std(self.settings.retention) else {
            return;
        };
        let before = Utc::now() - keep;
        match self
            .pool
            .write(move |w| Ok(w.prune_webhook_deliveries(before)?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "webhooks: pruned finished deliveries"),
            Err(e) => tracing::warn!(error = %e.detail, "webhooks: pruning failed"),
        }
    }

    /// Starts a worker for each webhook with due deliveries that has none running
    /// and whose breaker is closed; returns how long to wait before looking again.
    async fn dispatch(
        self: &Arc<Self>,
        workers: &mut tokio::task::JoinSet<()>,
    ) -> Result<Duration, crate::error::ApiError> {
        let now = Utc::now();
        let (due, next) = self
            .pool
            .read(move |c| {
                Ok((
                    c.due_webhook_deliveries(now, None, 1, 10_000)?,
                    c.next_webhook_due()?,
                ))
            })
            .await?;
        let mut wait = POLL;
        tracing::trace!(due = due.len(), ?next, "webhooks: looked at the outbox");
        for d in due {
            if let Some(open) = self.breaker_wait(d.webhook_id) {
                wait = wait.min(open);
                continue;
            }
            let Ok(mut busy) = self.busy.lock() else {
                continue;
            };
            if !busy.insert(d.webhook_id) {
                continue;
            }
            drop(busy);
            let this = Arc::clone(self);
            workers.spawn(async move {
                this.work(d.webhook_id).await;
                if let Ok(mut busy) = this.busy.lock() {
                    busy.remove(&d.webhook_id);
                }
                this.wake.notify_one();
            });
        }
        if let Some(next) = next {
            let until = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            // Due already (a webhook busy or held by its breaker): its worker's end
            // or the poll wakes us.
            if !until.is_zero() {
                wait = wait.min(until);
            }
        }
        Ok(wait)
    }

    /// How long a webhook's breaker stays open, if it is.
    fn breaker_wait(&self, webhook: i64) -> Option<Duration> {
        let breakers = self.breakers.lock().ok()?;
        let until = breakers.get(&webhook)?.open_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Sends one webhook's due deliveries, one at a time, oldest first, until none
    /// is due or its breaker opens.
    async fn work(self: &Arc<Self>, webhook: i64) {
        loop {
            let now = Utc::now();
            let due = match self
                .pool
                .read(move |c| Ok(c.due_webhook_deliveries(now, Some(webhook), BATCH, BATCH)?))
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(webhook, error = %e.detail, "webhooks: reading the outbox failed");
                    return;
                }
            };
            if due.is_empty() {
                return;
            }
            for d in due {
                if self.breaker_wait(webhook).is_some() {
                    return;
                }
                let Ok(_permit) = Arc::clone(&self.permits).acquire_owned().await else {
                    return;
                };
                if !self.deliver(d).await {
                    return;
                }
            }
        }
    }

    /// One attempt of one delivery, recorded; false when the webhook should not be
    /// called again now (disabled, or its record could not be written).
    async fn deliver(&self, d: DueDelivery) -> bool {
        let lines = self.lines_written(&d).await;
        let body = format::body(d.format, &d.event, lines);
        let at = Utc::now();
        let timestamp = at.timestamp();
        let mut headers = HeaderMap::new();
        let signature = sign::signature_header(&d.secrets, &d.message_id, timestamp, &body);
        for (name, value) in [
            ("webhook-id", d.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let answer = self.client.post(&d.url, headers, body).await;
        let ok = answer.status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if ok {
            Outcome::Delivered
        } else if answer.status == Some(410) {
            Outcome::Disable("the receiver answered 410 Gone".to_owned())
        } else {
            self.next_attempt(d.step, answer.retry_after)
        };
        self.update_breaker(d.webhook_id, ok, answer.retry_after);
        let label = match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::RetryAt(_) => "retry",
            Outcome::GiveUp => "failed",
            Outcome::Disable(_) => "disabled",
        };
        self.metrics
            .webhook_attempts
            .get_or_create(&crate::metrics::AttemptLabels { outcome: label })
            .inc();
        self.metrics
            .webhook_latency
            .observe(answer.latency.as_secs_f64());
        // Only the host: a URL's path and query may hold a token (Slack's do).
        let host = reqwest::Url::parse(&d.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::debug!(webhook = d.webhook_id, delivery = d.id, %host, status = ?answer.status,
            latency_ms = answer.latency.as_millis() as u64, ?outcome, "webhook attempt");
        let record = AttemptRecord {
            delivery_id: d.id,
            at,
            status_code: answer.status,
            latency_ms: answer.latency.as_millis() as u64,
            response: answer.body,
            error: answer.error,
            outcome,
            disable_after_ms: i64::try_from(self.settings.disable_after.as_millis())
                .unwrap_or(i64::MAX),
        };
        match self
            .pool
            .write(move |w| Ok(w.record_webhook_attempt(&record)?))
            .await
        {
            Ok(Some(reason)) => {
                tracing::warn!(webhook = d.webhook_id, %host, %reason, "webhook disabled");
                false
            }
            Ok(None) => true,
            Err(e) => {
                // Not recorded: it is still pending and will be sent again (at least once).
                tracing::warn!(webhook = d.webhook_id, error = %e.detail, "webhooks: recording an attempt failed");
                false
            }
        }
    }

    /// For a chat message about a recorded change: how many lines it wrote (the
    /// standard body carries the event as it is).
    async fn lines_written(&self, d: &DueDelivery) -> Option<usize> {
        use observatory_protocol::events::kind;
        if d.format == observatory_protocol::webhooks::WebhookFormat::Standard
            || !matches!(
                d.event.kind.as_str(),
                kind::ATTRIBUTION_CHANGED | kind::FILE_TOUCHED
            )
        {
            return None;
        }
        let id = d.event.data.get("tool_use_id")?.as_str()?.to_owned();
        let change = self
            .pool
            .read(move |c| Ok(c.tool_call_change(&id)?))
            .await
            .ok()??;
        Some(format::lines_written(&change))
    }

    /// After the attempt at `step` failed: the next one, or giving up.
    fn next_attempt(&self, step: u32, retry_after: Option<Duration>) -> Outcome {
        let jitter = rand::rng().random_range(0.8..=1.2);
        match next_delay(&self.settings.schedule, step, retry_after, jitter) {
            Some(wait) => {
                let ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                Outcome::RetryAt(Utc::now().timestamp_millis().saturating_add(ms))
            }
            None => Outcome::GiveUp,
        }
    }

    fn update_breaker(&self, webhook: i64, ok: bool, retry_after: Option<Duration>) {
        let Ok(mut breakers) = self.breakers.lock() else {
            return;
        };
        let b = breakers
            .entry(webhook)
            .or_insert_with(|| Breaker::new(&self.settings));
        let now = Instant::now();
        if ok {
            *b = Breaker::new(&self.settings);
            return;
        }
        b.consecutive += 1;
        if b.consecutive >= self.settings.breaker_failures {
            let cooldown = b.cooldowns.next().unwrap_or(self.settings.breaker_cooldown);
            b.open_until = Some(now + cooldown);
            tracing::info!(
                webhook,
                failures = b.consecutive,
                cooldown_ms = cooldown.as_millis() as u64,
                "webhook circuit breaker open"
            );
        }
        if let Some(ra) = retry_after {
            let until = now + ra.min(MAX_RETRY_AFTER);
            b.open_until = Some(b.open_until.map_or(until, |t| t.max(until)));
        }
    }
}

/// The wait before the attempt after `step` (0-based) failed: the schedule's next
/// delay times `jitter`, never less than a `Retry-After` (itself at most a day);
/// `None` when the schedule is spent.
fn next_delay(
    schedule: &[Duration],
    step: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let delay = schedule.get(step as usize + 1)?;
    let jittered = delay.mul_f64(jitter.clamp(0.0, 2.0));
    Some(jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER)))
}

/// Starts delivery on the current runtime; the task runs until aborted.
pub fn start(
    pool: Arc<Pool>,
    settings: Settings,
    wake: Arc<Notify>,
    changes: tokio::sync::watch::Receiver<u64>,
    metrics: crate::Metrics,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let dispatcher = Dispatcher::new(pool, settings, wake, metrics)?;
    Ok(tokio::spawn(dispatcher.run(changes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_jitter_and_retry_after() {
        let s = Settings::new(&WebhookConfig::default()).expect("defaults");
        let secs = |n| Some(Duration::from_secs(n));
        assert_eq!(next_delay(&s.schedule, 0, None, 1.0), secs(5));
        assert_eq!(next_delay(&s.schedule, 1, None, 1.2), secs(360));
        assert_eq!(next_delay(&s.schedule, 0, secs(60), 1.0), secs(60));
        assert_eq!(next_delay(&s.schedule, 2, secs(60), 1.0), secs(1800));
        assert_eq!(
            next_delay(&s.schedule, 0, secs(7 * 86400), 1.0),
            Some(MAX_RETRY_AFTER)
        );
        // Eight attempts in all, the last ~27.5 hours after the first.
        assert_eq!(next_delay(&s.schedule, 7, None, 1.0), None);
        let total: Duration = s.schedule.iter().sum();
        assert_eq!(total, Duration::from_secs(99_305));
    }

    #[test]
    fn thresholds_are_read_ascending_and_once() {
        let s = Settings::new(&WebhookConfig {
            cost_thresholds_usd: vec![10.0, 1.0, 5.0, 1.0],
            agent_share_thresholds_percent: vec![90.0, 50.0, 90.0],
            ..WebhookConfig::default()
        })
        .expect("settings");
        assert_eq!(s.cost_thresholds_usd, [1.0, 5.0, 10.0]);
        assert_eq!(s.agent_share_thresholds_percent, [50.0, 90.0]);
    }

    #[tokio::test]
    async fn the_breaker_opens_holds_for_retry_after_and_closes_on_success() {
        let settings = Settings::new(&WebhookConfig {
            breaker_failures: 3,
            breaker_cooldown: 60.0,
            ..WebhookConfig::default()
        })
        .expect("settings");
        let d = Dispatcher::new(
            Pool::new(std::path::PathBuf::from("/nonexistent")),
            settings,
            Arc::new(Notify::new()),
            crate::Metrics::default(),
        )
        .expect("dispatcher");
        for _ in 0..2 {
            d.update_breaker(1, false, None);
        }
        assert_eq!(d.breaker_wait(1), None, "closed below the threshold");
        d.update_breaker(1, false, None);
        assert!(d.breaker_wait(1).is_some(), "open at it");
        assert_eq!(d.breaker_wait(2), None, "per webhook");
        d.update_breaker(1, true, None);
        assert_eq!(d.breaker_wait(1), None, "a success closes it");
        // One 503 with a long Retry-After holds the webhook that long.
        d.update_breaker(1, false, Some(Duration::from_secs(3600)));
        assert!(d
            .breaker_wait(1)
            .is_some_and(|w| w > Duration::from_secs(3000)));
    }

    #[test]
    fn bad_settings_are_refused() {
        for c in [
            WebhookConfig {
                retry_schedule: vec![],
                ..WebhookConfig::default()
            },
            WebhookConfig {
                timeout: 0.0,
                ..WebhookConfig::default()
            },
            WebhookConfig {
                retry_schedule: vec![0.0, -1.0],
                ..WebhookConfig::default()
            },
            WebhookConfig {
                disable_after: f64::NAN,
                ..WebhookConfig::default()
            },
        ] {
            assert!(Settings::new(&c).is_err(), "{c:?}");
        }
    }
}
