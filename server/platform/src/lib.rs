//! `observatory serve`: the platform editors, scripts and teams talk to.
//!
//! An axum server over the store and the attribution engine. It keeps indexing
//! (watch mode, on its own thread and connection) while request handlers read
//! through a small connection pool.

mod api;
mod auth;
pub mod config;
pub mod discovery;
mod error;
mod files;
mod headers;
mod lifecycle;
mod limit;
mod listen;
mod metrics;
mod pool;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use observatory_store::Catalog;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{local_token, token_path, Auth, Identity};
pub use error::Problem;
pub use headers::Hosts;
pub use lifecycle::Activity;
pub use limit::Limiter;
pub use listen::{serve as serve_router, Limits};
pub use metrics::Metrics;
pub use pool::Pool;

/// Declares the bearer token every `/api/v1` operation requires.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "token",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerToken),
    security(("token" = [])),
    info(title = "Observatory API", description = "Claude Code conversations, search, usage and line attribution."),
    tags(
        (name = "conversations", description = "Indexed Claude Code conversations"),
        (name = "search", description = "Full-text search"),
        (name = "files", description = "File touches and line attribution"),
        (name = "analytics", description = "Usage and cost"),
        (name = "events", description = "The event log and its realtime stream"),
        (name = "keys", description = "API keys (admin scope)"),
        (name = "ingest", description = "Transcripts from other machines, and Claude Code hooks"),
        (name = "webhooks", description = "Events delivered to other tools over HTTP, signed by Standard Webhooks (admin scope)"),
    )
)]
struct ApiDoc;

/// Largest request body accepted (a blame request carries a whole buffer).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// API requests served at once; past it, requests are refused with 503 and
/// `Retry-After` at once rather than queued towards the request timeout.
pub fn max_in_flight() -> usize {
    // Requests are CPU work on the blocking pool: beyond a few per core they only
    // wait, and at ~700 requests/s on 2 cores 32 in flight meant 45 ms of queue
    // (docs/benchmarks.md). Clients retry a 503 after its `Retry-After`.
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    (4 * cores).max(8)
}

#[derive(Clone)]
struct Ops {
    ready: Arc<AtomicBool>,
    progress: Arc<IndexProgress>,
    openapi: Arc<String>,
}

/// How far the first indexing pass has got, for `/readyz` while it runs (editors
/// show it as progress).
#[derive(Debug, Default)]
pub struct IndexProgress {
    pub files_done: AtomicU64,
    pub files_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_total: AtomicU64,
}

impl IndexProgress {
    fn set(&self, p: observatory_store::Progress) {
        self.files_done.store(p.files_done, Ordering::Relaxed);
        self.files_total.store(p.files_total, Ordering::Relaxed);
        self.bytes_done.store(p.bytes_done, Ordering::Relaxed);
        self.bytes_total.store(p.bytes_total, Ordering::Relaxed);
    }
}

/// What the application is built from. [`AppParts::new`] has the defaults of
/// `observatory serve`; tests and embedders change what they need.
pub struct AppParts {
    pub pool: Arc<Pool>,
    /// Bumped whenever the event log grew; streams wait on it.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where uploaded transcripts are kept for the indexer (`None`: uploads off).
    pub ingest_dir: Option<PathBuf>,
    pub ready: Arc<AtomicBool>,
    pub progress: Arc<IndexProgress>,
    pub auth: Auth,
    pub limiter: Limiter,
    pub metrics: Metrics,
    pub activity: Arc<Activity>,
    /// Directories whose files may be read from disk for attribution.
    pub workspace_roots: Vec<PathBuf>,
    pub path_map: Vec<config::PathMap>,
    pub hosts: Hosts,
    pub max_in_flight: usize,
    /// Which webhook targets are allowed, and how to wake delivery.
    pub webhooks: webhooks::Handle,
    /// The files editors ask about, whose transcripts the indexer reads first.
    pub index_priority: Arc<observatory_store::IndexPriority>,
}

impl AppParts {
    pub fn new(pool: Arc<Pool>, auth: Auth) -> Self {
        let defaults = config::Config::default();
        Self {
            pool,
            changes: Arc::new(tokio::sync::watch::channel(0u64).0),
            ingest_dir: None,
            ready: Arc::new(AtomicBool::new(true)),
            progress: Arc::default(),
            auth,
            limiter: Limiter::new(defaults.rate_per_second, defaults.rate_burst),
            metrics: Metrics::default(),
            activity: Arc::new(Activity::default()),
            workspace_roots: Vec::new(),
            path_map: Vec::new(),
            hosts: Hosts::Loopback,
            max_in_flight: max_in_flight(),
            webhooks: webhooks::Handle::default(),
            index_priority: Arc::default(),
        }
    }
}

