//! The holes a hostile sweep found, each closed: every test here failed before its
//! fix. Real HTTP, WebSocket and TCP on loopback.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use futures_util::StreamExt;
use observatory_platform::{Limits, ServeOptions};
use observatory_store::Writer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{client, fixtures, get, header, post_json, start, start_limited, start_with, Server};

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

async fn create_key(s: &Server, scope: &str) -> (i64, String) {
    let (_, r) = post_json(
        s,
        "/api/v1/keys",
        &serde_json::json!({"name": format!("{scope} key"), "scopes": [scope]}),
    )
    .await;
    let id = r["key"]["id"].as_i64().expect("id");
    (id, r["secret"].as_str().expect("secret").to_owned())
}

async fn get_with(s: &Server, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn blame_reads_only_regular_files_under_workspace_roots() {
    let s = start().await;
    let (_, reader) = create_key(&s, "read").await;
    for path in [
        "/etc/passwd",
        "/etc/shadow",
        "/dev/zero",
        "/proc/self/environ",
    ] {
        for route in ["blame", "symbols"] {
            let (status, body) =
                get_with(&s, &format!("/api/v1/files/{route}?path={path}"), &reader).await;
            assert_eq!(status, 403, "{route} {path}: {body}");
            assert!(!body.to_string().contains("lines"), "{body}");
        }
    }
    // Inside a root: a FIFO is refused at once instead of hanging a worker.
    let inside = fixtures().join("observatory-test-fifo");
    let _ = std::fs::remove_file(&inside);
    let c = std::ffi::CString::new(inside.display().to_string()).expect("cstr");
    // SAFETY: a valid NUL-terminated path.
    let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0;
    if made {
        let (status, body) = get_with(
            &s,
            &format!("/api/v1/files/blame?path={}", inside.display()),
            &reader,
        )
        .await;
        let _ = std::fs::remove_file(&inside);
        assert_eq!(status, 422, "{body}");
    }

    // Without workspace roots nothing is read from disk; posted content still works.
    let s = start_with(|p| p.workspace_roots.clear()).await;
    let file = fixtures().join("ai-blame/tests/examples/simple/example.py");
    let (status, _, body) = get(&s, &format!("/api/v1/files/blame?path={}", file.display())).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("workspace_roots")),
        "says what to do: {body}"
    );
}

