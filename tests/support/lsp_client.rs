//! A minimal LSP client over a child process's stdio, for the end-to-end tests and
//! the language-server benchmark: JSON-RPC framing, requests with ids, and answers
//! to the requests a server sends (refreshes, showDocument, progress).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct LspClient {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    /// Every notification and request the server sent, in order.
    pub seen: Vec<Value>,
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl LspClient {
    /// Starts `cmd` with piped stdin/stdout (stderr is inherited: the server's logs).
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the language server");
        // A piped stderr nobody reads is closed at once: the server's log then goes
        // to a closed pipe, as when an editor drops it.
        drop(child.stderr.take());
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        LspClient {
            child,
            stdin,
            rx,
            next_id: 1,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, v: &Value) {
        let body = serde_json::to_vec(v).expect("json");
        let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend(body);
        // The server may have exited (a fault test): the caller sees it in responses.
        let _ = self.stdin.write_all(&out);
        let _ = self.stdin.flush();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stdin.write_all(bytes);
        let _ = self.stdin.flush();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Handles one message from the server: answers its requests, records it.
    fn take(&mut self, m: Value) -> Option<Value> {
        if let Some(method) = m.get("method").and_then(Value::as_str) {
            if let Some(id) = m.get("id") {
                let result = match method {
                    "window/showDocument" => json!({"success": true}),
                    "workspace/configuration" => json!([null]),
                    _ => Value::Null,
                };
                let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
                self.send(&reply);
            }
            self.seen.push(m);
            return None;
        }
        Some(m)
    }

    /// Sends a request and waits for its response (its `result`, or `Err(error)`).
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = match self.rx.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} within 60 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server exited during {method}"),
            };
            let Some(m) = self.take(m) else { continue };
            if m.get("id") == Some(&json!(id)) {
                return match m.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(m.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
        }
    }

    /// Waits until the server has sent a message (since index `from` of `seen`)
    /// matching `pred`, answering its requests meanwhile.
    pub fn wait_for(
        &mut self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.seen.iter().skip(from).find(|m| pred(m)) {
                return Some(m.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.rx.recv_timeout(left) {
                Ok(m) => {
                    self.take(m);
                }
                Err(_) => return None,
            }
        }
    }

    /// Takes in every message the server has sent so far (answering its requests),
    /// so that a mark taken next counts only what comes after.
    pub fn drain(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.take(m);
        }
    }

    /// Polls `method` until `pred` holds for its result.
    pub fn poll(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.request(method, params.clone()).unwrap_or(Value::Null);
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{method} never satisfied the test; last answer: {r}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn initialize(&mut self, root: &std::path::Path, options: Value) -> Value {
        self.initialize_with(
            root,
            options,
            json!({
                "general": {"positionEncodings": ["utf-16"]},
                "window": {"showDocument": {"support": true}, "workDoneProgress": true},
                "workspace": {"codeLens": {"refreshSupport": true}, "inlayHint": {"refreshSupport": true}},
                "textDocument": {"hover": {"contentFormat": ["markdown"]}}
            }),
        )
    }

    /// `initialize` (then `initialized`) with the client capabilities given.
    pub fn initialize_with(
        &mut self,
        root: &std::path::Path,
        options: Value,
        capabilities: Value,
    ) -> Value {
        let root_uri = format!("file://{}", root.display());
        let r = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": root_uri,
                    "workspaceFolders": [{"uri": root_uri, "name": "test"}],
                    "initializationOptions": options,
                    "capabilities": capabilities
                }),
            )
            .expect("initialize");
        self.notify("initialized", json!({}));
        r
    }

    pub fn open(&mut self, path: &std::path::Path, language: &str) -> String {
        let uri = format!("file://{}", path.display());
        let text = std::fs::read_to_string(path).expect("read the file to open");
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        );
        uri
    }

    /// `shutdown` then `exit`; the process's exit status.
    pub fn stop(mut self) -> Option<i32> {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.exit_code()
    }

    /// [`LspClient::stop`] by a client that reads nothing more: the server's
    /// requests from now on go unanswered. The exit code, `None` when the server has
    /// not exited within 10 s (it is then killed).
    pub fn stop_without_reading(mut self) -> Option<i32> {
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "shutdown"}));
        self.notify("exit", Value::Null);
        self.exit_code()
    }

    /// The exit code once the process has exited; `None` when it has not within
    /// 10 s (it is then killed).
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
