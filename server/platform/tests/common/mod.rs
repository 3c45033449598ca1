//! The platform over real HTTP on loopback, against a store of the fixture
//! transcripts, served by the same accept loop as `observatory serve`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use observatory_platform::{app, AppParts, Pool};
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts");
    // Paths sent to the API are absolute and plain, as editors send them.
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

pub struct Server {
    pub base: String,
    pub db: PathBuf,
    pub bump: Arc<tokio::sync::watch::Sender<u64>>,
    pub token: String,
    pub doc: utoipa::openapi::OpenApi,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_limited(per_second: u32, burst: u32) -> Server {
    start_with(|p| p.limiter = observatory_platform::Limiter::new(per_second, burst)).await
}

/// The platform's application over the fixture transcripts, served by the same
/// accept loop as `observatory serve`, with the parts a test changes.
pub async fn start_with(change: impl FnOnce(&mut AppParts)) -> Server {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("observatory.db");
    let mut store = observatory_store::Store::open(&db).expect("store");
    store
        .index_roots(&[fixtures()], &mut |_| {})
        .expect("index");
    drop(store);
    let token = observatory_platform::local_token(dir.path()).expect("token");
    let again = observatory_platform::local_token(dir.path()).expect("token");
    assert_eq!(token, again, "the token is made once and then reused");
    let auth = observatory_platform::Auth::new(vec![token.clone()], "the token file");
    let pool = Pool::new(db.clone());
    let auth = auth.with_api_keys(Arc::clone(&pool));
    let mut parts = AppParts::new(pool, auth);
    parts.limiter = observatory_platform::Limiter::new(1000, 1000);
    parts.ingest_dir = Some(dir.path().join("ingest"));
    parts.workspace_roots = vec![fixtures()];
    change(&mut parts);
    let bump = Arc::clone(&parts.changes);
    let (router, doc) = app(parts);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(observatory_platform::serve_router(
        listener,
        router,
        std::future::pending(),
        observatory_platform::Limits::default(),
    ));
    Server {
        base,
        db,
        bump,
        token,
        doc,
        dir,
    }
}

/// A client that sends the server's token.
pub fn client(s: &Server) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {}", s.token).parse().expect("header");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// A response header as text (empty when absent).
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Posts `body` as JSON with the server's token; the status and the JSON answer.
pub async fn post_json(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let r = client(s)
        .post(format!("{}{path}", s.base))
        .json(body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

pub async fn get(s: &Server, path: &str) -> (u16, String, Value) {
    let r = client(s)
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let ct = header(&r, "content-type");
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ct, json)
}
