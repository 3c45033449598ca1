//! How clients on one machine find the platform serving a data directory: the
//! files `observatory serve` keeps there. Reading and writing them is the platform's
//! and the language server's business; their names and shape are shared here.

use serde::{Deserialize, Serialize};

/// Published by a running platform (written atomically, removed when it stops).
pub const SERVE_JSON: &str = "serve.json";
/// Held (an advisory lock) by the running platform for its lifetime.
pub const SERVE_LOCK: &str = "serve.lock";
/// The local token: all scopes, for clients of this machine's user (mode 0600).
pub const TOKEN: &str = "token";

/// The content of `serve.json`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// Base URL, e.g. `http://127.0.0.1:8787`.
    pub url: String,
    pub pid: u32,
    /// The platform's version (`CARGO_PKG_VERSION`).
    pub version: String,
}
