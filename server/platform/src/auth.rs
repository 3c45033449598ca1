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
}

impl Auth {
    pub fn new(tokens: Vec<String>, hint: impl Into<String>) -> Self {
        Self {
            tokens: Arc::new(tokens),
            hint: Arc::new(hint.into()),
        }
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
        .map(str::trim);
    match presented {
        Some(t) if auth.accepts(t) => Ok(next.run(req).await),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "send `Authorization: Bearer <token>`; the local token is in {}",
                auth.hint
            ),
        )),
    }
}
