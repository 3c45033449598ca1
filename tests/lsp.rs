//! `observatory lsp` end to end: the real binary over stdio, the real platform it
//! starts (or finds) on loopback, and the real ai-blame fixture transcripts.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lsp_client::LspClient;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_observatory");
const WAIT: Duration = Duration::from_secs(30);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts")
}

fn copy_dir(from: &Path, to: &Path) {
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
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = fixtures().join("ai-blame/tests/examples");
        copy_dir(
            &base.join("simple-home/.claude"),
            &tmp.path().join("claude"),
        );
        copy_dir(&base.join("simple"), &tmp.path().join("work/simple"));
        Env { tmp }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn claude(&self) -> PathBuf {
        self.tmp.path().join("claude")
    }

    fn workspace(&self) -> PathBuf {
        self.tmp.path().join("work/simple")
    }

    fn project_dir(&self) -> PathBuf {
        std::fs::read_dir(self.claude().join("projects"))
            .expect("projects")
            .next()
            .expect("one project")
            .expect("entry")
            .path()
    }

    fn lsp(&self, extra: &[&str]) -> LspClient {
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
        LspClient::spawn(c)
    }

    fn platform_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data().join("serve.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        v["pid"].as_u64().map(|p| p as u32)
    }

    fn kill_platform(&self) {
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

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn wait_until(cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pos(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

fn hover_text(c: &mut LspClient, uri: &str, line: u32) -> String {
    c.request("textDocument/hover", pos(uri, line, 0))
        .expect("hover")
        .pointer("/contents/value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn lenses(c: &mut LspClient, uri: &str) -> Vec<Value> {
    c.poll(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
        WAIT,
        |r| r.as_array().is_some_and(|a| !a.is_empty()),
    )
    .as_array()
    .cloned()
    .unwrap_or_default()
}

const SESSION: &str = "2c965cfd-41e4-4e31-8339-2986ebced03c";
/// The prompt behind the Write of lines 1–8.
const PROMPT: &str =
    "create some files for test purposes. a small python file, a md file, a yaml, a json";
/// The prompt behind the Edit of lines 9–10.
const EDIT_PROMPT: &str = "make some minor random test changes to all files in this repo";

#[test]
fn insights_actions_search_and_live_refresh_on_the_ai_blame_fixture() {
    let env = Env::new();
    let mut c = env.lsp(&[]);
    let init = c.initialize(&env.workspace(), json!({}));
    let caps = &init["capabilities"];
    assert_eq!(caps["hoverProvider"], true);
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    // An add-on server claims nothing that collides with the file's own server.
    for taken in [
        "completionProvider",
        "definitionProvider",
        "renameProvider",
        "documentFormattingProvider",
    ] {
        assert!(caps.get(taken).is_none(), "{taken} must not be claimed");
    }
    let file = env.workspace().join("example.py");
    let uri = c.open(&file, "python");

    // Code lenses: the file's summary, then the function agents changed.
    let l = lenses(&mut c, &uri);
    let top = l[0]["command"]["title"].as_str().unwrap_or_default();
    assert!(
        top.starts_with("1 agent conversation · 16 lines · last "),
        "{top}"
    );
    assert_eq!(l[0]["command"]["command"], "observatory.openConversation");
    assert_eq!(l[0]["command"]["arguments"][0], SESSION);
    let greet = l
        .iter()
        .find(|x| x["range"]["start"]["line"] == 3)
        .expect("a lens above greet()");
    assert_eq!(greet["command"]["arguments"][0], SESSION);

    // Hover: conversation, tool, prompt, and the links.
    let h = hover_text(&mut c, &uri, 0);
    assert!(h.contains("Write"), "{h}");
    assert!(h.contains(PROMPT), "{h}");
    assert!(h.contains("tokens"), "{h}");
    assert!(h.contains("command:observatory.openConversation"), "{h}");
    let h = hover_text(&mut c, &uri, 8);
    assert!(
        h.contains("Edit") && h.contains("lines 9–10") && h.contains(EDIT_PROMPT),
        "{h}"
    );
    let nothing = c
        .request("textDocument/hover", pos(&uri, 40, 0))
        .expect("hover");
    assert!(nothing.is_null(), "no hover past the end: {nothing}");

    // Code actions on an edited line.
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 8, "character": 9}, "end": {"line": 8, "character": 9}}, "context": {"diagnostics": []}}),
        )
        .expect("codeAction");
    let titles: Vec<&str> = actions
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    for want in [
        "Observatory: open the conversation that wrote this",
        "Observatory: copy the prompt",
        "Observatory: show the diff of this edit",
        "Observatory: resume the conversation in Claude Code",
    ] {
        assert!(titles.contains(&want), "{want} missing from {titles:?}");
    }
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Observatory: search conversations about `")),
        "{titles:?}"
    );

    // Each action's command works.
    let run = |c: &mut LspClient, title: &str| -> Value {
        let a = actions
            .as_array()
            .expect("actions")
            .iter()
            .find(|a| a["title"] == title)
            .expect("action")
            .clone();
        c.request(
            "workspace/executeCommand",
            json!({"command": a["command"]["command"], "arguments": a["command"]["arguments"]}),
        )
        .expect("executeCommand")
    };
    let mark = c.seen.len();
    let opened = run(&mut c, "Observatory: open the conversation that wrote this");
    let shown = c
        .wait_for(mark, WAIT, |m| m["method"] == "window/showDocument")
        .expect("showDocument");
    let md_path = opened["path"].as_str().expect("path");
    assert_eq!(shown["params"]["uri"], opened["uri"]);
    let md = std::fs::read_to_string(md_path).expect("conversation markdown");
    assert!(md.contains(PROMPT), "the viewer shows the conversation");
    let prompt = run(&mut c, "Observatory: copy the prompt");
    assert_eq!(prompt["prompt"], EDIT_PROMPT);
    let diff = run(&mut c, "Observatory: show the diff of this edit");
    let diff = std::fs::read_to_string(diff["path"].as_str().expect("path")).expect("diff");
    assert!(diff.contains("\n+") && diff.contains("@@"), "{diff}");
    let resume = run(
        &mut c,
        "Observatory: resume the conversation in Claude Code",
    );
    assert_eq!(resume["commandLine"], format!("claude --resume {SESSION}"));

    // Search and structured requests for editor extensions.
    let found = c
        .request("observatory/search", json!({"query": "greet", "limit": 5}))
        .expect("search");
    let hits = found["hits"].as_array().expect("hits");
    assert!(hits.iter().any(|h| h["session_id"] == SESSION), "{found}");
    let blame = c
        .request("observatory/blame", json!({"uri": uri}))
        .expect("blame");
    let spans: Vec<(u64, u64, &str)> = blame["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["start_line"].as_u64().unwrap_or(0),
                r["end_line"].as_u64().unwrap_or(0),
                r["tool"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![(1, 8, "Write"), (9, 10, "Edit"), (11, 16, "Write")]
    );
    let convs = c
        .request(
            "observatory/conversations",
            json!({"textDocument": {"uri": uri}}),
        )
        .expect("conversations");
    assert!(
        convs["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["session_id"] == SESSION)),
        "{convs}"
    );
    let insights = c
        .request("observatory/fileInsights", json!({"uri": uri}))
        .expect("insights");
    assert!(insights["edits"].as_u64().unwrap_or(0) >= 1, "{insights}");
    let symbols = c
        .request("workspace/symbol", json!({"query": "gree"}))
        .expect("workspace/symbol");
    assert!(
        symbols.as_array().is_some_and(|s| s
            .iter()
            .any(|x| x["name"] == "greet" && x["location"]["uri"] == uri)),
        "{symbols}"
    );

    // Inlay hints are off until configured.
    let range = json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 16, "character": 0}}});
    let none = c
        .request("textDocument/inlayHint", range.clone())
        .expect("inlayHint");
    assert!(none.as_array().is_none_or(|a| a.is_empty()), "{none}");
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"observatory": {"inlayHints": "all"}}}),
    );
    let hints = c.poll("textDocument/inlayHint", range, WAIT, |r| {
        r.as_array().is_some_and(|a| a.len() == 3)
    });
    let first = hints[0]["label"].as_str().unwrap_or_default();
    assert!(first.starts_with("◆ "), "{first}");

    // Live: the buffer changes the way an agent is about to, then the agent's edit is
    // written to a transcript; the server refreshes the editor by itself.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 11, "character": 13}, "end": {"line": 11, "character": 18}}, "text": "HELLO"}]}),
    );
    c.poll("observatory/blame", json!({"uri": uri}), WAIT, |b| {
        b["version"] == 2
    });
    let before = hover_text(&mut c, &uri, 11);
    assert!(!before.contains("Make greet shout"), "{before}");
    let mark = c.seen.len();
    append_live_edit(&env);
    c.wait_for(mark, WAIT, |m| m["method"] == "workspace/codeLens/refresh")
        .expect("a code lens refresh after the transcript grew");
    let after = hover_text(&mut c, &uri, 11);
    assert!(after.contains("Make greet shout"), "{after}");
    let l = lenses(&mut c, &uri);
    let top = l[0]["command"]["title"].as_str().unwrap_or_default();
    assert!(top.starts_with("2 agent conversations · "), "{top}");
    assert_eq!(l[0]["command"]["command"], "observatory.listConversations");

    assert_eq!(c.stop(), Some(0));
}

/// A new conversation editing example.py, written the way Claude Code writes it.
fn append_live_edit(env: &Env) {
    let original = std::fs::read_to_string(env.workspace().join("example.py")).expect("read");
    let cwd = "/Users/cjm/repos/ai-blame-test";
    let path = format!("{cwd}/example.py");
    let (old, new) = (
        "    return f\"Hello, {name}!\"",
        "    return f\"HELLO, {name}!\"",
    );
    let session = "5b0f6a52-3f7e-4a43-9a53-0c2b5d1e7f10";
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
    std::fs::write(env.project_dir().join(format!("{session}.jsonl")), text)
        .expect("write transcript");
}

#[test]
fn platform_killed_mid_session_is_restarted_and_cached_insights_stay() {
    let env = Env::new();
    let mut c = env.lsp(&[]);
    c.initialize(&env.workspace(), json!({}));
    let uri = c.open(&env.workspace().join("example.py"), "python");
    lenses(&mut c, &uri);
    let first = env.platform_pid().expect("the server started a platform");
    // It runs in its own process group: the editor's signals do not reach it.
    assert_ne!(first, c.pid());

    let mark = c.seen.len();
    env.kill_platform();
    // Answers keep coming from what is cached.
    let h = hover_text(&mut c, &uri, 0);
    assert!(h.contains(PROMPT), "{h}");
    // The user hears about it once, and the server starts a new platform.
    let warned = c
        .wait_for(mark, WAIT, |m| {
            m["method"] == "window/showMessage" && m["params"]["type"] == 2
        })
        .expect("a warning");
    assert!(
        warned["params"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reconnecting")),
        "{warned}"
    );
    let back = c
        .wait_for(mark, WAIT, |m| {
            m["method"] == "observatory/status" && m["params"]["state"] == "connected"
        })
        .expect("connected again");
    assert_eq!(back["params"]["source"], "started");
    let second = env.platform_pid().expect("a new platform");
    assert_ne!(first, second);
    let warnings = c.seen[mark..]
        .iter()
        .filter(|m| m["method"] == "window/showMessage" && m["params"]["type"] == 2)
        .count();
    assert_eq!(warnings, 1, "the outage is reported once");
    // And requests reach the new platform.
    let found = c
        .request("observatory/search", json!({"query": "greet"}))
        .expect("search after the restart");
    assert!(found["hits"].as_array().is_some_and(|h| !h.is_empty()));

    // A second editor session shares the running platform instead of starting one.
    let mut other = env.lsp(&[]);
    other.initialize(&env.workspace(), json!({}));
    let shared = other
        .wait_for(0, WAIT, |m| {
            m["method"] == "observatory/status" && m["params"]["state"] == "connected"
        })
        .expect("the second session connects");
    assert_eq!(shared["params"]["source"], "shared");
    assert_eq!(env.platform_pid(), Some(second));
    assert_eq!(other.stop(), Some(0));
    assert_eq!(c.stop(), Some(0));
}

#[test]
fn malformed_input_wrong_parameters_and_a_huge_file() {
    let env = Env::new();
    // No daemon: the in-process fallback serves this session.
    let mut c = env.lsp(&["--no-daemon"]);
    c.initialize(&env.workspace(), json!({"maxFileBytes": 100000}));
    let status = c
        .wait_for(0, WAIT, |m| {
            m["method"] == "observatory/status" && m["params"]["state"] == "connected"
        })
        .expect("connected");
    assert_eq!(status["params"]["source"], "inProcess");

    // A body that is not JSON, then requests with wrong parameters.
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    let bad = c
        .request("textDocument/hover", json!({"textDocument": {}}))
        .unwrap_err();
    assert_eq!(bad["code"], -32602, "{bad}");
    let bad = c
        .request("observatory/search", json!({"query": "  "}))
        .unwrap_err();
    assert!(
        bad["message"].as_str().is_some_and(|m| m.contains("query")),
        "{bad}"
    );
    let bad = c
        .request(
            "workspace/executeCommand",
            json!({"command": "observatory.nope", "arguments": []}),
        )
        .unwrap_err();
    assert!(
        bad["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown command")),
        "{bad}"
    );
    let bad = c
        .request(
            "workspace/executeCommand",
            json!({"command": "observatory.openConversation", "arguments": ["../../etc/passwd"]}),
        )
        .unwrap_err();
    assert!(
        bad["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a conversation id")),
        "{bad}"
    );

    // A change outside the document is refused and the document stays usable.
    let uri = c.open(&env.workspace().join("example.py"), "python");
    lenses(&mut c, &uri);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 500, "character": 0}, "end": {"line": 501, "character": 0}}, "text": "x"}]}),
    );
    let h = hover_text(&mut c, &uri, 0);
    assert!(h.contains(PROMPT), "{h}");

    // A file over the size limit gets one explanatory lens and nothing else.
    let huge = env.workspace().join("huge.py");
    std::fs::write(&huge, "x = 1\n".repeat(40_000)).expect("write");
    let huge_uri = c.open(&huge, "python");
    let l = lenses(&mut c, &huge_uri);
    assert_eq!(l.len(), 1);
    let title = l[0]["command"]["title"].as_str().unwrap_or_default();
    assert!(title.contains("larger than 97 KB"), "{title}");
    assert!(c
        .request("textDocument/hover", pos(&huge_uri, 0, 0))
        .expect("hover")
        .is_null());

    assert_eq!(c.stop(), Some(0));
}
