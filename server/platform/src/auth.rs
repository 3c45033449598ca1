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
use axum::response::Response;
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

#[derive(Clone)]
pub struct Auth {
    tokens: Arc<Vec<String>>,
    /// Where a client finds the local token, for the 401 message.
    hint: Arc<String>,
    /// API keys are checked against the store.
    keys: Option<Arc<crate::Pool>>,
}

impl Auth {
    pub fn new(tokens: Vec<String>, hint: impl Into<String>) -> Self {
        Self {
            tokens: Arc::new(tokens),
            hint: Arc::new(hint.into()),
            keys: None,
        }
    }

    /// Also accept the API keys stored in the database behind `pool`.
    pub fn with_api_keys(mut self, pool: Arc<crate::Pool>) -> Self {
        self.keys = Some(pool);
        self
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
    data_dir.join("token")
}

/// Reads the local token, creating it (mode 0600) on first use.
pub fn local_token(data_dir: &Path) -> std::io::Result<String> {
    let path = token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
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

/// The scope a request needs: managing keys is `admin`; reading (including blaming a
/// posted buffer) is `read`; anything else changes data and is `write`.
fn needed_scope(method: &axum::http::Method, path: &str) -> &'static str {
    if path.starts_with("/api/v1/keys") {
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

/// Scopes granted by a presented secret: all of them for the local token.
async fn scopes_of(auth: &Auth, presented: &str) -> Result<Option<Vec<String>>, ApiError> {
    if auth.accepts(presented) {
        return Ok(Some(
            observatory_store::keys::SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ));
    }
    let Some(pool) = &auth.keys else {
        return Ok(None);
    };
    let secret = presented.to_owned();
    let key = pool.run(move |s| Ok(s.verify_api_key(&secret)?)).await?;
    Ok(key.map(|k| k.scopes))
}

pub async fn require_token(
    State(auth): State<Auth>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "send `Authorization: Bearer <token>`; the local token is in {}",
                auth.hint
            ),
        ));
    };
    let Some(scopes) = scopes_of(&auth, &presented).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid",
        ));
    };
    let needed = needed_scope(req.method(), req.uri().path());
    if !scopes
        .iter()
        .any(|s| s == needed || s == "admin" || (s == "write" && needed == "read"))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this key lacks the {needed:?} scope"),
        ));
    }
    Ok(next.run(req).await)
}
