//! The webhook API over real HTTP: admin scope, secrets shown once, validation as
//! problem documents, the outbox filled by events (a hook here) with the
//! subscription's filters, test events, the delivery log and redelivery. No
//! dispatcher runs in this app, so nothing is sent; delivery itself is tested
//! end to end in tests/webhooks.rs with the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, get, post_json, start};
use serde_json::{json, Value};

async fn send(s: &common::Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client(s).request(method.parse().expect("method"), format!("{}{path}", s.base));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn webhooks_are_managed_by_admins_with_secrets_shown_once() {
    let s = start().await;
    let (status, created) = post_json(
        &s,
        "/api/v1/webhooks",
        &json!({"url": "https://hooks.example.com/a?token=t0ps3cret", "event_types": ["hook.*"],
                "path_glob": "*/src/auth/*", "description": "auth", "format": "slack"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = created["webhook"]["id"].as_i64().expect("id");
    assert_eq!(created["webhook"]["format"], "slack");
    assert_eq!(created["webhook"]["state"], "active");

    for path in [
        "/api/v1/webhooks".to_owned(),
        format!("/api/v1/webhooks/{id}"),
    ] {
        let (status, _, body) = get(&s, &path).await;
        assert_eq!(status, 200);
        assert!(!body.to_string().contains("whsec_"), "{path}: {body}");
    }

    // Keys without the admin scope may not see or change webhooks.
    for scope in ["read", "write"] {
        let (_, key) = post_json(
            &s,
            "/api/v1/keys",
            &json!({"name": scope, "scopes": [scope]}),
        )
        .await;
        let secret = key["secret"].as_str().expect("key").to_owned();
        let http = reqwest::Client::new();
        let listed = http
            .get(format!("{}/api/v1/webhooks", s.base))
            .bearer_auth(&secret)
            .send()
            .await
            .expect("get");
        assert_eq!(listed.status().as_u16(), 403, "{scope}");
        let made = http
            .post(format!("{}/api/v1/webhooks", s.base))
            .bearer_auth(&secret)
            .json(&json!({"url": "https://example.com", "event_types": ["*"]}))
            .send()
            .await
            .expect("post");
        assert_eq!(made.status().as_u16(), 403, "{scope}");
    }

    // Rotation: a new secret, the old one valid for the grace asked.
    let (status, rotated) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/rotate?grace_seconds=60"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(rotated["secret"]
        .as_str()
        .is_some_and(|n| n != secret && n.starts_with("whsec_")));
    assert!(rotated["previous_valid_until"].is_string());
    let (status, _) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/rotate?grace_seconds=0"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, too_long) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/rotate?grace_seconds=99999999"),
        None,
    )
    .await;
    assert_eq!(status, 422, "{too_long}");

    let (status, _) = send(&s, "DELETE", &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, problem) = send(&s, "DELETE", &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, 404, "{problem}");
    let (status, _, _) = get(&s, &format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_subscriptions_are_problem_documents() {
    let s = start().await;
    for body in [
        json!({"url": "http://127.0.0.1:9/x", "event_types": ["*"]}),
        json!({"url": "http://[::1]/x", "event_types": ["*"]}),
        json!({"url": "http://169.254.169.254/latest", "event_types": ["*"]}),
        json!({"url": "ftp://example.com/x", "event_types": ["*"]}),
        json!({"url": "https://user:pw@example.com/x", "event_types": ["*"]}),
        json!({"url": "https://example.com/x", "event_types": []}),
        json!({"url": "https://example.com/x", "event_types": ["no spaces"]}),
        json!({"url": "https://example.com/x", "event_types": ["*"], "colour": "red"}),
        json!(["https://example.com/x", ["*"]]),
    ] {
        let (status, problem) = post_json(&s, "/api/v1/webhooks", &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem["detail"].is_string(), "{problem}");
    }
    let (_, created) = post_json(
        &s,
        "/api/v1/webhooks",
        &json!({"url": "https://example.com/x", "event_types": ["*"]}),
    )
    .await;
    let id = created["webhook"]["id"].as_i64().expect("id");
    for body in [
        json!({"state": "disabled"}),
        json!({"url": "http://10.0.0.1/"}),
        json!([null, null]),
    ] {
        let (status, problem) = send(
            &s,
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
    }
    let (status, paused) = send(
        &s,
        "PATCH",
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"state": "paused", "project": "/p/"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (paused["state"].as_str(), paused["project"].as_str()),
        (Some("paused"), Some("/p"))
    );
    let (status, _) = send(&s, "GET", "/api/v1/webhooks/1/deliveries?before=0", None).await;
    assert_eq!(status, 422);
    let (status, _) = send(&s, "GET", "/api/v1/webhooks/999/deliveries", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn events_fill_the_outbox_and_the_delivery_log_answers() {
    let s = start().await;
    let (_, created) = post_json(
        &s,
        "/api/v1/webhooks",
        &json!({"url": "https://example.com/x", "event_types": ["hook.PostToolUse"], "path_glob": "*/src/auth/*"}),
    )
    .await;
    let id = created["webhook"]["id"].as_i64().expect("id");
    for path in ["/w/src/auth/login.rs", "/w/src/ui/button.rs"] {
        let (status, _) = send(
            &s,
            "POST",
            "/api/v1/hooks/claude",
            Some(
                json!({"hook_event_name": "PostToolUse", "session_id": "s1", "cwd": "/w",
                    "tool_input": {"file_path": path}}),
            ),
        )
        .await;
        assert_eq!(status, 202);
    }
    let (status, test) = send(&s, "POST", &format!("/api/v1/webhooks/{id}/test"), None).await;
    assert_eq!(status, 202);
    assert_eq!(
        (test["kind"].as_str(), test["status"].as_str()),
        (Some("webhook.test"), Some("pending"))
    );

    let (status, _, page) = get(&s, &format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(status, 200);
    let deliveries = page["deliveries"].as_array().expect("deliveries");
    // The auth path's event and the test, newest first; not the other path.
    assert_eq!(deliveries.len(), 2, "{page}");
    assert_eq!(deliveries[0]["kind"], "webhook.test");
    assert_eq!(deliveries[1]["kind"], "hook.PostToolUse");
    assert!(deliveries[1]["message_id"]
        .as_str()
        .is_some_and(|m| m.starts_with("msg_")));
    let (status, _, page) = get(&s, &format!("/api/v1/webhooks/{id}/deliveries?limit=1")).await;
    assert_eq!(status, 200);
    let before = page["next_before"].as_i64().expect("a next page");
    let (_, _, next) = get(
        &s,
        &format!("/api/v1/webhooks/{id}/deliveries?limit=1&before={before}"),
    )
    .await;
    assert_eq!(next["deliveries"][0]["kind"], "hook.PostToolUse");

    let delivery = deliveries[1]["id"].as_i64().expect("id");
    let (status, _, one) = get(&s, &format!("/api/v1/webhooks/{id}/deliveries/{delivery}")).await;
    assert_eq!((status, one["id"].as_i64()), (200, Some(delivery)));
    let (status, _, attempts) = get(
        &s,
        &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/attempts"),
    )
    .await;
    assert_eq!((status, attempts), (200, json!([])));
    let (status, r) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
        None,
    )
    .await;
    assert_eq!((status, r["count"].as_u64()), (202, Some(1)));
    let (status, r) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/redeliver"),
        None,
    )
    .await;
    assert_eq!(
        (status, r["count"].as_u64()),
        (202, Some(0)),
        "nothing failed"
    );
    let (status, _) = send(
        &s,
        "POST",
        &format!("/api/v1/webhooks/{id}/deliveries/99999/redeliver"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}