#[tokio::test]
async fn a_buffer_over_two_mebibytes_can_be_blamed() {
    let s = start().await;
    let file = fixtures().join("ai-blame/tests/examples/simple/example.py");
    let mut content = std::fs::read_to_string(&file).expect("read");
    let filler = "# padding line that nobody recorded\n".repeat(100_000);
    assert!(filler.len() > 3 * 1024 * 1024);
    content.push_str(&filler);
    let (status, b) = post_json(
        &s,
        "/api/v1/files/blame",
        &serde_json::json!({"path": file, "content": content}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b["attributed_lines"], 16, "{}", b["runs"]);
}

#[tokio::test]
async fn path_map_rewrites_recorded_paths() {
    // The fixture's session wrote /Users/cjm/repos/ai-blame-test/example.py; here
    // the file lives elsewhere, under a path no suffix rule matches.
    let local = "/elsewhere/proj/example.py";
    let content =
        std::fs::read_to_string(fixtures().join("ai-blame/tests/examples/simple/example.py"))
            .expect("read");
    let blamed = |s: Server| {
        let content = content.clone();
        async move {
            let (_, b) = post_json(
                &s,
                "/api/v1/files/blame",
                &serde_json::json!({"path": local, "root": "/", "content": content}),
            )
            .await;
            b["attributed_lines"].as_u64()
        }
    };
    assert_eq!(blamed(start().await).await, Some(0));
    let mapped = start_with(|p| {
        p.path_map = vec![observatory_platform::config::PathMap {
            from: "/Users/cjm/repos/ai-blame-test".into(),
            to: "/elsewhere/proj".into(),
        }]
    })
    .await;
    assert_eq!(blamed(mapped).await, Some(16));
}

#[tokio::test]
async fn half_open_connections_are_closed_and_capped() {
    let s = start_with(|_| {}).await;
    // The harness serves with the defaults; this one gets a short header timeout and
    // a small cap, through the same accept loop.
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        max_connections: 3,
        ..Limits::default()
    };
    let at = serve_parts(parts_for(&s), limits).await;

    // Unfinished headers: the server closes the connection itself.
    let mut slow = tokio::net::TcpStream::connect(at).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the server kept a connection with unfinished headers open"
    );

    // At the cap, a new connection waits until one closes.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(at).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .expect("write");
        held.push(c);
    }
    let url = format!("http://{at}/healthz");
    let waiting = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "served beyond the connection cap");
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("served once connections closed")
        .expect("join")
        .expect("request");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn over_capacity_is_a_fast_503_with_retry_after() {
    let s = start_with(|p| p.max_in_flight = 1).await;
    // A request whose body never finishes holds the one slot.
    let mut hog = tokio::net::TcpStream::connect(addr(&s))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/files/blame HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"path\":",
        s.token
    );
    hog.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = client(&s)
        .get(format!("{}/api/v1/projects", s.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(header(&r, "content-type"), "application/problem+json");
    drop(hog);
}

#[tokio::test]
async fn expensive_queries_are_refused_up_front() {
    let s = start().await;
    let many = vec!["a*"; 20].join("%20");
    let (status, _, body) = get(&s, &format!("/api/v1/search?q={many}")).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = get(&s, "/api/v1/search?q=a%00b").await;
    assert!(status < 500, "{status} {body}");
    let (status, _, body) = get(&s, "/api/v1/symbols?name=a").await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn the_rate_limit_follows_the_credential_not_the_header() {
    let s = start_limited(1, 3).await;
    let spellings = [
        format!("Bearer {}", s.token),
        format!("Bearer  {}", s.token),
        format!("bearer {}", s.token),
        format!("Bearer {}\t", s.token),
    ];
    let mut statuses = Vec::new();
    for auth in &spellings {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/projects", s.base))
            .header("authorization", auth)
            .send()
            .await
            .expect("request");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 429],
        "one budget for one token"
    );

    // Guessing: failed authentications from one address are limited too.
    let mut last = 0;
    for i in 0..40 {
        last = reqwest::Client::new()
            .get(format!("{}/api/v1/projects", s.base))
            .bearer_auth(format!("obs_guess{i}_x"))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "bad tokens are never limited");
}

#[tokio::test]
async fn metrics_need_the_token_and_keep_their_labels_bounded() {
    let s = start().await;
    let r = reqwest::get(format!("{}/metrics", s.base))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 401);
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).expect("method");
        let _ = client(&s)
            .request(method, format!("{}/api/v1/projects", s.base))
            .send()
            .await
            .expect("request");
    }
    let (status, _, body) = get(&s, "/metrics").await;
    assert_eq!(status, 200);
    let text = body.as_str().unwrap_or_default();
    assert!(!text.contains("MADEUP"), "client-chosen label values");
    assert!(text.contains("method=\"other\""), "{text}");
}

#[tokio::test]
async fn browsers_get_a_locked_down_platform() {
    let s = start().await;
    let r = reqwest::get(format!("{}/docs", s.base))
        .await
        .expect("docs");
    let csp = header(&r, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.expect("html");
    assert!(!html.contains("https://"), "no third-party script: {html}");
    let script = reqwest::get(format!("{}/docs/redoc.standalone.js", s.base))
        .await
        .expect("script");
    assert_eq!(script.status().as_u16(), 200);
    assert!(script.text().await.expect("js").len() > 100_000);

    let r = client(&s)
        .get(format!("{}/api/v1/projects", s.base))
        .send()
        .await
        .expect("api");
    let h = r.headers();
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert_eq!(
        h.get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );

    // DNS rebinding: a page on another name that resolves to 127.0.0.1.
    let r = client(&s)
        .get(format!("{}/api/v1/projects", s.base))
        .header("host", "attacker.example")
        .send()
        .await
        .expect("rebound");
    assert_eq!(r.status().as_u16(), 421);
}

#[tokio::test]
async fn cursors_cannot_overflow_or_come_from_the_future() {
    let s = start().await;
    let (status, _, body) = get(&s, "/api/v1/conversations?cursor=o18446744073709551615").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = get(&s, "/api/v1/search?q=refresh&offset=18446744073709551615").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = get(&s, "/api/v1/events?after=999999999999").await;
    assert_eq!(status, 422, "{body}");
    let url = format!("ws://{}/api/v1/stream?after=999999999999", addr(&s));
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.token).parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 422),
        other => panic!(
            "a cursor from the future was accepted: {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn a_revoked_key_loses_its_stream() {
    let s = start().await;
    let (id, secret) = create_key(&s, "read").await;
    let url = format!("ws://{}/api/v1/stream", addr(&s));
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {secret}").parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.expect("stream");
    let r = client(&s)
        .delete(format!("{}/api/v1/keys/{id}", s.base))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status().as_u16(), 204);
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(m) = socket.next().await {
            match m {
                Ok(tokio_tungstenite::tungstenite::Message::Close(f)) => {
                    return f.map(|f| f.reason.to_string()).unwrap_or_default()
                }
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
        String::new()
    })
    .await
    .expect("the stream stayed open after its key was revoked");
    assert!(closed.contains("revoked"), "{closed}");
}

