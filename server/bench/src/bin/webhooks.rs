//! Webhook delivery benchmark: `observatory serve` (the release binary) watching
//! transcripts that grow at a steady rate, delivering every event to receivers on
//! loopback.
//!
//! 1. Healthy receiver: the share of deliveries that succeeded at their first
//!    attempt (from the platform's delivery log), and the latency from appending a
//!    line to a transcript to the receiver holding the event (`messages.appended`,
//!    matched by the last line's uuid).
//! 2. Faults: a receiver failing 30% of requests at random (a fifth of them 503 with
//!    `Retry-After: 1`), answering 5% after the platform's timeout, down (refusing
//!    connections) for 5 s, and the platform killed with SIGKILL mid-run and
//!    restarted: the share of the log's events that reached the receiver in the end.
//!
//! The retry schedule is compressed (0, 0.5, 1, 2, then 4 s) so the fault phase ends
//! in seconds; the default (Svix's, up to a day) only spaces the same attempts out.

#[path = "../common.rs"]
mod common;
#[path = "../../../../tests/support/restartable_server.rs"]
mod restartable_server;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clap::Parser;
use common::{ms, percentile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use restartable_server::RestartableServer;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    about = "Webhook delivery: first-attempt success, delivery under faults and kill -9, latency"
)]
struct Args {
    /// Where to keep the transcripts and data directories (emptied first)
    #[arg(long, default_value = "/tmp/observatory-bench-webhooks")]
    work: PathBuf,
    /// The observatory binary (defaults to the one next to this benchmark)
    #[arg(long)]
    observatory: Option<PathBuf>,
    /// Transcript appends (a prompt and a reply each) in the healthy phase
    #[arg(long, default_value_t = 1000)]
    appends: usize,
    /// Appends per second
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Appends in the fault phase
    #[arg(long, default_value_t = 300)]
    fault_appends: usize,
}

// ---------------------------------------------------------------------------

/// A poisoned lock only follows a panic elsewhere, which ends the run anyway.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Healthy,
    Faulty,
}

struct Shared {
    mode: Mutex<Mode>,
    rng: Mutex<StdRng>,
    /// When each event (by id) was first answered 2xx, and its `messages.appended`
    /// uuid.
    received: Mutex<HashMap<i64, (Instant, Option<String>)>>,
    requests: Mutex<u64>,
}

async fn receive(State(s): State<Arc<Shared>>, body: Bytes) -> axum::response::Response {
    let at = Instant::now();
    let mode = *lock(&s.mode);
    *lock(&s.requests) += 1;
    if mode == Mode::Faulty {
        let r: f64 = lock(&s.rng).random();
        if r < 0.05 {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            return (StatusCode::OK, "too late").into_response();
        } else if r < 0.05 + 0.24 {
            return (StatusCode::INTERNAL_SERVER_ERROR, "failing").into_response();
        } else if r < 0.05 + 0.30 {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                "busy",
            )
                .into_response();
        }
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(id) = v["data"]["id"].as_i64() {
        let uuid = v["data"]["data"]["last_uuid"].as_str().map(str::to_owned);
        lock(&s.received).entry(id).or_insert((at, uuid));
    }
    (StatusCode::OK, "ok").into_response()
}

struct Receiver {
    server: RestartableServer,
    shared: Arc<Shared>,
}

impl Receiver {
    fn start() -> Result<Self> {
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Healthy),
            rng: Mutex::new(StdRng::seed_from_u64(16)),
            received: Mutex::new(HashMap::new()),
            requests: Mutex::new(0),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&shared));
        Ok(Self {
            server: RestartableServer::start(app)?,
            shared,
        })
    }
}

// ---------------------------------------------------------------------------

