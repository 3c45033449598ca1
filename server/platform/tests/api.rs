//! The REST API over real HTTP on loopback, against a store of the fixture transcripts.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use observatory_store::{Catalog, Writer};
use serde_json::Value;

use common::{client, fixtures, get, header, post_json, start, start_limited, Server};

#[path = "../../../tests/support/answers.rs"]
mod answers;

#[tokio::test]
async fn conversations_are_listed_paged_and_fetched() {
    let s = start().await;
    let (status, _, page) = get(&s, "/api/v1/conversations?limit=5").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let (_, _, next) = get(
        &s,
        &format!("/api/v1/conversations?limit=5&cursor={cursor}"),
    )
    .await;
    assert_ne!(
        page["items"][0]["session_id"],
        next["items"][0]["session_id"]
    );

    let (status, _, one) = get(&s, "/api/v1/conversations/cb947e5b").await;
    assert_eq!(status, 200);
    assert_eq!(one["title"], "Make the colors green and yellow");
    assert_eq!(one["usage"]["output_tokens"], 3306);

    let (status, ct, md) = get(&s, "/api/v1/conversations/cb947e5b/markdown").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/markdown"));
    assert!(md
        .as_str()
        .is_some_and(|m| m.starts_with("# Make the colors green and yellow")));

    let (status, _, msgs) = get(&s, "/api/v1/conversations/cb947e5b/messages?limit=10").await;
    assert_eq!(status, 200, "{msgs}");
    let items = msgs["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    assert!(
        items[0]["is_prompt"].as_bool().unwrap_or(false)
            || items.iter().any(|m| m["is_prompt"] == true)
    );
    assert!(items
        .iter()
        .any(|m| m["tool_calls"].as_array().is_some_and(|t| !t.is_empty())));
    let cursor = msgs["next_cursor"].as_str().expect("more");
    let (_, _, rest) = get(
        &s,
        &format!("/api/v1/conversations/cb947e5b/messages?limit=500&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        rest["items"].as_array().map(Vec::len),
        Some(28),
        "38 messages in all"
    );

    let (_, _, by_text) = get(&s, "/api/v1/conversations?q=colors%20green").await;
    assert!(by_text["items"].as_array().is_some_and(|i| !i.is_empty()
        && i.iter()
            .any(|c| c["title"] == "Make the colors green and yellow")));
    let (_, _, by_file) = get(&s, "/api/v1/conversations?file=globals.css").await;
    let touched: Vec<&str> = by_file["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["session_id"].as_str())
        .collect();
    assert!(
        touched.iter().any(|c| c.starts_with("cb947e5b")),
        "{touched:?}"
    );
    assert!(
        touched.len() < 5,
        "only conversations that touched globals.css: {touched:?}"
    );
    assert_eq!(get(&s, "/api/v1/conversations?q=()").await.0, 400);

    let (_, _, projects) = get(&s, "/api/v1/conversations?project=/Users/chip/dev/ai-music").await;
    assert_eq!(projects["items"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_conversations_files_are_listed_with_their_changes() {
    let s = start().await;
    let (status, _, files) = get(&s, "/api/v1/conversations/cb947e5b/files").await;
    assert_eq!(status, 200, "{files}");
    let listed: Vec<(&str, u64, &str)> = files
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path"),
                f["changes"].as_u64().expect("changes"),
                f["last_at"].as_str().expect("last_at"),
            )
        })
        .collect();
    // Paths as the agent recorded them, newest touch first; reads count no change,
    // an Edit and a MultiEdit count two.
    let root = "/Users/aidancunniffe/Desktop/ghq";
    assert_eq!(
        listed,
        vec![
            (
                &*format!("{root}/src/game/EvalBar.tsx"),
                0,
                "2025-09-11T13:29:39.092Z"
            ),
            (
                &*format!("{root}/src/game/HistoryLog.tsx"),
                1,
                "2025-09-11T13:29:25.369Z"
            ),
            (
                &*format!("{root}/src/app/globals.css"),
                2,
                "2025-09-11T13:28:54.921Z"
            ),
            (
                &*format!("{root}/package.json"),
                0,
                "2025-09-11T13:28:28.057Z"
            ),
        ]
    );

    let (status, ct, problem) = get(&s, "/api/v1/conversations/no-such-id/files").await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(ct, "application/problem+json");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no-such-id")),
        "{problem}"
    );
}

/// Every message of the ai-blame fixture's conversation, in one page.
async fn fixture_messages(s: &Server) -> Vec<Value> {
    let (status, _, page) = get(s, "/api/v1/conversations/2c965cfd/messages?limit=500").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// The fixture's `/model` command: its records' markup read as the command typed and
/// its output without terminal escapes; every other message has neither.
#[tokio::test]
async fn a_slash_command_reads_as_typed_with_its_output() {
    let s = start().await;
    let items = &fixture_messages(&s).await;
    let commands: Vec<&str> = items.iter().filter_map(|m| m["command"].as_str()).collect();
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert!(commands[0].starts_with("/model"), "{commands:?}");
    let outputs: Vec<&str> = items
        .iter()
        .filter_map(|m| m["command_output"].as_str())
        .collect();
    assert_eq!(
        outputs,
        vec!["Set model to haiku (claude-haiku-4-5-20251001)"],
        "{outputs:?}"
    );
    assert!(
        items.iter().all(|m| m.get("command").is_some()),
        "always present"
    );
}

#[tokio::test]
async fn messages_carry_their_thinking_apart_from_their_text() {
    let s = start().await;
    let items = &fixture_messages(&s).await;
    let thinking: Vec<&str> = items
        .iter()
        .filter_map(|m| m["thinking"].as_str())
        .collect();
    // The fixture's assistant thinks seven times, each in a record of its own.
    assert_eq!(thinking.len(), 7, "{thinking:?}");
    assert!(
        thinking.iter().all(|t| !t.trim().is_empty()),
        "{thinking:?}"
    );
    for m in items {
        assert!(m.get("thinking").is_some(), "always present: {m}");
        if let Some(t) = m["thinking"].as_str() {
            assert!(!m["text"].as_str().unwrap_or_default().contains(t), "{m}");
        }
        if m["is_prompt"] == true {
            assert!(m["thinking"].is_null(), "{m}");
        }
    }
}

/// The hits of prompts matching `q` (URL-encoded).
async fn page_hits(s: &Server, q: &str) -> Value {
    get(s, &format!("/api/v1/search?q={q}&kind=prompt")).await.2["hits"].clone()
}

#[tokio::test]
async fn search_finds_and_explains_bad_queries() {
    let s = start().await;
    let (status, _, page) = get(&s, "/api/v1/search?q=colors%20green&kind=prompt").await;
    assert_eq!(status, 200, "{page}");
    let hits = page["hits"].as_array().expect("hits");
    assert!(!hits.is_empty() && hits.iter().all(|h| h["kind"] == "prompt"));
    assert!(hits[0]["snippet"]
        .as_str()
        .is_some_and(|t| t.contains("<mark>")));

    // A word typed part-way finds its whole word when the query is being typed.
    let (status, _, page) = get(&s, "/api/v1/search?q=colors%20gree&kind=prompt").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["hits"].as_array().map(Vec::len), Some(0), "{page}");
    let (status, _, typed) =
        get(&s, "/api/v1/search?q=colors%20gree&kind=prompt&typing=true").await;
    assert_eq!(status, 200, "{typed}");
    assert_eq!(
        typed["hits"],
        page_hits(&s, "colors%20green").await,
        "{typed}"
    );

    let (status, ct, problem) = get(&s, "/api/v1/search?q=()").await;
    assert_eq!(status, 400);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(problem["status"], 400);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no words to search for")),
        "{problem}"
    );
}

