//! Webhooks end to end: a real `observatory serve` (the binary) indexing transcripts
//! that grow while it runs, delivering to a receiver on loopback that fails, times
//! out and goes down, and killed with SIGKILL in the middle. Every event of the log
//! must reach the receiver; signatures are checked by the reference implementation
//! of Standard Webhooks (the `standardwebhooks` package from PyPI, installed by
//! scripts/test.sh), not only by our own code.
//!
//! No test asserts a time: waits have deadlines only so that a failure ends.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/restartable_server.rs"]
mod restartable_server;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use restartable_server::RestartableServer;

const BIN: &str = env!("CARGO_BIN_EXE_observatory");
/// Long enough for a debug build on two busy cores; only a failure waits this long.
const DEADLINE: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------
// The receiver: an axum server on loopback whose behaviour the test sets.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Healthy,
    /// Fails this share of requests with 500 (some with 503 and `Retry-After: 1`),
    /// and answers this share only after the platform's timeout.
    Faulty {
        fail: f64,
        slow: f64,
    },
    /// Always this status.
    Status(u16),
}

#[derive(Clone, Debug)]
struct Captured {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// What the receiver answered (0: it answered after the platform gave up).
    status: u16,
}

impl Captured {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The event id inside a standard body.
    fn event_id(&self) -> Option<i64> {
        self.json()["data"]["id"].as_i64()
    }
}

struct Shared {
    mode: Mutex<Mode>,
    captured: Mutex<Vec<Captured>>,
    rng: Mutex<StdRng>,
    /// How long a slow answer takes (beyond the platform's timeout).
    slow: Duration,
}

struct Receiver {
    server: RestartableServer,
    shared: Arc<Shared>,
}

async fn receive(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mode = *s.mode.lock().expect("mode");
    let (status, slow, retry_after) = match mode {
        Mode::Healthy => (200, false, false),
        Mode::Status(code) => (code, false, false),
        Mode::Faulty { fail, slow } => {
            let r: f64 = s.rng.lock().expect("rng").random();
            if r < slow {
                (200, true, false)
            } else if r < slow + fail * 0.8 {
                (500, false, false)
            } else if r < slow + fail {
                (503, false, true)
            } else {
                (200, false, false)
            }
        }
    };
    let mut captured = Captured {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    };
    if slow {
        tokio::time::sleep(s.slow).await;
        captured.status = 0;
    }
    s.captured.lock().expect("captured").push(captured);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if retry_after {
        (
            status,
            [("retry-after", "1")],
            "busy, come back in a second",
        )
            .into_response()
    } else {
        (status, "received").into_response()
    }
}

impl Receiver {
    fn start(slow: Duration) -> Self {
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Healthy),
            captured: Mutex::new(Vec::new()),
            rng: Mutex::new(StdRng::seed_from_u64(16)),
            slow,
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&shared));
        let server = RestartableServer::start(app).expect("receiver");
        Self { server, shared }
    }

    /// Listens again, on the same port.
    fn up(&mut self) {
        self.server.up().expect("listening again");
    }

    /// Stops listening and closes its connections: the platform's requests are
    /// refused until `up`.
    fn down(&mut self) {
        self.server.down();
    }

    fn set(&self, mode: Mode) {
        *self.shared.mode.lock().expect("mode") = mode;
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.server.addr)
    }

    fn captured(&self) -> Vec<Captured> {
        self.shared.captured.lock().expect("captured").clone()
    }
}

// ---------------------------------------------------------------------------
// The platform: the real binary, on its own data directory.

