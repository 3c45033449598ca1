//! Bearer-token authentication for the API.
//!
//! At first start the platform writes a random local token to `<data dir>/token`,
//! readable only by the user, so local tools (the language server, scripts)
//! authenticate with no setup. Tokens are compared in constant time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

#[derive(Clone)]
pub struct Auth {
    tokens: Arc<Vec<String>>,
    /// Where a client finds the local token, for the 401 message (not an absolute
    /// path: that would tell anyone who asks where the user's home is).
    hint: Arc<String>,
    /// API keys are checked against the store.
    keys: Option<Arc<crate::Pool>>,
    failures: crate::limit::FailureLimiter,
}

impl Auth {
    pub fn new(tokens: Vec<String>, hint: impl Into<String>) -> Self {
        Self {
            tokens: Arc::new(tokens),
            hint: Arc::new(hint.into()),
            keys: None,
            failures: crate::limit::FailureLimiter::default(),
        }
    }

    /// Also accept the API keys stored in the database behind `pool`.
    pub fn with_api_keys(mut self, pool: Arc<crate::Pool>) -> Self {
        self.keys = Some(pool);
        self
    }

    /// Forgets addresses whose failed attempts are old (called periodically).
    pub fn forget_idle(&self) {
        self.failures.forget_idle();
    }

    fn accepts(&self, presented: &str) -> bool {
        // Check every token, so timing does not reveal which one nearly matched.
        self.tokens.iter().fold(false, |ok, t| {
            ok | bool::from(t.as_bytes().ct_eq(presented.as_bytes()))
        })
    }
}

/// The local token file inside the data directory.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(observatory_protocol::discovery::TOKEN)
}

/// Shortest local token accepted: a token someone typed by hand can be guessed.
pub const MIN_TOKEN_LEN: usize = 32;

/// Reads the local token, creating it (mode 0600) on first use. A token file that
/// other users can read is made private again (with a warning: they may have read
/// it); one with a trivially short token is refused.
pub fn local_token(data_dir: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => {
            let token = t.trim().to_owned();
            if token.chars().count() < MIN_TOKEN_LEN {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the token in {} has {} characters, too few to be safe: delete the \
                         file and a random one is made, or put at least {MIN_TOKEN_LEN} random \
                         characters in it",
                        path.display(),
                        token.chars().count()
                    ),
                ));
            }
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the local token was readable by other users; made it private (0600). \
                     Delete the file to replace the token if others may have read it"
                );
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
            return Ok(token);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    observatory_store::ensure_private_dir(data_dir).map_err(std::io::Error::other)?;
    let bytes: [u8; 32] = rand::rng().random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path)?.write_all(token.as_bytes())?;
    Ok(token)
}

/// The scope a request needs: managing keys and webhooks (whose URLs may carry
/// tokens, and which receive every matching event) is `admin`; reading (including
/// blaming a posted buffer) is `read`; anything else changes data and is `write`.
fn needed_scope(method: &axum::http::Method, path: &str) -> &'static str {
    if path.starts_with("/api/v1/keys") || path.starts_with("/api/v1/webhooks") {
        "admin"
    } else if method == axum::http::Method::GET
        || method == axum::http::Method::HEAD
        || path == "/api/v1/files/blame"
    {
        "read"
    } else {
        "write"
    }
}

/// Who a request authenticated as, for the handlers and the rate limiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The API key, or `None` for the local token.
    pub key_id: Option<i64>,
    pub scopes: Vec<String>,
}

impl Identity {
    /// The rate limiter's key: one budget per credential, however it is spelled.
    pub fn limit_key(&self) -> String {
        self.key_id
            .map_or_else(|| "local".to_owned(), |id| format!("key:{id}"))
    }
}

/// The identity a presented secret belongs to: all scopes for the local token.
async fn identify(auth: &Auth, presented: &str) -> Result<Option<Identity>, ApiError> {
    if auth.accepts(presented) {
        return Ok(Some(Identity {
            key_id: None,
            scopes: observatory_store::keys::SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }));
    }
    let Some(pool) = &auth.keys else {
        return Ok(None);
    };
    // Real keys are short; anything long is not one, and is not worth a query.
    if presented.len() > 128 {
        return Ok(None);
    }
    let secret = presented.to_owned();
    let key = pool.read(move |c| Ok(c.verify_api_key(&secret)?)).await?;
    Ok(key.map(|k| Identity {
        key_id: Some(k.id),
        scopes: k.scopes,
    }))
}

/// The client's address, when the server recorded it (see `listen`).
fn peer(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

pub async fn require_token(
    State(auth): State<Auth>,
    mut req: Request,
    next: Next,
) -> Result<Response, Response> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .map(str::to_owned);
    let from = peer(&req);
    let refused = |status: StatusCode, detail: String| {
        // Failed attempts are limited per address: guessing costs time.
        match auth.failures.check(from) {
            Err(limited) => limited.into_response(),
            Ok(()) => ApiError::new(status, detail).into_response(),
        }
    };
    // No credential at all is no guess, and costs no lookup: not counted.
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "send `Authorization: Bearer <token>`; the local token is {}",
                auth.hint
            ),
        )
        .into_response());
    };
    let identity = match identify(&auth, &presented).await {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            return Err(refused(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not valid".to_owned(),
            ))
        }
        Err(e) => return Err(e.into_response()),
    };
    let needed = needed_scope(req.method(), req.uri().path());
    if !identity
        .scopes
        .iter()
        .any(|s| s == needed || s == "admin" || (s == "write" && needed == "read"))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this key lacks the {needed:?} scope"),
        )
        .into_response());
    }
    req.extensions_mut().insert(identity);
    Ok(next.run(req).await)
}
