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
mod ingest;
mod keys;
mod limit;
mod metrics;
mod pool;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{local_token, token_path, Auth};
pub use error::Problem;
pub use limit::Limiter;
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
    )
)]
struct ApiDoc;

/// Largest request body accepted (a blame request carries a whole buffer).
const MAX_BODY: usize = 16 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Ops {
    ready: Arc<AtomicBool>,
    openapi: Arc<String>,
}

/// The whole application, and its OpenAPI document.
pub fn app(
    pool: Arc<Pool>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    ingest_dir: Option<PathBuf>,
    ready: Arc<AtomicBool>,
    auth: Auth,
    limiter: Limiter,
    metrics: Metrics,
) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::router())
        .split_for_parts();
    // Everything under /api/v1 but the document itself needs a token. Layers run
    // outside in: authenticate, then count the request against its token.
    let api = api
        .layer(axum::middleware::from_fn_with_state(limiter, limit::limit))
        .layer(axum::middleware::from_fn_with_state(
            auth,
            auth::require_token,
        ));
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let ops = Ops {
        ready,
        openapi: Arc::new(doc.to_pretty_json().unwrap_or_default()),
    };
    let router = api
        .with_state(api::AppState {
            pool,
            changes,
            ingest_dir,
        })
        .merge(
            Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/readyz", get(readyz))
                .route("/api/v1/openapi.json", get(openapi_json))
                .route("/docs", get(docs))
                .with_state(ops),
        )
        .merge(
            Router::new()
                .route("/metrics", get(metrics::render))
                .with_state(metrics.clone()),
        )
        .fallback(|| async {
            error::ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route; see /api/v1/openapi.json",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    (router, doc)
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    if ops.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "indexing")
    }
}

async fn openapi_json(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ops.openapi.as_str().to_owned(),
    )
}

/// An interactive reference rendered by Scalar from the document above.
async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
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
            path_map: Vec::new(),
            workspace_roots: Vec::new(),
            idle_timeout: None,
        }
    }
}

/// Runs the platform until Ctrl-C: indexing in the background, serving the API.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    serve_until(
        opts,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        |addr, data_dir| {
            eprintln!(
                "observatory: serving http://{addr} (API reference at /docs; token in {})",
                token_path(data_dir).display()
            );
        },
    )
    .await
}

/// Runs the platform until `shutdown` completes; `bound` is told the address once
/// the listener is up (with port 0 the system picks one).
///
/// One platform runs per data directory: a second one fails with the first one's
/// address, which is published in `serve.json` (see [`discover`]) for editors.
pub async fn serve_until(
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    bound: impl FnOnce(SocketAddr, &std::path::Path),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let _lock = discovery::lock(&opts.data_dir)?;
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // Migrate (and create) the database before handlers open connections to it.
    let database = observatory_store::database_path(&opts.data_dir);
    let mut indexer = observatory_store::Store::open(&database)
        .with_context(|| format!("opening {}", database.display()))?;
    check_bind(opts.bind, indexer.has_active_api_keys()?)?;
    let token = local_token(&opts.data_dir).context("creating the local API token")?;
    let auth = Auth::new(
        vec![token],
        token_path(&opts.data_dir).display().to_string(),
    );
    let bump = Arc::new(tokio::sync::watch::channel(0u64).0);
    // Transcript lines uploaded by other machines are kept here and indexed like
    // local ones.
    let ingest_dir = opts.data_dir.join("ingest");
    std::fs::create_dir_all(&ingest_dir)
        .with_context(|| format!("creating {}", ingest_dir.display()))?;
    let mut roots = opts.roots.clone();
    roots.push(ingest_dir.clone());
    let metrics = Metrics::default();
    let indexing = {
        let lines = metrics.indexed_lines.clone();
        let (ready, stop, bump) = (Arc::clone(&ready), Arc::clone(&stop), Arc::clone(&bump));
        std::thread::spawn(move || {
            let result = observatory_store::watch(&mut indexer, &roots, &stop, &mut |ev| {
                match &ev {
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
    let limiter = Limiter::new(opts.rate_per_second, opts.rate_burst);
    let pool = Pool::new(database);
    let auth = auth.with_api_keys(Arc::clone(&pool));
    let (router, _) = app(pool, bump, Some(ingest_dir), ready, auth, limiter, metrics);
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .with_context(|| format!("binding {}", opts.bind))?;
    let addr = listener.local_addr()?;
    let published = discovery::publish(&opts.data_dir, addr)?;
    bound(addr, &opts.data_dir);
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    stop.store(true, Ordering::Relaxed);
    published.withdraw();
    let _ = indexing.join();
    served?;
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