struct Platform {
    child: Child,
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CONFIG: &str = "[webhooks]\nallow_private_targets = true\ntimeout = 2.0\n\
    retry_schedule = [0, 0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]\n\
    breaker_failures = 5\nbreaker_cooldown = 0.5\n";

impl Platform {
    fn start(obs: &Path, work: &Path) -> Result<Self> {
        let data = work.join("data");
        let log = work.join("serve.log");
        let old = common::published(&data).map(|p| p.2);
        let child = Command::new(obs)
            .arg("--config")
            .arg(work.join("config.toml"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--claude-dir")
            .arg(work.join("claude"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)?,
            )
            .spawn()
            .context("starting the platform")?;
        let pid = child.id();
        let http = reqwest::blocking::Client::builder().no_proxy().build()?;
        let mut p = Self {
            child,
            url: String::new(),
            token: String::new(),
            http,
        };
        let t = Instant::now();
        loop {
            if let Some((url, token, published)) = common::published(&data) {
                if published == pid && Some(published) != old {
                    p.url = url;
                    p.token = token;
                    break;
                }
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("the platform did not start; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        while !p
            .http
            .get(format!("{}/readyz", p.url))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            if t.elapsed() > Duration::from_secs(60) {
                bail!("the platform was not ready");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(p)
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send()?;
        if !res.status().is_success() {
            bail!(
                "{path}: {} {}",
                res.status(),
                res.text().unwrap_or_default()
            );
        }
        Ok(res.json().unwrap_or(Value::Null))
    }

    fn event_ids(&self) -> Result<BTreeSet<i64>> {
        let mut ids = BTreeSet::new();
        let mut after = 0;
        loop {
            let page = self.call(
                reqwest::Method::GET,
                &format!("/api/v1/events?after={after}&limit=1000"),
                None,
            )?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return Ok(ids);
            }
            ids.extend(events.iter().filter_map(|e| e["id"].as_i64()));
            after = page["last_id"].as_i64().unwrap_or(after);
        }
    }

    /// (deliveries, delivered at their first attempt) of a webhook.
    fn first_attempts(&self, webhook: i64) -> Result<(usize, usize)> {
        let (mut all, mut first) = (0, 0);
        let mut before = String::new();
        loop {
            let page = self.call(
                reqwest::Method::GET,
                &format!("/api/v1/webhooks/{webhook}/deliveries?limit=500{before}"),
                None,
            )?;
            for d in page["deliveries"].as_array().into_iter().flatten() {
                all += 1;
                if d["status"] == "delivered" && d["attempts"] == 1 {
                    first += 1;
                }
            }
            match page["next_before"].as_i64() {
                Some(b) => before = format!("&before={b}"),
                None => return Ok((all, first)),
            }
        }
    }
}

/// Appends one prompt-and-reply to one of four sessions; returns the uuid of the
/// last line, which the `messages.appended` event names.
fn append(claude: &Path, n: usize) -> Result<String> {
    let session = format!("0d0d0d0{}-1111-2222-3333-444444444444", n % 4);
    let (lines, _) = observatory_corpus::continuation_lines(&session, "/w", None, n as u64);
    let last = lines
        .split(|b| *b == b'\n')
        .rfind(|l| !l.is_empty())
        .context("no line")?;
    let uuid = serde_json::from_slice::<Value>(last)?["uuid"]
        .as_str()
        .context("no uuid")?
        .to_owned();
    common::append(&claude.join(format!("projects/-w/{session}.jsonl")), &lines)?;
    Ok(uuid)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let t = Instant::now();
    while !done()? {
        if t.elapsed() > limit {
            bail!("gave up waiting: {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let third = args.fault_appends / 3;
    // The receiver comes back after 5 s of appends, and the platform 10 appends after
    // its kill: a shorter phase would end with either still down, and wait in vain.
    let back_up = third + (5.0 * args.rate) as usize;
    if back_up >= args.fault_appends || 2 * third + 10 >= args.fault_appends {
        bail!(
            "--fault-appends {} at --rate {} ends before the receiver is back up (append {back_up}); \
             use more appends or a lower rate",
            args.fault_appends,
            args.rate
        );
    }
    let obs = common::observatory_bin(args.observatory.as_deref())?;
    let _ = std::fs::remove_dir_all(&args.work);
    let claude = args.work.join("claude");
    std::fs::create_dir_all(claude.join("projects/-w"))?;
    std::fs::write(args.work.join("config.toml"), CONFIG)?;
    let gap = Duration::from_secs_f64(1.0 / args.rate.max(0.1));

    // 1. Healthy.
    let healthy = Receiver::start()?;
    let platform = Platform::start(&obs, &args.work)?;
    let created = platform.call(
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": format!("http://{}/hook", healthy.server.addr), "event_types": ["*"]})),
    )?;
    let a = created["webhook"]["id"].as_i64().context("id")?;
    let mut written: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    for n in 0..args.appends {
        let due = start + gap * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        written.insert(append(&claude, n)?, t);
    }
    let events = platform.event_ids()?;
    wait_for("healthy delivery", Duration::from_secs(120), || {
        let got = lock(&healthy.shared.received);
        Ok(events.iter().all(|e| got.contains_key(e)))
    })?;
    let (deliveries, first) = platform.first_attempts(a)?;
    let mut latencies: Vec<Duration> = lock(&healthy.shared.received)
        .values()
        .filter_map(|(at, uuid)| {
            let w = written.get(uuid.as_ref()?)?;
            at.checked_duration_since(*w)
        })
        .collect();
    latencies.sort();
    platform
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{a}"),
            None,
        )
        .ok();

    // 2. Faults, and the platform killed.
    let mut faulty = Receiver::start()?;
    *lock(&faulty.shared.mode) = Mode::Faulty;
    let created = platform.call(
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": format!("http://{}/hook", faulty.server.addr), "event_types": ["*"]})),
    )?;
    let b = created["webhook"]["id"].as_i64().context("id")?;
    let first_event = platform.event_ids()?.last().copied().unwrap_or(0);
    let mut platform = Some(platform);
    for n in 0..args.fault_appends {
        let k = args.appends + n;
        if n == third {
            faulty.server.down();
        }
        if n == back_up {
            faulty.server.up()?;
        }
        if n == 2 * third {
            // SIGKILL: nothing of the platform's shutdown runs.
            if let Some(mut p) = platform.take() {
                p.child.kill()?;
                p.child.wait()?;
            }
        }
        if n == 2 * third + 10 {
            platform = Some(Platform::start(&obs, &args.work)?);
        }
        append(&claude, k)?;
        std::thread::sleep(gap);
    }
    let platform = match platform {
        Some(p) => p,
        None => Platform::start(&obs, &args.work)?,
    };
    let fault_events: BTreeSet<i64> = platform
        .event_ids()?
        .into_iter()
        .filter(|e| *e > first_event)
        .collect();
    let waited = Instant::now();
    let outcome = wait_for("delivery under faults", Duration::from_secs(300), || {
        let got = lock(&faulty.shared.received);
        Ok(fault_events.iter().all(|e| got.contains_key(e)))
    });
    let got = lock(&faulty.shared.received).clone();
    let delivered = fault_events.iter().filter(|e| got.contains_key(e)).count();
    let requests = *lock(&faulty.shared.requests);
    let (_, fault_first) = platform.first_attempts(b)?;

    println!(
        "Webhook delivery ({} appends at {}/s, then {} under faults)\n",
        args.appends, args.rate, args.fault_appends
    );
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| first-attempt success, healthy receiver | {:.2}% ({first} of {deliveries} deliveries) | ≥ 99.9% |",
        100.0 * first as f64 / deliveries.max(1) as f64
    );
    println!(
        "| eventual delivery, faults + receiver down 5 s + kill -9 | {:.2}% ({delivered} of {} events; {requests} requests, {fault_first} first-attempt successes) | 100% |",
        100.0 * delivered as f64 / fault_events.len().max(1) as f64,
        fault_events.len()
    );
    println!(
        "| latency, transcript append → receiver (n = {}) | p50 {}, p95 {}, p99 {}, max {} | p95 < 1 s |",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.95)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "\n(under faults, every event was delivered {} after the last append)",
        ms(waited.elapsed())
    );
    outcome
}