/// Past [`max_in_flight`]: a fast 503 the client can retry, never a long queue.
async fn overloaded(e: tower::BoxError) -> error::ApiError {
    if e.is::<tower::load_shed::error::Overloaded>() {
        error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the platform is busy; retry in a second",
        )
        .retry_after(1)
    } else {
        error::ApiError::internal(e)
    }
}

/// The whole application, and its OpenAPI document.
pub fn app(parts: AppParts) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::router())
        .split_for_parts();
    // Everything under /api/v1 but the document itself needs a token. Layers run
    // outside in: authenticate, count the request against its credential, note the
    // activity, then shed what is over capacity.
    let api = api
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                // Global: `Router::layer` makes a service per route, and the limit
                // is for all of them together.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    parts.max_in_flight.max(1),
                )),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&parts.activity),
            lifecycle::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            parts.limiter,
            limit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            parts.auth.clone(),
            auth::require_token,
        ));
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    error::document_problems(&mut doc);
    let ops = Ops {
        ready: parts.ready,
        progress: parts.progress,
        openapi: Arc::new(doc.to_pretty_json().unwrap_or_default()),
    };
    let path_map = parts
        .path_map
        .into_iter()
        .map(|m| observatory_attribution::paths::PathMapping {
            from: m.from,
            to: m.to,
        })
        .collect();
    let router = api
        .with_state(api::AppState {
            pool: parts.pool,
            changes: parts.changes,
            ingest_dir: parts.ingest_dir,
            files: Arc::new(files::WorkspaceRoots::new(&parts.workspace_roots)),
            path_map: Arc::new(path_map),
            activity: parts.activity,
            webhooks: parts.webhooks,
            index_priority: parts.index_priority,
        })
        .merge(
            Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/readyz", get(readyz))
                .route("/api/v1/openapi.json", get(openapi_json))
                .route("/docs", get(docs))
                .route("/docs/redoc.standalone.js", get(docs_script))
                .route("/docs/init.js", get(docs_init))
                .with_state(ops),
        )
        .merge(
            // Metrics show what clients do: the same token as the API.
            Router::new()
                .route("/metrics", get(metrics::render))
                .with_state(parts.metrics.clone())
                .layer(axum::middleware::from_fn_with_state(
                    parts.auth,
                    auth::require_token,
                )),
        )
        .fallback(|| async {
            error::ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route; see /api/v1/openapi.json",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            parts.metrics,
            metrics::track,
        ))
        // Extractors (`Json`) have their own limit, 2 MiB unless told otherwise.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            parts.hosts,
            headers::check_host,
        ))
        // Outermost, so that whatever answers an error inside (a handler, an extractor,
        // the router's 405, the body limit's 413, the timeout's 408) answers a problem
        // document.
        .layer(axum::middleware::from_fn(error::problem_responses));
    (router, doc)
}

async fn readyz(State(ops): State<Ops>) -> axum::response::Response {
    if ops.ready.load(Ordering::Relaxed) {
        return (StatusCode::OK, "ready").into_response();
    }
    let p = &ops.progress;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let (files_done, files_total) = (n(&p.files_done), n(&p.files_total));
    // A problem document like every other error, with how far the pass has got as
    // extension members (editors show it as progress).
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::CONTENT_TYPE, error::PROBLEM_JSON)],
        serde_json::json!({
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": format!("indexing: {files_done} of {files_total} transcripts read, newest first"),
            "files_done": files_done,
            "files_total": files_total,
            "bytes_done": n(&p.bytes_done),
            "bytes_total": n(&p.bytes_total),
        })
        .to_string(),
    )
        .into_response()
}

async fn openapi_json(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ops.openapi.as_str().to_owned(),
    )
}

/// The reference page's policy: its own scripts only (Redoc, from the binary),
/// the inline styles Redoc generates, and its search worker.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// An interactive reference rendered by Redoc from the document above.
async fn docs() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_SECURITY_POLICY, DOCS_CSP)],
        Html(include_str!("docs.html")),
    )
}

