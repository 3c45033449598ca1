//! Prometheus metrics at `/metrics` (text exposition, prometheus-client).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/api/v1/conversations/{id}`), not the raw path, so the
    /// label set stays small.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// `delivered`, `retry`, `failed` (schedule spent) or `disabled` (410).
    pub outcome: &'static str,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    /// Transcript lines indexed since start (fed by the indexer).
    pub indexed_lines: Counter,
    /// Webhook delivery attempts by outcome, and their latency (the dispatcher's).
    pub webhook_attempts: Family<AttemptLabels, Counter>,
    pub webhook_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("observatory");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let indexed_lines = Counter::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to serve HTTP requests",
            latency.clone(),
        );
        registry.register(
            "indexed_lines",
            "Transcript lines indexed since start",
            indexed_lines.clone(),
        );
        let webhook_attempts = Family::<AttemptLabels, Counter>::default();
        let webhook_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome",
            webhook_attempts.clone(),
        );
        registry.register(
            "webhook_attempt_duration_seconds",
            "Time from sending a webhook request to its answer (or failure)",
            webhook_latency.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            indexed_lines,
            webhook_attempts,
            webhook_latency,
        }
    }
}

pub async fn track(State(m): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // The method comes from the client: anything but the standard ones is one label
    // value, or made-up methods would grow the registry without bound.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: res.status().as_u16(),
    };
    m.requests.get_or_create(&labels).inc();
    m.latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    res
}

pub async fn render(State(m): State<Metrics>) -> impl IntoResponse {
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &m.registry).is_err() {
        body.clear();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}