#[tokio::test]
async fn deleting_a_conversation_deletes_its_events() {
    let s = start().await;
    let session = "2c965cfd-41e4-4e31-8339-2986ebced03c";
    let kinds = |page: &Value| -> Vec<String> {
        page["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let events = format!("/api/v1/events?session_id={session}&limit=1000");
    let (_, _, before) = get(&s, &events).await;
    assert!(
        !kinds(&before).is_empty(),
        "the fixture has events: {before}"
    );
    let r = client(&s)
        .delete(format!("{}/api/v1/conversations/{session}", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 200);
    let (_, _, after) = get(&s, &events).await;
    assert_eq!(kinds(&after), vec!["conversation.deleted"], "{after}");
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

/// `serve_until` on a fresh data directory, until the returned sender is used.
async fn serve(
    data: &std::path::Path,
    bind: &str,
    change: impl FnOnce(&mut ServeOptions),
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tell, told) = tokio::sync::oneshot::channel();
    let mut opts = ServeOptions::new(bind.parse().expect("addr"), data.to_path_buf(), Vec::new());
    change(&mut opts);
    let task = tokio::spawn(observatory_platform::serve_until(
        opts,
        async {
            let _ = stopped.await;
        },
        move |addr, _| {
            let _ = tell.send(addr);
        },
    ));
    let addr = tokio::time::timeout(Duration::from_secs(60), told)
        .await
        .expect("started")
        .expect("address");
    (addr, stop, task)
}

#[tokio::test]
async fn the_data_directory_is_private() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let (addr, stop, task) = serve(&data, "127.0.0.1:0", |_| {}).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("observatory.db")), 0o600);
    assert_eq!(mode(&data.join("token")), 0o600);
    // The 401 tells where the token is without naming the user's home.
    let r = reqwest::get(format!("http://{addr}/api/v1/projects"))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 401);
    let detail = r.text().await.expect("body");
    assert!(
        !detail.contains(&tmp.path().display().to_string()),
        "{detail}"
    );
    let _ = stop.send(());
    task.await.expect("join").expect("served");

    // A token file others can read is made private; a short token is refused.
    let token = data.join("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    observatory_platform::local_token(&data).expect("token");
    assert_eq!(mode(&token), 0o600);
    std::fs::write(&token, "hunter2").expect("write");
    let e = observatory_platform::local_token(&data).expect_err("short token");
    assert!(e.to_string().contains("too few"), "{e}");
}

#[tokio::test]
async fn revoking_the_last_key_closes_a_listener_beyond_loopback() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let mut store =
        observatory_store::Store::open(&observatory_store::database_path(&data)).expect("store");
    let (key, _) = store.create_api_key("team", &["read".into()]).expect("key");
    // Listening on every interface; the test talks to it on loopback only.
    let (addr, _stop, task) = serve(&data, "0.0.0.0:0", |_| {}).await;
    let r = reqwest::get(format!("http://127.0.0.1:{}/healthz", addr.port()))
        .await
        .expect("up");
    assert_eq!(r.status().as_u16(), 200);
    assert!(store.revoke_api_key(key.id).expect("revoke"));
    let ended = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the listener stayed up with no key left")
        .expect("join");
    let e = ended.expect_err("stopping is an error");
    assert!(e.to_string().contains("last API key was revoked"), "{e}");
    assert!(
        observatory_platform::discovery::discover(&data).is_none(),
        "serve.json withdrawn"
    );
}