fn script(body: &'static str) -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}

async fn docs_script() -> impl IntoResponse {
    script(include_str!("../assets/redoc.standalone.js"))
}

async fn docs_init() -> impl IntoResponse {
    script(include_str!("docs.js"))
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub roots: Vec<PathBuf>,
    /// Sustained requests per second per token, and the burst allowed above it.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Rewrites of recorded paths before line attribution (config `path_map`).
    pub path_map: Vec<config::PathMap>,
    /// Directories whose files `GET /files/blame` and `/files/symbols` may read from
    /// disk; empty: clients must send the content.
    pub workspace_roots: Vec<PathBuf>,
    /// Stop after this long with no API request and no open stream (the daemon an
    /// editor starts); `None`: run until stopped.
    pub idle_timeout: Option<Duration>,
    /// Header timeout and connection cap.
    pub limits: Limits,
    /// Webhook delivery (config `[webhooks]`).
    pub webhooks: config::WebhookConfig,
}

impl ServeOptions {
    /// The defaults of `observatory serve` for a data directory and transcript roots.
    pub fn new(bind: SocketAddr, data_dir: PathBuf, roots: Vec<PathBuf>) -> Self {
        let defaults = config::Config::default();
        Self {
            bind,
            data_dir,
            roots,
            rate_per_second: defaults.rate_per_second,
            rate_burst: defaults.rate_burst,
            path_map: defaults.path_map,
            workspace_roots: defaults.workspace_roots,
            idle_timeout: None,
            limits: Limits::default(),
            webhooks: defaults.webhooks,
        }
    }
}

/// Runs the platform until Ctrl-C or SIGTERM: indexing in the background, serving
/// the API.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    serve_until(opts, lifecycle::terminated(), |addr, _| {
        eprintln!(
            "observatory: serving http://{addr} (API reference at /docs; token in the data directory's `token` file)"
        );
    })
    .await
}

/// How often rate limiters forget callers that went quiet.
const FORGET_IDLE: Duration = Duration::from_secs(60);