struct Platform {
    data: PathBuf,
    claude: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

fn config_text(allow_private: bool) -> String {
    format!(
        "[webhooks]\nallow_private_targets = {allow_private}\ntimeout = 1.0\n\
         retry_schedule = [0, 0.2, 0.5, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]\n\
         breaker_failures = 5\nbreaker_cooldown = 0.3\n"
    )
}

impl Platform {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        let claude = dir.path().join("claude");
        std::fs::create_dir_all(claude.join("projects/-w")).expect("mkdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("config");
        let mut p = Self {
            data,
            claude,
            config: path,
            child: None,
            base: String::new(),
            token: String::new(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            _dir: dir,
        };
        p.start();
        p
    }

    fn start(&mut self) {
        let published = self.data.join("serve.json");
        let old_pid = std::fs::read_to_string(&published)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["pid"].as_u64());
        let log = std::fs::File::create(self.data.with_extension("log"))
            .or_else(|_| std::fs::File::create("/dev/null"))
            .expect("log");
        let child = Command::new(BIN)
            .args(["--data-dir"])
            .arg(&self.data)
            .arg("--claude-dir")
            .arg(&self.claude)
            .arg("--config")
            .arg(&self.config)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("OBSERVATORY_LOG", "observatory_platform=debug,warn")
            .env_remove("OBSERVATORY_WEBHOOKS_ALLOW_PRIVATE_TARGETS")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn serve");
        let pid = u64::from(child.id());
        self.child = Some(child);
        let start = Instant::now();
        loop {
            let v = std::fs::read_to_string(&published)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok());
            if let Some(v) = v.filter(|v| v["pid"].as_u64() == Some(pid) && Some(pid) != old_pid) {
                self.base = v["url"]
                    .as_str()
                    .expect("url")
                    .trim_end_matches('/')
                    .to_owned();
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "serve did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.token = std::fs::read_to_string(self.data.join("token")).expect("token");
        // Ready: the first scan is done, so the watcher sees what is appended next.
        while self.get("/readyz").status() != 200 {
            assert!(start.elapsed() < DEADLINE, "serve never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill -9");
            c.wait().expect("wait");
        }
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .expect("GET")
    }

    fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().expect("request");
        let status = res.status().as_u16();
        (status, res.json().unwrap_or(Value::Null))
    }

    fn create(&self, body: Value) -> (i64, String) {
        let (status, v) = self.json(reqwest::Method::POST, "/api/v1/webhooks", Some(body));
        assert_eq!(status, 201, "{v}");
        (
            v["webhook"]["id"].as_i64().expect("id"),
            v["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Every event id in the log.
    fn event_ids(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let page: Value = self
                .get(&format!("/api/v1/events?after={after}&limit=1000"))
                .json()
                .expect("events");
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return ids;
            }
            ids.extend(events.iter().filter_map(|e| e["id"].as_i64()));
            after = page["last_id"].as_i64().expect("last_id");
        }
    }

    fn hook(&self, session: &str, path: &str) {
        let (status, _) = self.json(
            reqwest::Method::POST,
            "/api/v1/hooks/claude",
            Some(
                json!({"hook_event_name": "PostToolUse", "session_id": session, "cwd": "/w",
                "tool_name": "Edit", "tool_input": {"file_path": path}}),
            ),
        );
        assert_eq!(status, 202);
    }

    fn append(&self, session: &str, seed: u64) {
        let (lines, _) = observatory_corpus::continuation_lines(session, "/w", None, seed);
        let path = self.claude.join(format!("projects/-w/{session}.jsonl"));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .expect("open");
        f.write_all(&lines).expect("append");
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Event ids answered 2xx at least once.
fn received(captured: &[Captured]) -> BTreeSet<i64> {
    captured
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter_map(Captured::event_id)
        .collect()
}

// ---------------------------------------------------------------------------
// The reference verifier.

/// The Python of the venv with `standardwebhooks` (scripts/test.sh installs it).
fn reference_python() -> Option<PathBuf> {
    let path = std::env::var_os("OBSERVATORY_STANDARDWEBHOOKS_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                PathBuf::from(h).join(".cache/observatory-tools/standardwebhooks-1.1.0/bin/python")
            })
        })?;
    path.is_file().then_some(path)
}

const VERIFY_PY: &str = r#"
import json, sys
from standardwebhooks import Webhook
cases = json.load(open(sys.argv[1]))
ok = 0
for case in cases:
    headers = {"webhook-id": case["id"], "webhook-timestamp": case["timestamp"],
               "webhook-signature": case["signature"]}
    for secret in case["secrets"]:
        # Raises on a wrong signature, a stale timestamp or missing headers.
        Webhook(secret).verify(case["body"], headers)
    ok += 1
print(ok)
"#;

/// Every captured request verifies with each of `secrets` (as Standard Webhooks'
/// own library checks it), and with no other.
fn verify_with_reference(captured: &[(Captured, Vec<String>)], dir: &Path) {
    let Some(python) = reference_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "standardwebhooks (PyPI) is not installed: scripts/test.sh installs it"
        );
        eprintln!(
            "skipping the reference check: standardwebhooks is not installed (scripts/test.sh)"
        );
        return;
    };
    let cases: Vec<Value> = captured
        .iter()
        .map(|(c, secrets)| {
            json!({"id": c.id, "timestamp": c.timestamp, "signature": c.signature,
                   "body": c.body, "secrets": secrets})
        })
        .collect();
    let file = dir.join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).expect("json")).expect("write");
    let script = dir.join("verify.py");
    std::fs::write(&script, VERIFY_PY).expect("write");
    let out = Command::new(python)
        .arg(&script)
        .arg(&file)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "the reference library refused a signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        cases.len().to_string()
    );
    // And a wrong secret is refused by it: the check is not vacuous.
    let wrong = [(
        captured[0].0.clone(),
        vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
    )];
    let cases: Vec<Value> = wrong
        .iter()
        .map(|(c, s)| json!({"id": c.id, "timestamp": c.timestamp, "signature": c.signature, "body": c.body, "secrets": s}))
        .collect();
    std::fs::write(&file, serde_json::to_vec(&cases).expect("json")).expect("write");
    let out = Command::new(reference_python().expect("python"))
        .arg(&script)
        .arg(&file)
        .output()
        .expect("python");
    assert!(!out.status.success(), "a wrong secret must not verify");
}