#[tokio::test]
async fn wrong_parameters_are_4xx_problems_never_500() {
    let s = start().await;
    for (path, want) in [
        ("/api/v1/search", 400),                     // q missing
        ("/api/v1/search?q=x&limit=0", 422),         // out of range
        ("/api/v1/search?q=x&limit=abc", 400),       // not a number
        ("/api/v1/search?q=x&role=robot", 400),      // unknown choice
        ("/api/v1/search?q=x&since=yesterday", 400), // not a time
        ("/api/v1/conversations?cursor=zzz", 400),
        ("/api/v1/conversations/no-such-id", 404),
        ("/api/v1/analytics/usage?by=week", 400),
        ("/api/v1/files/blame?path=relative.py", 422),
        ("/api/v1/nope", 404),
    ] {
        let (status, ct, body) = get(&s, path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert_eq!(ct, "application/problem+json", "{path}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}: {body}"
        );
    }
    let client = client(&s);
    let r = client
        .post(format!("{}/api/v1/files/blame", s.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let r = client
        .post(format!("{}/api/v1/files/blame", s.base))
        .json(&serde_json::json!({"path": "/x.py"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422, "content missing");
}

#[tokio::test]
async fn blame_of_a_buffer_and_of_a_file() {
    let s = start().await;
    let file = fixtures().join("ai-blame/tests/examples/simple/example.py");
    let root = fixtures().join("ai-blame/tests/examples/simple");
    let mut content = std::fs::read_to_string(&file).expect("read");
    // An unsaved edit: a new first line nobody recorded.
    content.insert_str(0, "# local note\n");
    let (status, b) = post_json(
        &s,
        "/api/v1/files/blame",
        &serde_json::json!({"path": file, "root": root, "content": content}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b["lines"], 17);
    assert_eq!(b["attributed_lines"], 16);
    assert_eq!(
        b["runs"][0]["start_line"], 2,
        "the unsaved line is nobody's; the rest shift down"
    );
    assert_eq!(b["runs"][1]["tool"], "Edit");

    let (status, _, on_disk) = get(
        &s,
        &format!(
            "/api/v1/files/blame?path={}&root={}",
            file.display(),
            root.display()
        ),
    )
    .await;
    assert_eq!(status, 200, "{on_disk}");
    assert_eq!(on_disk["attributed_lines"], 16);

    let (status, _, symbols) = get(
        &s,
        &format!(
            "/api/v1/files/symbols?path={}&root={}",
            file.display(),
            root.display()
        ),
    )
    .await;
    assert_eq!(status, 200, "{symbols}");
    assert_eq!(symbols[0]["name"], "greet");
    assert_eq!(
        symbols[0]["changes"][0]["lines"], 2,
        "latest first: the Edit's two lines"
    );

    let (status, _, changed) = get(&s, "/api/v1/symbols?name=greet").await;
    assert_eq!(status, 200, "{changed}");
    let tools = answers::tools(&changed);
    // ai-blame's session (the Edit inside greet, then the Write that created it), and
    // claude-code-log's decorator example, which has a greet() of its own.
    assert_eq!(tools, vec!["Edit", "Write", "Edit"], "{changed}");
    assert_eq!(changed[0]["lines"], serde_json::json!([9, 10]));
    assert_eq!(changed[2]["path"], "/tmp/decorator_example.py");
    let (status, _, empty) = get(&s, "/api/v1/symbols?name=%20").await;
    assert_eq!(status, 422, "{empty}");

    let (status, _, insights) = get(&s, "/api/v1/files/insights?path=example.py").await;
    assert_eq!(status, 200, "{insights}");
    assert_eq!(
        (
            insights["edits"].as_u64(),
            insights["reads"].as_u64(),
            insights["failures"].as_u64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(
        insights["prompts"][0],
        "make some minor random test changes to all files in this repo"
    );
    assert!(insights["tokens"].as_u64().is_some_and(|t| t > 100_000));

    let (_, _, touches) = get(&s, "/api/v1/files/touches?path=example.py").await;
    assert!(touches.as_array().is_some_and(|t| t.len() >= 3));
}

#[tokio::test]
async fn usage_and_operations() {
    let s = start().await;
    let (status, _, rows) = get(&s, "/api/v1/analytics/usage?by=day").await;
    assert_eq!(status, 200);
    assert!(rows
        .as_array()
        .is_some_and(|r| r.iter().any(|d| d["key"] == "2025-06-08")));
    let (_, _, projects) = get(&s, "/api/v1/projects").await;
    assert!(projects
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x["project"] == "/Users/chip/dev/ai-music")));
    let (_, _, files) = get(&s, "/api/v1/analytics/files?limit=3").await;
    assert_eq!(files.as_array().map(Vec::len), Some(3));
    assert_eq!(get(&s, "/healthz").await.0, 200);
    let (status, _, metrics) = get(&s, "/metrics").await;
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("text").to_owned();
    assert!(text.contains("observatory_http_requests_total{"), "{text}");
    assert!(text.contains("route=\"/api/v1/analytics/usage\""), "{text}");
    assert_eq!(get(&s, "/readyz").await.0, 200);
    let (status, _, html) = get(&s, "/docs").await;
    assert_eq!(status, 200);
    assert!(html
        .as_str()
        .is_some_and(|h| h.contains("/api/v1/openapi.json")));
}

/// Every documented operation answers (no 404/405), and the served document is the
/// one the router was built from.
#[tokio::test]
async fn openapi_covers_every_route() {
    let s = start().await;
    let (status, _, served) = get(&s, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        served["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let paths = served["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), s.doc.paths.paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "cb947e5b");
        for method in ops.as_object().expect("operations").keys() {
            if path.ends_with("/stream")
                || path.contains("/keys")
                || path.contains("/ingest/")
                || method == "delete"
            {
                // The WebSocket endpoint and key management are exercised by their own
                // tests (creating and revoking keys here would change what others see).
                checked += 1;
                continue;
            }
            let url = format!("{}{concrete}?q=colors&path=example.py", s.base);
            let req = client(&s).request(method.to_uppercase().parse().expect("method"), url);
            let req = if method == "post" {
                req.json(&serde_json::json!({"path": "/a.py", "content": ""}))
            } else {
                req
            };
            let status = req.send().await.expect("request").status().as_u16();
            assert!(
                status != 404 && status != 405
                    || path.contains("blame")
                    || path.contains("symbols"),
                "{method} {path}: {status}"
            );
            assert!(
                ops[method]["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no responses"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} operations documented");

    // Every successful response with a body carries an example: on the response, on
    // its schema, or on the component (or array item) the schema points to.
    let components = &served["components"]["schemas"];
    let mut with_body = 0;
    let has_example = |schema: &Value| -> bool {
        let resolve = |v: &Value| -> Value {
            match v["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
                Some(name) => components[name].clone(),
                None => v.clone(),
            }
        };
        let s = resolve(schema);
        s.get("example").is_some()
            || s.get("examples").is_some()
            || resolve(&s["items"]).get("example").is_some()
    };
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                if !status.starts_with('2') {
                    continue;
                }
                for (ct, media) in response["content"].as_object().into_iter().flatten() {
                    let ok = media.get("example").is_some()
                        || media.get("examples").is_some()
                        || has_example(&media["schema"]);
                    assert!(ok, "{method} {path} {status} {ct}: no example");
                    with_body += 1;
                }
            }
        }
    }
    assert!(
        with_body >= 15,
        "only {with_body} documented responses with a body"
    );
    for documented in [
        "/api/v1/conversations",
        "/api/v1/search",
        "/api/v1/files/blame",
        "/api/v1/analytics/usage",
    ] {
        assert!(
            paths.contains_key(documented),
            "{documented} missing from the document"
        );
    }
}

#[tokio::test]
async fn the_api_requires_the_token() {
    let s = start().await;
    let anonymous = reqwest::get(format!("{}/api/v1/conversations", s.base))
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
    let problem: Value = anonymous.json().await.expect("json");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Authorization: Bearer")),
        "{problem}"
    );
    let wrong = reqwest::Client::new()
        .get(format!("{}/api/v1/conversations", s.base))
        .bearer_auth(format!("{}x", s.token))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 401);
    // Health, readiness, the document and its page are open.
    for open in ["/healthz", "/readyz", "/api/v1/openapi.json", "/docs"] {
        let r = reqwest::get(format!("{}{open}", s.base))
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 200, "{open}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(observatory_platform::token_path(s.dir.path()))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the user may read the token");
    }
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let s = start_limited(1, 3).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client(&s)
            .get(format!("{}/api/v1/analytics/usage", s.base))
            .send()
            .await
            .expect("request");
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=2).contains(&retry), "{retry}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        } else {
            assert!(r.headers().contains_key("ratelimit-remaining"));
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
}

async fn ws(
    s: &Server,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!(
        "{}/api/v1/stream?{query}",
        s.base.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.token).parse().expect("header"),
    );
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connect")
        .0
}

