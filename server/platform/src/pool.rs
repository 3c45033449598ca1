//! SQLite connections for request handlers. A connection is not `Sync`, so each
//! request borrows one on a blocking thread; WAL mode lets them read while the
//! indexer writes.
//!
//! This is the one place above the store that knows the backend is SQLite: handlers
//! get the connection as a `&dyn Catalog` (reads) or a `&mut dyn Writer` (writes),
//! the seam another backend implements.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use observatory_store::{Catalog, InterruptHandle, Store, Writer};

use crate::error::ApiError;

pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    /// File histories decoded by any connection, for all of them.
    writes: Arc<observatory_store::WritesCache>,
}

/// Connections kept open between requests.
const MAX_IDLE: usize = 8;

impl Pool {
    pub fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::new()),
            writes: Arc::new(observatory_store::WritesCache::default()),
        })
    }

    /// Runs the queries of `f` on a blocking thread (see [`Pool::run`]).
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(move |store| f(store)).await
    }

    /// Runs the changes of `f` on a blocking thread (see [`Pool::run`]).
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Writer) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(move |store| f(store)).await
    }

    /// Runs `f` with a connection on a blocking thread. When the caller stops
    /// waiting (the client went away, the request timed out), work not yet started
    /// is skipped and a running SQLite statement is interrupted.
    async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        let running = Arc::new(Running::default());
        let guard = CancelOnDrop(Some(Arc::clone(&running)));
        let result = tokio::task::spawn_blocking(move || {
            let taken = pool.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut store = match taken {
                Some(s) => s,
                None => Store::open(&pool.path)
                    .map_err(ApiError::internal)?
                    .with_writes_cache(Arc::clone(&pool.writes)),
            };
            if !running.start(store.interrupt_handle()) {
                pool.put_back(store);
                return Err(ApiError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    "the client stopped waiting",
                ));
            }
            let result = f(&mut store);
            running.finish();
            pool.put_back(store);
            result
        })
        .await
        .map_err(ApiError::internal)?;
        guard.disarm();
        result
    }

    fn put_back(&self, store: Store) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(store);
            }
        }
    }
}

/// The interrupt handle of the connection a request's work runs on, while it runs.
#[derive(Default)]
struct Running {
    /// `None` before the work starts and after it ends.
    slot: Mutex<(bool, Option<InterruptHandle>)>,
}

impl Running {
    /// Registers the connection; false if the caller already gave up.
    fn start(&self, handle: InterruptHandle) -> bool {
        let Ok(mut slot) = self.slot.lock() else {
            return true;
        };
        if slot.0 {
            return false;
        }
        slot.1 = Some(handle);
        true
    }

    /// From here on the connection may serve someone else: never interrupt it.
    fn finish(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            slot.1 = None;
        }
    }

    fn cancel(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            slot.0 = true;
            if let Some(h) = slot.1.take() {
                h.interrupt();
            }
        }
    }
}

/// Dropped with the request's future unless the work completed.
struct CancelOnDrop(Option<Arc<Running>>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            r.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_nobody_waits_for_is_interrupted() {
        let dir = tempfile::tempdir().expect("tmp");
        let pool = Pool::new(dir.path().join("observatory.db"));
        let (tx, rx) = std::sync::mpsc::channel();
        let request = pool.run(move |s| {
            // Billions of steps: minutes, unless interrupted.
            let _ = tx.send(s.spin(5_000_000_000));
            Ok(())
        });
        // The client goes away while the query runs.
        let _ = tokio::time::timeout(Duration::from_millis(300), request).await;
        let outcome = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .expect("join");
        let err = outcome
            .expect("the query ended instead of running on")
            .expect_err("interrupted");
        assert!(err.to_string().contains("interrupt"), "{err}");
        // The connection went back to the pool and serves the next request.
        assert_eq!(pool.run(|s| Ok(s.spin(10)?)).await.expect("next"), 10);
    }
}