// ---------------------------------------------------------------------------

/// The issue's scenario: a receiver that fails 30% of requests at random, times out
/// on some and is down for a while, and the platform killed with SIGKILL mid-stream:
/// every event of the log is delivered, at least once, with signatures the reference
/// library accepts, and every retry of an event carries the same `webhook-id`.
#[test]
fn every_event_is_delivered_through_faults_and_a_kill_9() {
    let mut receiver = Receiver::start(Duration::from_millis(1500));
    let mut platform = Platform::new(&config_text(true));
    let (id, secret) = platform.create(json!({"url": receiver.url(), "event_types": ["*"]}));
    receiver.set(Mode::Faulty {
        fail: 0.3,
        slow: 0.05,
    });

    let sessions = [
        "0a0a0a0a-1111-2222-3333-444444444444",
        "0b0b0b0b-1111-2222-3333-444444444444",
    ];
    let mut seed = 0;
    let round = |platform: &Platform, seed: &mut u64, n: usize| {
        for _ in 0..n {
            *seed += 1;
            let session = sessions[(*seed % 2) as usize];
            platform.append(session, *seed);
            platform.hook(session, &format!("/w/src/auth/f{seed}.rs"));
            std::thread::sleep(Duration::from_millis(30));
        }
    };
    round(&platform, &mut seed, 15);
    // Down for a while: refused connections.
    receiver.down();
    round(&platform, &mut seed, 10);
    std::thread::sleep(Duration::from_secs(2));
    receiver.up();
    round(&platform, &mut seed, 10);
    // Killed mid-stream, with deliveries pending (events written, not delivered yet);
    // more lines written while it is dead.
    platform.hook(sessions[0], "/w/src/auth/last-before-the-kill.rs");
    let (_, pending) = platform.json(
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries?status=pending&limit=500"),
        None,
    );
    let pending = pending["deliveries"].as_array().map_or(0, Vec::len);
    platform.kill9();
    assert!(
        pending > 0,
        "nothing was pending when the platform was killed"
    );
    for _ in 0..5 {
        seed += 1;
        platform.append(sessions[(seed % 2) as usize], seed);
    }
    platform.start();
    round(&platform, &mut seed, 10);

    let mut expected = BTreeSet::new();
    wait_until("every event delivered", || {
        expected = platform.event_ids().into_iter().collect();
        received(&receiver.captured()).is_superset(&expected)
    });
    let captured = receiver.captured();
    assert!(expected.len() > 100, "{} events", expected.len());

    // One `webhook-id` per event, however often it was sent.
    let mut ids: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for c in &captured {
        if let Some(e) = c.event_id() {
            ids.entry(e).or_default().insert(c.id.clone());
        }
    }
    assert!(
        ids.values().all(|s| s.len() == 1),
        "one webhook-id per event"
    );
    // Faults were met: retried deliveries and their attempts are in the log.
    let failed = captured
        .iter()
        .filter(|c| c.status >= 500 || c.status == 0)
        .count();
    assert!(failed > 10, "{failed} failed requests");
    let (status, page) = platform.json(
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries?limit=500"),
        None,
    );
    assert_eq!(status, 200);
    let retried = page["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["attempts"].as_u64() > Some(1))
        .cloned()
        .expect("a delivery that took several attempts");
    let (_, attempts) = platform.json(
        reqwest::Method::GET,
        &format!(
            "/api/v1/webhooks/{id}/deliveries/{}/attempts",
            retried["id"]
        ),
        None,
    );
    let attempts = attempts.as_array().expect("attempts");
    assert!(attempts.len() > 1);
    assert!(attempts
        .iter()
        .any(|a| a["status_code"].as_u64().is_some_and(|s| s >= 500) || a["error"].is_string()));

    let dir = tempfile::tempdir().expect("tmp");
    let sample: Vec<(Captured, Vec<String>)> = captured
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| (c.clone(), vec![secret.clone()]))
        .collect();
    verify_with_reference(&sample, dir.path());
    let dupes = captured.iter().filter(|c| c.status == 200).count() - expected.len();
    eprintln!(
        "{} events, {} requests ({} failed or timed out, {} duplicate deliveries), {pending} pending at the kill",
        expected.len(),
        captured.len(),
        failed,
        dupes
    );
}