/// Runs the platform until `shutdown` completes; `bound` is told the address once
/// the listener is up (with port 0 the system picks one). It also stops by itself
/// after `idle_timeout`, and when the last API key of a non-loopback listener is
/// revoked (an error).
///
/// One platform runs per data directory: a second one fails with the first one's
/// address, which is published in `serve.json` (see [`discover`]) for editors.
pub async fn serve_until(
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    bound: impl FnOnce(SocketAddr, &std::path::Path),
) -> anyhow::Result<()> {
    observatory_store::ensure_private_dir(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let _lock = discovery::lock(&opts.data_dir)?;
    let ready = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(IndexProgress::default());
    let stop = Arc::new(AtomicBool::new(false));
    // Migrate (and create) the database before handlers open connections to it.
    let database = observatory_store::database_path(&opts.data_dir);
    let mut indexer = observatory_store::Store::open(&database)
        .with_context(|| format!("opening {}", database.display()))?;
    check_bind(opts.bind, indexer.has_active_api_keys()?)?;
    // Where cost thresholds start watching the log: before this run indexes anything.
    let events_at_start = indexer.last_event_id()?;
    let webhook_settings = webhooks::Settings::new(&opts.webhooks)?;
    let token = local_token(&opts.data_dir).context("reading the local API token")?;
    let auth = Auth::new(
        vec![token],
        "in the file `token` of the platform's data directory",
    );
    let bump = Arc::new(tokio::sync::watch::channel(0u64).0);
    // Transcript lines uploaded by other machines are kept here and indexed like
    // local ones.
    let ingest_dir = opts.data_dir.join("ingest");
    std::fs::create_dir_all(&ingest_dir)
        .with_context(|| format!("creating {}", ingest_dir.display()))?;
    // The files editors ask about while the first pass runs are read first.
    let index_priority = Arc::new(observatory_store::IndexPriority::default());
    indexer.set_index_priority(Arc::clone(&index_priority));
    let mut roots = opts.roots.clone();
    roots.push(ingest_dir.clone());
    let metrics = Metrics::default();
    let indexing = {
        let lines = metrics.indexed_lines.clone();
        let (ready, stop, bump) = (Arc::clone(&ready), Arc::clone(&stop), Arc::clone(&bump));
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            let result = observatory_store::watch(&mut indexer, &roots, &stop, &mut |ev| {
                match &ev {
                    observatory_store::WatchEvent::Progress(p) => {
                        // Not a change of the log: the streams need not wake.
                        progress.set(*p);
                        return;
                    }
                    observatory_store::WatchEvent::Scanned(r) => {
                        tracing::info!(lines = r.lines, files = r.files_changed, "indexed");
                        lines.inc_by(r.lines);
                        ready.store(true, Ordering::Relaxed);
                    }
                    observatory_store::WatchEvent::Indexed(r) => {
                        lines.inc_by(r.lines);
                    }
                    observatory_store::WatchEvent::Failed(..) => {}
                }
                // Wake the streams: the event log may have grown.
                bump.send_modify(|n| *n += 1);
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "indexing stopped");
            }
        })
    };
    let pool = Pool::new(database);
    let auth = auth.with_api_keys(Arc::clone(&pool));
    let limiter = Limiter::new(opts.rate_per_second, opts.rate_burst);
    let activity = Arc::new(Activity::default());
    let webhook_handle = webhooks::Handle {
        allow_private_targets: webhook_settings.allow_private_targets,
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    // Delivery reads the outbox the event log's writes fill; it is woken by the
    // indexer's changes (for latency) and by the API (tests, redeliveries).
    // Cost thresholds are events of the log (for webhooks and streams alike).
    let thresholds = tokio::spawn(webhooks::thresholds::run(
        Arc::clone(&pool),
        webhook_settings.cost_thresholds_usd.clone(),
        Arc::clone(&bump),
        events_at_start,
    ));
    // So are crossings of a file's agent share (files under the workspace roots).
    let shares = tokio::spawn(webhooks::shares::run(
        Arc::clone(&pool),
        webhooks::shares::Watch {
            thresholds: webhook_settings.agent_share_thresholds_percent.clone(),
            roots: Arc::new(files::WorkspaceRoots::new(&opts.workspace_roots)),
            mappings: opts
                .path_map
                .iter()
                .map(|m| observatory_attribution::paths::PathMapping {
                    from: m.from.clone(),
                    to: m.to.clone(),
                })
                .collect(),
        },
        Arc::clone(&bump),
        events_at_start,
    ));
    let delivery = if opts.webhooks.deliver {
        Some(webhooks::start(
            Arc::clone(&pool),
            webhook_settings,
            Arc::clone(&webhook_handle.wake),
            bump.subscribe(),
            metrics.clone(),
        )?)
    } else {
        None
    };
    let parts = AppParts {
        webhooks: webhook_handle,
        changes: bump,
        ingest_dir: Some(ingest_dir),
        ready,
        progress,
        limiter: limiter.clone(),
        metrics,
        activity: Arc::clone(&activity),
        workspace_roots: opts.workspace_roots.clone(),
        path_map: opts.path_map.clone(),
        index_priority,
        hosts: if opts.bind.ip().is_loopback() {
            Hosts::Loopback
        } else {
            Hosts::Any
        },
        ..AppParts::new(Arc::clone(&pool), auth.clone())
    };
    let (router, _) = app(parts);
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .with_context(|| format!("binding {}", opts.bind))?;
    let addr = listener.local_addr()?;
    let published = discovery::publish(&opts.data_dir, addr)?;
    bound(addr, &opts.data_dir);

    let janitor = tokio::spawn(async move {
        let mut every = tokio::time::interval(FORGET_IDLE);
        loop {
            every.tick().await;
            limiter.forget_idle();
            auth.forget_idle();
        }
    });
    // Why the platform stopped by itself, when it was not asked to.
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<Option<String>>();
    let idle_timeout = opts.idle_timeout;
    let non_loopback = (!opts.bind.ip().is_loopback()).then_some(opts.bind);
    let watch_pool = Arc::clone(&pool);
    let stopper = async move {
        let idle = async {
            match idle_timeout {
                Some(t) => lifecycle::idle(activity, t).await,
                None => std::future::pending().await,
            }
        };
        let keys = async {
            match non_loopback {
                Some(bind) => lifecycle::keys_gone(watch_pool, bind).await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            () = shutdown => None,
            () = idle => None,
            reason = keys => Some(reason),
        };
        let _ = stopped_tx.send(reason);
    };
    listen::serve(listener, router, stopper, opts.limits).await;
    janitor.abort();
    // A request cut off here is still pending in the outbox: sent again next start.
    if let Some(d) = delivery {
        d.abort();
    }
    thresholds.abort();
    shares.abort();
    stop.store(true, Ordering::Relaxed);
    published.withdraw();
    let _ = indexing.join();
    if let Ok(Some(reason)) = stopped_rx.await {
        bail!(reason);
    }
    Ok(())
}

/// Listening beyond loopback exposes the API to the network: only with API keys
/// (`observatory keys create`), never with the local token alone.
pub fn check_bind(bind: SocketAddr, has_keys: bool) -> anyhow::Result<()> {
    if !bind.ip().is_loopback() && !has_keys {
        bail!(
            "refusing to listen on {bind}: no API keys exist. Create one with `observatory keys create NAME --scope read`, \
             or bind to 127.0.0.1"
        );
    }
    Ok(())
}

/// [`serve`] on a runtime of its own, for callers that are not async.
pub fn serve_blocking(opts: ServeOptions) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(opts))
}