async fn next_event(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s")
            .expect("open")
            .expect("message");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("json");
        }
    }
}

#[tokio::test]
async fn events_page_and_stream_resume_exactly_once() {
    let s = start().await;
    let (status, _, page) = get(&s, "/api/v1/events?kind=attribution.changed&limit=1000").await;
    assert_eq!(status, 200, "{page}");
    let all: Vec<i64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert!(all.len() >= 20, "{}", all.len());
    assert!(all.windows(2).all(|w| w[0] < w[1]));

    // A stream from the start sends them all, in order.
    let mut socket = ws(&s, "after=0&kind=attribution.changed").await;
    for id in &all {
        assert_eq!(next_event(&mut socket).await["id"].as_i64(), Some(*id));
    }
    // Resuming after the 5th sends the 6th next: nothing missed, nothing repeated.
    let mut resumed = ws(&s, &format!("after={}&kind=attribution.changed", all[4])).await;
    assert_eq!(next_event(&mut resumed).await["id"].as_i64(), Some(all[5]));
}

#[tokio::test]
async fn stream_delivers_live_changes() {
    let s = start().await;
    let mut socket = ws(&s, "kind=messages.appended").await;
    // Another process indexes a new transcript while the client listens.
    let claude = tempfile::tempdir().expect("tmp");
    let proj = claude.path().join("projects/-live");
    std::fs::create_dir_all(&proj).expect("mkdir");
    let line = r#"{"type":"user","uuid":"live-1","sessionId":"live","cwd":"/live","timestamp":"2025-11-25T10:00:00.000Z","message":{"role":"user","content":"a live prompt"}}"#;
    std::fs::write(
        proj.join("0000aaaa-1111-2222-3333-444444444444.jsonl"),
        format!("{line}\n"),
    )
    .expect("write");
    let mut writer = observatory_store::Store::open(&s.db).expect("store");
    writer
        .index_roots(&[claude.path().to_path_buf()], &mut |_| {})
        .expect("index");
    s.bump.send_modify(|n| *n += 1);
    let event = next_event(&mut socket).await;
    assert_eq!(event["kind"], "messages.appended");
    assert_eq!(event["session_id"], "0000aaaa-1111-2222-3333-444444444444");
    assert_eq!(event["data"]["last_uuid"], "live-1");
}