/// A healthy receiver gets each event once, in the log's order; a Slack-format
/// webhook gets a line of text; a rotated secret signs beside the new one during its
/// grace; 410 disables a webhook with the reason; redelivery sends failed ones again.
#[test]
fn order_formats_rotation_gone_and_redelivery() {
    let receiver = Receiver::start(Duration::from_millis(10));
    let platform = Platform::new(&config_text(true));
    let (ordered, secret) = platform.create(json!({"url": receiver.url(), "event_types": ["*"],
        "description": "everything"}));
    let (_, _) = platform.create(json!({"url": receiver.url(), "event_types": ["hook.*"],
        "path_glob": "*/src/auth/*", "format": "slack"}));
    let (_, _) = platform.create(
        json!({"url": receiver.url(), "event_types": ["attribution.changed"],
        "format": "discord"}),
    );
    // Real edits (a fixture transcript): the chat message counts the lines each wrote.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/transcripts/ai-blame/tests/examples/simple-home/.claude/projects/\
         -Users-cjm-repos-ai-blame.rs-tests-examples-simple/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl",
    );
    std::fs::copy(
        &fixture,
        platform
            .claude
            .join("projects/-w/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl"),
    )
    .expect("copy the fixture");
    let session = "0c0c0c0c-1111-2222-3333-444444444444";
    for seed in 1..=10 {
        platform.append(session, seed);
        platform.hook(
            session,
            &format!("/w/src/{}/f.rs", if seed % 2 == 0 { "auth" } else { "ui" }),
        );
    }
    let mut events = BTreeSet::new();
    wait_until("healthy delivery", || {
        events = platform.event_ids().into_iter().collect();
        let got = receiver.captured();
        received(&got).is_superset(&events)
            && got.iter().filter(|c| c.json()["text"].is_string()).count() >= 5
    });
    let captured = receiver.captured();
    let standard: Vec<&Captured> = captured.iter().filter(|c| c.event_id().is_some()).collect();
    let order: Vec<i64> = standard.iter().filter_map(|c| c.event_id()).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "once each, in the log's order: {order:?}"
    );
    assert!(order.len() >= events.len());
    wait_until("a chat message with a line count", || {
        receiver.captured().iter().any(|c| {
            c.json()["content"].as_str().is_some_and(|t| {
                t.starts_with("session 2c965cfd changed `") && t.ends_with(" lines)")
            })
        })
    });
    let slack: Vec<String> = captured
        .iter()
        .filter_map(|c| c.json()["text"].as_str().map(str::to_owned))
        .collect();
    assert!(
        slack
            .iter()
            .all(|t| t.starts_with("session 0c0c0c0c: PostToolUse on `src/auth/")),
        "{slack:?}"
    );

    // Rotation: both signatures during the grace period, each verified by the
    // reference library on its own.
    let (status, rotated) = platform.json(
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{ordered}/rotate?grace_seconds=3600"),
        None,
    );
    assert_eq!(status, 200);
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    let before = receiver.captured().len();
    let (status, test) = platform.json(
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{ordered}/test"),
        None,
    );
    assert_eq!(status, 202, "{test}");
    wait_until("the test event", || receiver.captured().len() > before);
    let sent = receiver.captured()[before].clone();
    assert_eq!(sent.json()["type"], "webhook.test");
    assert_eq!(sent.signature.split(' ').count(), 2, "{}", sent.signature);
    let dir = tempfile::tempdir().expect("tmp");
    verify_with_reference(
        &[
            (standard[0].clone(), vec![secret.clone()]),
            (sent.clone(), vec![new_secret, secret]),
        ],
        dir.path(),
    );
    // The secret is never shown again.
    let listed = platform.get("/api/v1/webhooks").text().expect("list");
    assert!(!listed.contains("whsec_"), "{listed}");

    // 410: disabled, with the reason; what was pending stays for a re-enabled one.
    receiver.set(Mode::Status(410));
    platform.hook(session, "/w/src/ui/x.rs");
    wait_until("disabled by 410", || {
        let (_, w) = platform.json(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{ordered}"),
            None,
        );
        w["state"] == "disabled"
    });
    let (_, w) = platform.json(
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{ordered}"),
        None,
    );
    assert!(
        w["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{w}"
    );
    receiver.set(Mode::Healthy);
    let (status, _) = platform.json(
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{ordered}"),
        Some(json!({"state": "active"})),
    );
    assert_eq!(status, 200);
    let last = platform.event_ids().last().copied().expect("an event");
    wait_until("delivered once re-enabled", || {
        received(&receiver.captured()).contains(&last)
    });

    // Paused: queued, not sent; resumed: sent.
    let (status, _) = platform.json(
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{ordered}"),
        Some(json!({"state": "paused"})),
    );
    assert_eq!(status, 200);
    platform.hook(session, "/w/src/ui/paused.rs");
    let paused_event = platform.event_ids().last().copied().expect("event");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !received(&receiver.captured()).contains(&paused_event),
        "paused"
    );
    platform.json(
        reqwest::Method::PATCH,
        &format!("/api/v1/webhooks/{ordered}"),
        Some(json!({"state": "active"})),
    );
    wait_until("sent on resume", || {
        received(&receiver.captured()).contains(&paused_event)
    });

    // Redelivery of a delivered one sends it again with the same webhook-id.
    let (_, page) = platform.json(
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{ordered}/deliveries?status=delivered&limit=1"),
        None,
    );
    let d = page["deliveries"][0].clone();
    let count = |c: &[Captured]| c.iter().filter(|x| x.id == d["message_id"]).count();
    let before = count(&receiver.captured());
    let (status, r) = platform.json(
        reqwest::Method::POST,
        &format!(
            "/api/v1/webhooks/{ordered}/deliveries/{}/redeliver",
            d["id"]
        ),
        None,
    );
    assert_eq!((status, r["count"].as_u64()), (202, Some(1)));
    wait_until("redelivered", || count(&receiver.captured()) > before);
}

