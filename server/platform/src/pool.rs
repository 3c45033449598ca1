//! SQLite connections for request handlers. A connection is not `Sync`, so each
//! request borrows one on a blocking thread; WAL mode lets them read while the
//! indexer writes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use observatory_store::Store;

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

    /// Runs `f` with a connection on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let taken = pool.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut store = match taken {
                Some(s) => s,
                None => Store::open(&pool.path)
                    .map_err(ApiError::internal)?
                    .with_writes_cache(Arc::clone(&pool.writes)),
            };
            let result = f(&mut store);
            if let Ok(mut idle) = pool.idle.lock() {
                if idle.len() < MAX_IDLE {
                    idle.push(store);
                }
            }
            result
        })
        .await
        .map_err(ApiError::internal)?
    }
}
