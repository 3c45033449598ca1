//! The setting shared by the language-server tests: a data directory, copies of the
//! ai-blame fixture's Claude directory and workspace, and the platform the server
//! starts, stopped when the test ends.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::lsp_client::LspClient;

/// The conversation [`Env::append_live_edit`] writes.
pub const LIVE_SESSION: &str = "5b0f6a52-3f7e-4a43-9a53-0c2b5d1e7f10";

pub const BIN: &str = env!("CARGO_BIN_EXE_observatory");
pub const WAIT: Duration = Duration::from_secs(30);

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
            // Fixtures are read-only; the copies are appended to.
            let mut perm = std::fs::metadata(&dest).expect("meta").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).expect("chmod");
        }
    }
}

/// A data directory, a copy of the ai-blame fixture's Claude directory and of its
/// workspace; stops the platform the language server started, when dropped.
pub struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = fixtures().join("ai-blame/tests/examples");
        copy_dir(
            &base.join("simple-home/.claude"),
            &tmp.path().join("claude"),
        );
        copy_dir(&base.join("simple"), &tmp.path().join("work/simple"));
        Env { tmp }
    }

    /// The temporary directory everything lives in.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn claude(&self) -> PathBuf {
        self.tmp.path().join("claude")
    }

    pub fn workspace(&self) -> PathBuf {
        self.tmp.path().join("work/simple")
    }

    pub fn project_dir(&self) -> PathBuf {
        std::fs::read_dir(self.claude().join("projects"))
            .expect("projects")
            .next()
            .expect("one project")
            .expect("entry")
            .path()
    }

    pub fn lsp(&self, extra: &[&str]) -> LspClient {
        LspClient::spawn(self.lsp_command(extra))
    }

    /// The command [`Env::lsp`] runs, for a test to add to.
    pub fn lsp_command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(self.data())
            .arg("--claude-dir")
            .arg(self.claude())
            .arg("lsp")
            .args(extra)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("OBSERVATORY_URL")
            .env("HOME", self.tmp.path())
            .env("OBSERVATORY_LOG", "info");
        c
    }

    /// `observatory serve` started by hand for a data directory of its own (a team's
    /// platform, or one run in a terminal), indexing this environment's transcripts.
    pub fn serve(&self, name: &str, bind: &str) -> Served {
        self.serve_in(
            self.tmp.path().join(name),
            bind,
            std::process::Stdio::null(),
        )
    }

    /// [`Env::serve`] for data directory `data`, logging to `stderr`.
    pub fn serve_in(&self, data: PathBuf, bind: &str, stderr: std::process::Stdio) -> Served {
        let child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&data)
            .arg("--claude-dir")
            .arg(self.claude())
            .args(["serve", "--bind", bind])
            .env("HOME", self.tmp.path())
            .stdin(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the platform");
        let published = data.join("serve.json");
        wait_until(|| published.exists() && data.join("token").exists());
        let running: Value =
            serde_json::from_str(&std::fs::read_to_string(&published).expect("serve.json"))
                .expect("serve.json is JSON");
        let url = running["url"].as_str().expect("url").to_owned();
        let token = std::fs::read_to_string(data.join("token")).expect("token");
        Served {
            child,
            url,
            token: token.trim().to_owned(),
            data,
        }
    }

    /// Writes a new conversation editing example.py, the way Claude Code writes it.
    pub fn append_live_edit(&self) {
        let text = self.live_transcript();
        let session = LIVE_SESSION;
        std::fs::write(self.project_dir().join(format!("{session}.jsonl")), text)
            .expect("write transcript");
    }

    /// The transcript of that conversation.
    pub fn live_transcript(&self) -> String {
        let original = std::fs::read_to_string(self.workspace().join("example.py")).expect("read");
        let cwd = "/Users/cjm/repos/ai-blame-test";
        let path = format!("{cwd}/example.py");
        let (old, new) = (
            "    return f\"Hello, {name}!\"",
            "    return f\"HELLO, {name}!\"",
        );
        let session = LIVE_SESSION;
        let common = |uuid: &str, parent: Value, ts: &str| {
            json!({"parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": cwd,
                   "sessionId": session, "version": "2.0.75", "gitBranch": "main", "uuid": uuid, "timestamp": ts})
        };
        let mut prompt = common(
            "a1f0c7de-0001-4000-8000-000000000001",
            Value::Null,
            "2026-11-25T10:00:00.000Z",
        );
        prompt["type"] = json!("user");
        prompt["message"] = json!({"role": "user", "content": "Make greet shout"});
        let mut call = common(
            "a1f0c7de-0001-4000-8000-000000000002",
            json!("a1f0c7de-0001-4000-8000-000000000001"),
            "2026-11-25T10:00:05.000Z",
        );
        call["type"] = json!("assistant");
        call["requestId"] = json!("req_011CVlive0001");
        call["message"] = json!({"id": "msg_01live0001", "type": "message", "role": "assistant", "model": "claude-opus-4-5-20251101",
            "content": [{"type": "tool_use", "id": "toolu_01LiveEdit0001", "name": "Edit", "input": {"file_path": path, "old_string": old, "new_string": new}}],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 50}});
        let mut result = common(
            "a1f0c7de-0001-4000-8000-000000000003",
            json!("a1f0c7de-0001-4000-8000-000000000002"),
            "2026-11-25T10:00:06.000Z",
        );
        result["type"] = json!("user");
        result["message"] = json!({"role": "user", "content": [{"tool_use_id": "toolu_01LiveEdit0001", "type": "tool_result",
            "content": format!("The file {path} has been updated.")}]});
        result["toolUseResult"] = json!({"filePath": path, "oldString": old, "newString": new, "originalFile": original,
            "structuredPatch": [{"oldStart": 12, "oldLines": 1, "newStart": 12, "newLines": 1, "lines": [format!("-{old}"), format!("+{new}")]}],
            "userModified": false, "replaceAll": false});
        let mut text = String::new();
        for r in [prompt, call, result] {
            text.push_str(&serde_json::to_string(&r).expect("json"));
            text.push('\n');
        }
        text
    }

    pub fn platform_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data().join("serve.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        v["pid"].as_u64().map(|p| p as u32)
    }

    pub fn kill_platform(&self) {
        if let Some(pid) = self.platform_pid() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            // serve.json stays behind after a kill -9: that is the stale case.
            wait_until(|| !alive(pid));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill_platform();
    }
}

/// A platform a test started; killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Its local token (all scopes).
    pub token: String,
    pub data: PathBuf,
}

impl Served {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address")
    }
}

impl Served {
    /// A GET on the platform with its local token; the body.
    pub fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(self.addr()).expect("connect");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.token
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out.split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }

    /// Requests the platform answered, by route template and status, from `/metrics`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let needle = format!("route=\"{route}\",status=\"{status}\"");
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with("observatory_http_requests_total{") && l.contains(&needle))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

pub fn wait_until(cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