/// Targets on loopback are refused unless the configuration allows them: an IP
/// literal when the webhook is made, a name (`localhost`) when connecting.
#[test]
fn private_targets_are_refused_by_default() {
    let receiver = Receiver::start(Duration::from_millis(10));
    let platform = Platform::new(&config_text(false));
    let (status, v) = platform.json(
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url(), "event_types": ["*"]})),
    );
    assert_eq!(status, 422, "{v}");
    assert!(v["detail"]
        .as_str()
        .is_some_and(|d| d.contains("not a public address")));
    let by_name = format!("http://localhost:{}/hook", receiver.server.addr.port());
    let (id, _) = platform.create(json!({"url": by_name, "event_types": ["*"]}));
    let (_, d) = platform.json(
        reqwest::Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        None,
    );
    wait_until("the attempt", || {
        let (_, a) = platform.json(
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries/{}/attempts", d["id"]),
            None,
        );
        a.as_array().is_some_and(|a| !a.is_empty())
    });
    let (_, a) = platform.json(
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries/{}/attempts", d["id"]),
        None,
    );
    assert!(
        a[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("non-public")),
        "{a}"
    );
    assert!(
        receiver.captured().is_empty(),
        "nothing reached the receiver"
    );
}

/// The command line manages webhooks in the store; the running platform sends what
/// it queues (a test event).
#[test]
fn the_command_line_manages_webhooks() {
    let receiver = Receiver::start(Duration::from_millis(10));
    let platform = Platform::new(&config_text(true));
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(&platform.data)
            .arg("--config")
            .arg(&platform.config)
            .args(args)
            .output()
            .expect("observatory")
    };
    let cli = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\nthe platform's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            platform.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = receiver.url();
    let secret = cli(&[
        "webhooks",
        "create",
        &url,
        "--event",
        "hook.*",
        "--description",
        "cli",
    ]);
    assert!(secret.trim().starts_with("whsec_"));
    let list: Value = serde_json::from_str(&cli(&["webhooks", "list", "--json"])).expect("json");
    let id = list[0]["id"].as_i64().expect("id").to_string();
    assert!(!list.to_string().contains("whsec_"));
    let out = cli(&["webhooks", "test", &id, "--wait"]);
    assert!(out.contains("HTTP 200"), "{out}");
    assert!(cli(&["webhooks", "pause", &id]).contains("paused"));
    assert!(cli(&["webhooks", "resume", &id]).contains("active"));
    let rotated = cli(&["webhooks", "rotate", &id, "--grace", "0"]);
    assert!(rotated.trim().starts_with("whsec_") && rotated != secret);
    let deliveries: Value =
        serde_json::from_str(&cli(&["webhooks", "deliveries", &id, "--json"])).expect("json");
    assert_eq!(deliveries[0]["status"], "delivered");
    let d = deliveries[0]["id"].to_string();
    let attempts: Value =
        serde_json::from_str(&cli(&["webhooks", "attempts", &id, &d, "--json"])).expect("json");
    assert_eq!(attempts[0]["status_code"], 200);
    assert!(cli(&["webhooks", "redeliver", &id, &d]).contains("queued 1"));
    assert!(cli(&["webhooks", "delete", &id]).contains("deleted"));
    // Errors name what they are about: a webhook, its URL.
    let fails = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let gone = fails(&["webhooks", "deliveries", &id]);
    assert!(gone.contains(&format!("no webhook {id}")), "{gone}");
    let ftp = fails(&["webhooks", "create", "ftp://x.example/h"]);
    assert!(
        ftp.contains("invalid webhook: a webhook URL is http or https"),
        "{ftp}"
    );
}