#[tokio::test]
async fn an_idle_platform_stops_unless_a_stream_is_open() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let (addr, _stop, task) = serve(&data, "127.0.0.1:0", |o| {
        o.idle_timeout = Some(Duration::from_millis(1500))
    })
    .await;
    let token = observatory_platform::local_token(&data).expect("token");
    // An editor following the stream keeps it up past the timeout.
    let url = format!("ws://{addr}/api/v1/stream");
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(req).await.expect("stream");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!task.is_finished(), "stopped while a stream was open");
    drop(socket);
    let ended = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("an idle platform kept running")
        .expect("join");
    ended.expect("an idle stop is not an error");
    assert!(observatory_platform::discovery::discover(&data).is_none());
}

/// While the first indexing pass runs, `/readyz` answers 503 with how far it has
/// got, which editors show as progress; then 200.
#[tokio::test]
async fn readiness_reports_the_first_pass_progress() {
    let s = start_with(|_| {}).await;
    let parts = parts_for(&s);
    parts
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let (ready, progress) = (parts.ready.clone(), parts.progress.clone());
    for (counter, value) in [
        (&progress.files_done, 3),
        (&progress.files_total, 12),
        (&progress.bytes_done, 250),
        (&progress.bytes_total, 1000),
    ] {
        counter.store(value, std::sync::atomic::Ordering::Relaxed);
    }
    let at = serve_parts(parts, Limits::default()).await;
    let readyz = || async {
        let r = reqwest::Client::new()
            .get(format!("http://{at}/readyz"))
            .send()
            .await
            .expect("readyz");
        (r.status().as_u16(), r.text().await.expect("body"))
    };
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(body["status"], 503);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("3 of 12")),
        "{body}"
    );
    assert_eq!(
        [
            &body["files_done"],
            &body["files_total"],
            &body["bytes_done"],
            &body["bytes_total"]
        ],
        [3, 12, 250, 1000]
    );
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(readyz().await, (200, "ready".to_owned()));
}

/// An editor asking about a file (its lenses, its blame) makes the indexer read
/// that file's checkout's transcripts next: the platform hands the path on.
#[tokio::test]
async fn files_editors_ask_about_are_indexed_first() {
    let s = start_with(|_| {}).await;
    let mut parts = parts_for(&s);
    parts.path_map = vec![observatory_platform::config::PathMap {
        from: "/ci/build".into(),
        to: "/home/me/work".into(),
    }];
    let priority = std::sync::Arc::clone(&parts.index_priority);
    let at = serve_parts(parts, Limits::default()).await;
    let transcript =
        |project: &str| std::path::PathBuf::from(format!("/h/.claude/projects/{project}/s.jsonl"));
    assert!(!priority.wants_transcript(&transcript("-w-app")));
    let client = reqwest::Client::new();
    let insights = client
        .get(format!("http://{at}/api/v1/files/insights"))
        .query(&[("path", "/w/app/src/main.rs")])
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("insights");
    assert_eq!(insights.status(), 200);
    assert!(priority.wants_transcript(&transcript("-w-app")));
    assert!(!priority.wants_transcript(&transcript("-w-lib")));
    // An editor's unsaved buffer, in a checkout whose sessions ran elsewhere.
    let blame = client
        .post(format!("http://{at}/api/v1/files/blame"))
        .json(&serde_json::json!({ "path": "/home/me/work/lib/a.py", "content": "x = 1\n" }))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("blame");
    assert_eq!(blame.status(), 200);
    assert!(priority.wants_transcript(&transcript("-home-me-work-lib")));
    assert!(priority.wants_transcript(&transcript("-ci-build")));
}

/// The default parts over the harness's database and token, for a test to change
/// before serving them with [`serve_parts`].
fn parts_for(s: &Server) -> observatory_platform::AppParts {
    observatory_platform::AppParts::new(
        observatory_platform::Pool::new(s.db.clone()),
        observatory_platform::Auth::new(vec![s.token.clone()], "test"),
    )
}

/// Serves `parts` on a loopback port of its own, through the same accept loop as
/// `serve`, with `limits`; its address.
async fn serve_parts(
    parts: observatory_platform::AppParts,
    limits: Limits,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let at = listener.local_addr().expect("addr");
    let (router, _) = observatory_platform::app(parts);
    tokio::spawn(observatory_platform::serve_router(
        listener,
        router,
        std::future::pending(),
        limits,
    ));
    at
}