#[tokio::test]
async fn api_keys_are_scoped_and_revocable() {
    let s = start().await;
    let admin = client(&s);
    let r = admin
        .post(format!("{}/api/v1/keys", s.base))
        .json(&serde_json::json!({"name": "dashboard", "scopes": ["read"]}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let id = created["key"]["id"].as_i64().expect("id");

    let reader = reqwest::Client::new();
    let ok = reader
        .get(format!("{}/api/v1/conversations", s.base))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status().as_u16(), 200);
    let forbidden = reader
        .post(format!("{}/api/v1/keys", s.base))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"name": "x", "scopes": ["admin"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(forbidden.status().as_u16(), 403);

    let (_, _, list) = get(&s, "/api/v1/keys").await;
    assert!(
        !list.to_string().contains(&secret),
        "secrets are never listed"
    );
    assert_eq!(list[0]["name"], "dashboard");

    let bad = admin
        .post(format!("{}/api/v1/keys", s.base))
        .json(&serde_json::json!({"name": "x", "scopes": ["root"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status().as_u16(), 422);
    let detail = bad.json::<Value>().await.expect("problem")["detail"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|d| d.starts_with("invalid key:")),
        "not a search error: {detail}"
    );
    for name in ["a\u{1b}[2Jb".to_owned(), "n".repeat(1_000_000)] {
        let bad = admin
            .post(format!("{}/api/v1/keys", s.base))
            .json(&serde_json::json!({"name": name, "scopes": ["read"]}))
            .send()
            .await
            .expect("post");
        assert_eq!(bad.status().as_u16(), 422, "name of {} chars", name.len());
    }

    let revoked = admin
        .delete(format!("{}/api/v1/keys/{id}", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(revoked.status().as_u16(), 204);
    let again = admin
        .delete(format!("{}/api/v1/keys/{id}", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status().as_u16(), 404);
    let after = reader
        .get(format!("{}/api/v1/conversations", s.base))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("get");
    assert_eq!(after.status().as_u16(), 401);
}

#[test]
fn listening_beyond_loopback_needs_api_keys() {
    let public: std::net::SocketAddr = "0.0.0.0:8787".parse().expect("addr");
    let local: std::net::SocketAddr = "127.0.0.1:8787".parse().expect("addr");
    let refused = observatory_platform::check_bind(public, false).expect_err("refused");
    assert!(
        refused.to_string().contains("observatory keys create"),
        "{refused}"
    );
    assert!(observatory_platform::check_bind(public, true).is_ok());
    assert!(observatory_platform::check_bind(local, false).is_ok());
}

#[tokio::test]
async fn deleting_a_conversation() {
    let s = start().await;
    let c = client(&s);
    let r = c
        .delete(format!("{}/api/v1/conversations/fed8ce56", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&s, "/api/v1/conversations/fed8ce56").await.0, 404);
    let again = c
        .delete(format!("{}/api/v1/conversations/fed8ce56", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status().as_u16(), 404);
}

#[tokio::test]
async fn uploads_from_other_machines_land_where_the_indexer_reads() {
    let s = start().await;
    let c = client(&s);
    let line = r#"{"type":"user","uuid":"up-1","sessionId":"0000bbbb-1111-2222-3333-444444444444","cwd":"/remote/app","timestamp":"2025-11-25T10:00:00.000Z","message":{"role":"user","content":"uploaded from the laptop"}}"#;
    let url = format!(
        "{}/api/v1/ingest/laptop/0000bbbb-1111-2222-3333-444444444444",
        s.base
    );
    let r = c
        .post(&url)
        .body(format!("{line}\n"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let ingest = s.dir.path().join("ingest");
    let mut store = observatory_store::Store::open(&s.db).expect("store");
    store
        .index_roots(std::slice::from_ref(&ingest), &mut |_| {})
        .expect("index");
    let conv = store
        .conversation("0000bbbb")
        .expect("the uploaded session is indexed");
    assert_eq!(conv.project.as_deref(), Some("/remote/app"));

    let half = c
        .post(&url)
        .body(line.to_owned())
        .send()
        .await
        .expect("post");
    assert_eq!(
        half.status().as_u16(),
        422,
        "a line without its newline is refused"
    );
    let bad = c
        .post(format!("{}/api/v1/ingest/..hidden/x", s.base))
        .body("{}\n")
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn claude_code_hooks_become_stream_events_at_once() {
    let s = start().await;
    let mut socket = ws(&s, "kind=hook.PostToolUse").await;
    let payload = serde_json::json!({
        "hook_event_name": "PostToolUse", "session_id": "live-session", "cwd": "/w",
        "tool_name": "Edit", "tool_input": {"file_path": "/w/src/a.rs", "old_string": "a", "new_string": "b"},
        "tool_response": {"filePath": "/w/src/a.rs", "originalFile": "a very long file"}
    });
    let r = client(&s)
        .post(format!("{}/api/v1/hooks/claude", s.base))
        .json(&payload)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let event = next_event(&mut socket).await;
    assert_eq!(event["kind"], "hook.PostToolUse");
    assert_eq!(event["path"], "/w/src/a.rs");
    assert_eq!(event["session_id"], "live-session");
    assert!(
        event["data"].get("tool_response").is_none(),
        "bulky responses are left to the transcript"
    );
    let bad = client(&s)
        .post(format!("{}/api/v1/hooks/claude", s.base))
        .json(&serde_json::json!({"x": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status().as_u16(), 422);
}

/// A client that stops reading is disconnected instead of buffered for: the server
/// holds at most one page of events per client.
#[tokio::test]
async fn a_slow_consumer_is_disconnected() {
    use futures_util::StreamExt;
    let s = start().await;
    {
        let mut store = observatory_store::Store::open(&s.db).expect("store");
        let blob = "x".repeat(20_000);
        for i in 0..4000 {
            store
                .append_event(
                    "test.bulk",
                    Some("bulk"),
                    None,
                    None,
                    &serde_json::json!({"i": i, "blob": blob}),
                )
                .expect("event");
        }
    }
    let mut socket = ws(&s, "after=0&kind=test.bulk").await;
    // Not reading: ~80 MB of events cannot fit in the socket buffers.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let mut received = 0;
    let mut close_code = None;
    while let Ok(Some(msg)) =
        tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await
    {
        match msg {
            Ok(tokio_tungstenite::tungstenite::Message::Text(_)) => received += 1,
            Ok(tokio_tungstenite::tungstenite::Message::Close(frame)) => {
                close_code = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(
        received < 4000,
        "the server gave up on the slow client ({received} delivered)"
    );
    if let Some(code) = close_code {
        assert_eq!(
            code, 1008,
            "closed with the policy-violation code and a reason"
        );
    }
}

/// The API's operations, as a contract: a route served without being documented (or
/// documented under another path) fails here.
#[tokio::test]
async fn the_document_lists_every_operation() {
    let s = start().await;
    let (_, _, served) = get(&s, "/api/v1/openapi.json").await;
    let mut documented: Vec<String> = served["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .into_iter()
                .flatten()
                .map(move |(m, _)| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut expected = vec![
        "GET /api/v1/conversations",
        "GET /api/v1/conversations/{id}",
        "DELETE /api/v1/conversations/{id}",
        "GET /api/v1/conversations/{id}/markdown",
        "GET /api/v1/conversations/{id}/messages",
        "GET /api/v1/conversations/{id}/files",
        "GET /api/v1/search",
        "GET /api/v1/files/touches",
        "GET /api/v1/files/insights",
        "GET /api/v1/files/blame",
        "POST /api/v1/files/blame",
        "GET /api/v1/files/symbols",
        "GET /api/v1/symbols",
        "GET /api/v1/analytics/usage",
        "GET /api/v1/analytics/files",
        "GET /api/v1/projects",
        "GET /api/v1/events",
        "GET /api/v1/stream",
        "POST /api/v1/keys",
        "GET /api/v1/keys",
        "DELETE /api/v1/keys/{id}",
        "POST /api/v1/ingest/{machine}/{session}",
        "POST /api/v1/hooks/claude",
        "POST /api/v1/webhooks",
        "GET /api/v1/webhooks",
        "GET /api/v1/webhooks/{id}",
        "PATCH /api/v1/webhooks/{id}",
        "DELETE /api/v1/webhooks/{id}",
        "POST /api/v1/webhooks/{id}/rotate",
        "POST /api/v1/webhooks/{id}/test",
        "POST /api/v1/webhooks/{id}/redeliver",
        "GET /api/v1/webhooks/{id}/deliveries",
        "GET /api/v1/webhooks/{id}/deliveries/{delivery}",
        "GET /api/v1/webhooks/{id}/deliveries/{delivery}/attempts",
        "POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
    ];
    expected.sort();
    assert_eq!(documented, expected);
    // And each of them is served: an undocumented twin would answer, a missing one 404s.
    for op in &expected {
        let (method, path) = op.split_once(' ').expect("op");
        let url = format!(
            "{}{}",
            s.base,
            path.replace("{id}", "0")
                .replace("{machine}", "m")
                .replace("{session}", "s")
        );
        let status = client(&s)
            .request(method.parse().expect("method"), url)
            .send()
            .await
            .expect("request")
            .status();
        assert_ne!(status.as_u16(), 405, "{op}");
        let body_404 = status.as_u16() == 404;
        // 404 is fine for a missing resource, not for a missing route (the fallback says so).
        if body_404 {
            let r = client(&s)
                .request(
                    method.parse().expect("method"),
                    format!(
                        "{}{}",
                        s.base,
                        path.replace("{id}", "0")
                            .replace("{machine}", "m")
                            .replace("{session}", "s")
                    ),
                )
                .send()
                .await
                .expect("request");
            let detail = r
                .json::<Value>()
                .await
                .map(|v| v["detail"].to_string())
                .unwrap_or_default();
            assert!(!detail.contains("no such route"), "{op}: {detail}");
        }
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

/// Checks that `r` is a problem document with this status, and returns it.
async fn problem(r: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "{what}");
    let ct = header(&r, "content-type");
    let text = r.text().await.expect("body");
    assert_eq!(ct, PROBLEM_JSON, "{what}: {text}");
    let body: Value = serde_json::from_str(&text).expect("a JSON problem");
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty())
            && body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    body
}

/// Sends `request` as it is and returns the whole answer as text, for requests an
/// HTTP client will not send (a body announced but not sent).
async fn raw_http(s: &Server, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let read = conn.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers and closes")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Errors that do not come from a handler are problem documents too: extractor
/// rejections, the WebSocket endpoint asked for plain HTTP, the router's 405 and the
/// body limit's 413.
#[tokio::test]
async fn every_error_is_a_problem_document() {
    let s = start().await;
    let c = client(&s);
    let url = |path: &str| format!("{}{path}", s.base);

    let r = c.get(url("/api/v1/stream")).send().await.expect("get");
    let upgrade = r.headers().get("upgrade").cloned();
    problem(r, 426, "a plain GET of the stream").await;
    assert_eq!(
        upgrade.as_ref().and_then(|v| v.to_str().ok()),
        Some("websocket"),
        "426 says what to upgrade to"
    );

    for (method, path) in [
        ("DELETE", "/api/v1/keys/abc"),
        ("DELETE", "/api/v1/keys/99999999999999999999"),
        ("GET", "/api/v1/conversations/%FF"),
        ("GET", "/api/v1/conversations/%FF/messages"),
        ("POST", "/api/v1/ingest/%C3%28/s"),
    ] {
        let r = c
            .request(method.parse().expect("method"), url(path))
            .send()
            .await
            .expect("request");
        problem(r, 400, &format!("{method} {path}")).await;
    }

    // A NUL in a search is a separator or a 4xx problem, never a 500.
    let (status, ct, body) = get(&s, "/api/v1/search?q=a%00b").await;
    assert!(
        status == 200 || ((400..500).contains(&status) && ct == PROBLEM_JSON),
        "{status} {ct} {body}"
    );

    let r = c
        .post(url("/api/v1/ingest/m/s"))
        .body(vec![0xff, 0xfe, b'\n'])
        .send()
        .await
        .expect("post");
    problem(r, 400, "a body that is not UTF-8").await;

    let r = c
        .post(url("/api/v1/hooks/claude"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    problem(r, 415, "JSON sent as text").await;

    let r = c
        .patch(url("/api/v1/search?q=x"))
        .send()
        .await
        .expect("patch");
    let allow = r.headers().get("allow").cloned();
    problem(r, 405, "a method the route does not have").await;
    assert!(
        allow
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("GET")),
        "405 keeps Allow: {allow:?}"
    );

    // Announced over the limit: refused before the body is read.
    let answer = raw_http(
        &s,
        format!(
            "POST /api/v1/files/blame HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n{{",
            s.token
        )
        .as_bytes(),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 413")
            && answer.contains(&format!("content-type: {PROBLEM_JSON}"))
            && answer.contains("\"status\":413"),
        "{answer}"
    );
}

/// The document says what the platform answers: problem documents for errors, 401 on
/// every operation, 422 where bodies and values are validated, and the parameters'
/// real bounds, so that requests generated from it are valid.
#[tokio::test]
async fn the_document_declares_problems_auth_and_constraints() {
    let s = start().await;
    let (_, _, doc) = get(&s, "/api/v1/openapi.json").await;
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => doc.pointer(pointer).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let paths = doc["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let responses = op["responses"].as_object().expect("responses");
            for status in ["401", "429"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not declare {status}"
                );
            }
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let response = resolve(response);
                let types: Vec<&String> = response["content"]
                    .as_object()
                    .map(|c| c.keys().collect())
                    .unwrap_or_default();
                assert_eq!(
                    types,
                    [PROBLEM_JSON],
                    "{method} {path} {status}: {response}"
                );
            }
        }
    }
    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    for (path, method) in [
        ("/api/v1/files/blame", "post"),
        ("/api/v1/keys", "post"),
        ("/api/v1/hooks/claude", "post"),
        ("/api/v1/conversations", "get"),
    ] {
        assert!(
            responses(path, method).get("422").is_some(),
            "{method} {path} validates but declares no 422"
        );
    }
    assert!(responses("/api/v1/stream", "get").get("426").is_some());
    let retry = resolve(&responses("/api/v1/search", "get")["429"]);
    assert!(retry["headers"].get("Retry-After").is_some(), "{retry}");

    let schema = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    };
    for (path, max) in [
        ("/api/v1/conversations", 500),
        ("/api/v1/conversations/{id}/messages", 500),
        ("/api/v1/search", 100),
        ("/api/v1/analytics/files", 500),
        ("/api/v1/symbols", 500),
        ("/api/v1/events", 1000),
    ] {
        let limit = schema(path, "limit");
        assert_eq!(limit["minimum"], 1, "{path} limit: {limit}");
        assert_eq!(limit["maximum"], max, "{path} limit: {limit}");
    }
    assert_eq!(schema("/api/v1/search", "q")["minLength"], 1);
    assert_eq!(schema("/api/v1/conversations", "q")["minLength"], 1);
    assert_eq!(schema("/api/v1/symbols", "name")["minLength"], 2);

    // The declared bounds are the ones the handlers apply.
    let offset_max = schema("/api/v1/search", "offset")["maximum"]
        .as_u64()
        .expect("offset has a maximum");
    for (path, ok) in [
        (format!("/api/v1/search?q=colors&offset={offset_max}"), true),
        (
            format!("/api/v1/search?q=colors&offset={}", offset_max + 1),
            false,
        ),
        ("/api/v1/search?q=colors&limit=100".to_owned(), true),
        ("/api/v1/search?q=colors&limit=101".to_owned(), false),
        ("/api/v1/events?limit=1000".to_owned(), true),
        ("/api/v1/events?limit=1001".to_owned(), false),
        ("/api/v1/conversations?limit=500".to_owned(), true),
        ("/api/v1/conversations?limit=0".to_owned(), false),
    ] {
        let (status, _, body) = get(&s, &path).await;
        assert_eq!(status == 200, ok, "{path}: {status} {body}");
    }
}