/// A conversation's cost reaching a configured threshold is an event of the log
/// (`usage.threshold`), delivered like any other, once per conversation and
/// threshold.
#[test]
fn cost_thresholds_are_events() {
    let receiver = Receiver::start(Duration::from_millis(10));
    // 0 is reached by any usage; a million dollars by none.
    let platform = Platform::new(&format!(
        "{}cost_thresholds_usd = [0.0, 1000000.0]\n",
        config_text(true)
    ));
    platform.create(
        json!({"url": receiver.url(), "event_types": ["usage.threshold"],
        "format": "discord"}),
    );
    let (_, _) =
        platform.create(json!({"url": receiver.url(), "event_types": ["usage.threshold"]}));
    let sessions = [
        "0e0e0e0e-1111-2222-3333-444444444444",
        "0f0f0f0f-1111-2222-3333-444444444444",
    ];
    for seed in 1..=6 {
        platform.append(sessions[seed % 2], seed as u64);
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    loop {
        let got = receiver.captured();
        let chat = got
            .iter()
            .filter(|c| c.json()["content"].is_string())
            .count();
        if received(&got).len() == 2 && chat == 2 {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "both sessions announced: {:?}\nevents: {:?}\n{}",
            got.iter().map(|c| c.body.clone()).collect::<Vec<_>>(),
            platform
                .get("/api/v1/events?limit=1000")
                .text()
                .unwrap_or_default(),
            platform.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Later usage of the same sessions announces nothing again.
    let events = platform.event_ids().len();
    for seed in 7..=10 {
        platform.append(sessions[seed % 2], seed as u64);
    }
    wait_until("the later appends indexed", || {
        platform.event_ids().len() > events
    });
    std::thread::sleep(Duration::from_millis(1500));
    let captured = receiver.captured();
    let standard: Vec<Value> = captured
        .iter()
        .map(Captured::json)
        .filter(|v| v["type"] == "usage.threshold")
        .collect();
    assert_eq!(standard.len(), 2, "{standard:?}");
    for v in &standard {
        assert_eq!(v["data"]["data"]["threshold_usd"], 0.0);
        assert!(v["data"]["data"]["cost_usd"].is_number());
    }
    let chat: Vec<&str> = captured
        .iter()
        .filter_map(|c| c.json()["content"].as_str().map(str::to_owned))
        .map(|t| {
            if t.contains("passed $0.00") {
                "ok"
            } else {
                "bad"
            }
        })
        .collect();
    assert_eq!(chat, ["ok", "ok"]);
}

/// A file's share of agent-written lines crossing a configured percentage is an
/// event of the log (`file.agent_share`), up and down, once per crossing: the file
/// is read from disk under the platform's workspace roots and blamed.
#[test]
fn agent_share_crossings_are_events() {
    let receiver = Receiver::start(Duration::from_millis(10));
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().canonicalize().expect("root");
    let file = root.join("app.py");
    let file_str = file.to_str().expect("path").to_owned();
    let platform = Platform::new(&format!(
        "workspace_roots = [{:?}]\n{}agent_share_thresholds_percent = [50, 90]\n",
        root.to_str().expect("root"),
        config_text(true)
    ));
    platform.create(json!({"url": receiver.url(), "event_types": ["file.agent_share"]}));
    platform.create(
        json!({"url": receiver.url(), "event_types": ["file.agent_share"],
        "format": "slack"}),
    );

    let session = "5a5a5a5a-1111-2222-3333-444444444444";
    let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let record = |kind: &str, uuid: &str, parent: Option<&str>, message: Value| {
        json!({"type": kind, "uuid": uuid, "parentUuid": parent, "sessionId": session,
            "cwd": root, "timestamp": now(), "version": "2.0.75", "isSidechain": false,
            "userType": "external", "message": message})
    };
    let transcript = platform.claude.join(format!("projects/-w/{session}.jsonl"));
    let append = |records: &[Value]| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&transcript)
            .expect("open");
        for r in records {
            writeln!(f, "{r}").expect("append");
        }
    };
    let lines: Vec<String> = (1..=10).map(|i| format!("value_{i} = {i} * 7")).collect();
    let content = lines.join("\n") + "\n";
    std::fs::write(&file, &content).expect("write the file");
    let mut result = record(
        "user",
        "u2",
        Some("a1"),
        json!({"role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_share_1",
            "content": format!("File created successfully at: {file_str}")}]}),
    );
    result["toolUseResult"] = json!({"type": "create", "filePath": file_str,
        "content": content, "structuredPatch": []});
    append(&[
        record(
            "user",
            "u1",
            None,
            json!({"role": "user", "content": "Write app.py"}),
        ),
        record(
            "assistant",
            "a1",
            Some("u1"),
            json!({"id": "msg_share_1", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [{"type": "tool_use", "id": "toolu_share_1",
                "name": "Write", "input": {"file_path": file_str, "content": content}}]}),
        ),
        result,
    ]);
    let shares = |receiver: &Receiver| -> Vec<Value> {
        receiver
            .captured()
            .iter()
            .map(Captured::json)
            .filter(|v| v["type"] == "file.agent_share")
            .collect()
    };
    wait_until("the file's 100% announced", || shares(&receiver).len() == 1);
    let up = &shares(&receiver)[0]["data"];
    assert_eq!(up["path"], file_str.as_str(), "{up}");
    assert_eq!(up["data"]["share_percent"], 100.0, "{up}");
    assert_eq!(up["data"]["level_percent"], 90.0, "{up}");
    assert_eq!(up["data"]["previous_level_percent"], Value::Null, "{up}");

    // A person rewrites most of it; the agent's next edit makes its share 30%.
    let mut now_lines = lines.clone();
    for (i, l) in now_lines.iter_mut().enumerate().skip(2) {
        *l = format!("person_{i} = load({i})");
    }
    let before = now_lines.join("\n") + "\n";
    std::fs::write(&file, &before).expect("rewrite");
    now_lines[9] = "agent_fix = 1".to_owned();
    std::fs::write(&file, now_lines.join("\n") + "\n").expect("edit");
    let mut edited = record(
        "user",
        "u4",
        Some("a3"),
        json!({"role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_share_2",
            "content": "The file has been updated."}]}),
    );
    edited["toolUseResult"] = json!({"filePath": file_str, "oldString": "person_9 = load(9)",
        "newString": "agent_fix = 1", "originalFile": before, "replaceAll": false,
        "structuredPatch": [{"oldStart": 10, "oldLines": 1, "newStart": 10, "newLines": 1,
            "lines": ["-person_9 = load(9)", "+agent_fix = 1"]}]});
    append(&[
        record(
            "user",
            "u3",
            Some("u2"),
            json!({"role": "user", "content": "Fix the last line"}),
        ),
        record(
            "assistant",
            "a3",
            Some("u3"),
            json!({"id": "msg_share_2", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [{"type": "tool_use", "id": "toolu_share_2",
                "name": "Edit", "input": {"file_path": file_str,
                    "old_string": "person_9 = load(9)", "new_string": "agent_fix = 1"}}]}),
        ),
        edited,
    ]);
    wait_until("the drop below 50% announced", || {
        shares(&receiver).len() == 2
    });
    let down = &shares(&receiver)[1]["data"]["data"];
    assert_eq!(down["share_percent"], 30.0, "{down}");
    assert_eq!(down["level_percent"], Value::Null, "{down}");
    assert_eq!(down["previous_level_percent"], 90.0, "{down}");
    let chat: Vec<String> = receiver
        .captured()
        .iter()
        .filter_map(|c| c.json()["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(chat.len(), 2, "{chat:?}");
    assert!(
        chat[0].contains("100% agent-written (passed 90%)"),
        "{chat:?}"
    );
    assert!(
        chat[1].contains("30% agent-written (below 90% again)"),
        "{chat:?}"
    );
}
