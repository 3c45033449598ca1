//! When the platform stops on its own: a termination signal, no client for a while
//! (the daemon an editor started), or no API key left to allow a listener beyond
//! loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::Pool;

/// What clients are doing, for the idle timeout.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last API request.
    last_request_ms: AtomicU64,
    open_streams: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_request_ms: AtomicU64::new(0),
            open_streams: AtomicUsize::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_request_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// Held by an open stream: a platform with a listening editor is not idle.
    pub fn stream(self: &Arc<Self>) -> StreamGuard {
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(self))
    }

    /// How long nothing has happened; zero while a stream is open.
    pub fn idle_for(&self) -> Duration {
        if self.open_streams.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_request_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

pub struct StreamGuard(Arc<Activity>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware: an authenticated API request is activity.
pub async fn track(State(activity): State<Arc<Activity>>, req: Request, next: Next) -> Response {
    activity.touch();
    let res = next.run(req).await;
    // A long request counts until it ends.
    activity.touch();
    res
}

/// Completes once the platform has been idle for `timeout`.
pub async fn idle(activity: Arc<Activity>, timeout: Duration) {
    loop {
        let idle = activity.idle_for();
        if idle >= timeout {
            tracing::info!(?timeout, "no client for the idle timeout; stopping");
            return;
        }
        tokio::time::sleep((timeout - idle).max(Duration::from_millis(100))).await;
    }
}

/// How often the key table is checked while listening beyond loopback.
const KEY_CHECK: Duration = Duration::from_secs(2);

/// Completes (with the reason) once no API key is left to allow listening on
/// `bind`, which is not loopback: revoking the last key closes the listener.
pub async fn keys_gone(pool: Arc<Pool>, bind: SocketAddr) -> String {
    loop {
        tokio::time::sleep(KEY_CHECK).await;
        match pool.read(|c| Ok(c.has_active_api_keys()?)).await {
            Ok(false) => {
                return format!(
                    "stopped listening on {bind}: the last API key was revoked, and only \
                     loopback may be served without one"
                )
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(detail = %e.detail, "could not check the API keys"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (what service managers and `kill` send), so that
/// `serve.json` is withdrawn either way. The handlers are installed when this is
/// called, not when the future is first polled: `serve.json` is published before the
/// accept loop polls it, and a SIGTERM in between would otherwise end the process
/// with the default action, leaving `serve.json` behind.
pub fn terminated() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let installed = [SignalKind::terminate(), SignalKind::interrupt()].map(|kind| {
        signal(kind)
            .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGTERM or SIGINT"))
            .ok()
    });
    async move {
        let [term, int] = installed;
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(term) => {}
            () = wait(int) => {}
        }
    }
}
