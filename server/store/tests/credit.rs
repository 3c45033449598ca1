//! Which conversation a recorded change is credited to (issue #13): a subagent's
//! change names the session the user had, with the subagent beside it, in every
//! subagent layout; a record that `claude --resume` copied into a new session's file
//! stays with the conversation that wrote it, whatever the order the files are
//! indexed in. Transcripts are built here in Claude Code's format (modelled on the
//! shared fixtures: claude-code-viewer's 1.0.x inline sidechains and 2.0.28 flat
//! `agent-*.jsonl`, ai-blame's 2.0.75 `agentId`, git-ai's `subagents/` layout).

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use observatory_attribution::{History, RecordedWrite};
use observatory_store::{Catalog, Store};
use serde_json::{json, Value};

const PARENT: &str = "5c0375b4-57a5-4f26-b12d-d022ee4e51b7";
const ORIGINAL: &str = "1af7fc5e-8455-4414-9ccd-011d40f70b2a";
const RESUMED: &str = "fe5e1c67-53e7-4862-81ae-d0e013e3270b";
const CWD: &str = "/work/demo";
const TASK: &str = "Create models.py with a Todo class holding a title and a done flag.";

/// What every record carries, as Claude Code 2.0 writes it.
fn record(kind: &str, uuid: &str, parent: Option<&str>, session: &str, at: &str) -> Value {
    json!({
        "parentUuid": parent, "isSidechain": false, "userType": "external", "cwd": CWD,
        "sessionId": session, "version": "2.0.28", "gitBranch": "main", "type": kind,
        "uuid": uuid, "timestamp": at,
    })
}

fn set(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn prompt(uuid: &str, parent: Option<&str>, session: &str, at: &str, text: &str) -> Value {
    set(
        record("user", uuid, parent, session, at),
        "message",
        json!({"role": "user", "content": text}),
    )
}

fn assistant(
    uuid: &str,
    parent: &str,
    session: &str,
    at: &str,
    msg_id: &str,
    content: Value,
) -> Value {
    let v = set(
        record("assistant", uuid, Some(parent), session, at),
        "message",
        json!({"id": msg_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
               "content": content, "stop_reason": null, "stop_sequence": null,
               "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}),
    );
    set(v, "requestId", json!(format!("req_{msg_id}")))
}

fn tool_result(
    uuid: &str,
    parent: &str,
    session: &str,
    at: &str,
    tool_use_id: &str,
    text: &str,
    result: Value,
) -> Value {
    let v = set(
        record("user", uuid, Some(parent), session, at),
        "message",
        json!({"role": "user", "content": [{"tool_use_id": tool_use_id, "type": "tool_result", "content": text}]}),
    );
    set(v, "toolUseResult", result)
}

/// A Write that creates `path`, and its result.
fn write_call(
    ids: (&str, &str),
    parent: &str,
    session: &str,
    at: (&str, &str),
    tool_use_id: &str,
    path: &str,
    content: &str,
) -> [Value; 2] {
    [
        assistant(
            ids.0,
            parent,
            session,
            at.0,
            &format!("msg_{tool_use_id}"),
            json!([{"type": "tool_use", "id": tool_use_id, "name": "Write",
                    "input": {"file_path": path, "content": content}}]),
        ),
        tool_result(
            ids.1,
            ids.0,
            session,
            at.1,
            tool_use_id,
            &format!("File created successfully at: {path}"),
            json!({"type": "create", "filePath": path, "content": content, "structuredPatch": []}),
        ),
    ]
}

/// An Edit of `path` replacing `old` with `new`, and its result (`original` is the
/// file before it).
#[allow(clippy::too_many_arguments)]
fn edit_call(
    ids: (&str, &str),
    parent: &str,
    session: &str,
    at: (&str, &str),
    tool_use_id: &str,
    path: &str,
    (old, new, original): (&str, &str, &str),
) -> [Value; 2] {
    [
        assistant(
            ids.0,
            parent,
            session,
            at.0,
            &format!("msg_{tool_use_id}"),
            json!([{"type": "tool_use", "id": tool_use_id, "name": "Edit",
                    "input": {"file_path": path, "old_string": old, "new_string": new}}]),
        ),
        tool_result(
            ids.1,
            ids.0,
            session,
            at.1,
            tool_use_id,
            &format!("The file {path} has been updated."),
            json!({"filePath": path, "oldString": old, "newString": new, "originalFile": original,
                   "replaceAll": false, "userModified": false, "structuredPatch": []}),
        ),
    ]
}

fn write_jsonl(path: &Path, records: &[Value]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut text = String::new();
    for r in records {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("write transcript");
}

fn project_dir(cfg: &Path) -> PathBuf {
    cfg.join("projects/-work-demo")
}

const MODELS: &str = "class Todo:\n    title: str\n    done: bool\n";

/// The parent session: a prompt, a Task call launching the subagent, its result.
fn parent_session(agent_id: &str) -> Vec<Value> {
    vec![
        prompt(
            "p1",
            None,
            PARENT,
            "2025-09-07T09:52:00.000Z",
            "Add a todo model to the app",
        ),
        assistant(
            "p2",
            "p1",
            PARENT,
            "2025-09-07T09:52:22.326Z",
            "msg_parent_1",
            json!([{"type": "tool_use", "id": "toolu_task_1", "name": "Task",
                    "input": {"subagent_type": "general-purpose", "description": "Create data models", "prompt": TASK}}]),
        ),
        tool_result(
            "p3",
            "p2",
            PARENT,
            "2025-09-07T09:55:48.818Z",
            "toolu_task_1",
            "Created models.py with the Todo class.",
            json!({"status": "completed", "prompt": TASK, "agentId": agent_id,
                   "content": [{"type": "text", "text": "Created models.py with the Todo class."}],
                   "totalDurationMs": 200_000, "totalTokens": 1_234, "totalToolUseCount": 1}),
        ),
    ]
}

/// The subagent's own transcript (2.0.x): sidechain records naming the parent
/// session, with its agent id; its first "prompt" is the task it was given.
fn subagent_transcript(agent_id: &str) -> Vec<Value> {
    let sidechain = |v: Value| {
        let v = set(v, "isSidechain", json!(true));
        set(v, "agentId", json!(agent_id))
    };
    let mut out = vec![prompt("s1", None, PARENT, "2025-09-07T09:52:23.000Z", TASK)];
    out.extend(write_call(
        ("s2", "s3"),
        "s1",
        PARENT,
        ("2025-09-07T09:53:00.000Z", "2025-09-07T09:53:01.000Z"),
        "toolu_sub_write_1",
        "/work/demo/models.py",
        MODELS,
    ));
    out.into_iter().map(sidechain).collect()
}

fn models_writes(store: &Store) -> Vec<RecordedWrite> {
    store.writes_to_files_named("models.py").expect("history")
}

/// The subagent's Write, as the store reports it: the parent session's, named by the
/// Task's description, with the task as its prompt.
fn assert_credited_to_parent(store: &Store, parent_title: &str) {
    let writes = models_writes(store);
    assert_eq!(writes.len(), 1, "{writes:?}");
    let w = &writes[0];
    assert_eq!(w.tool_use_id, "toolu_sub_write_1");
    assert_eq!(w.session_id, PARENT, "the conversation the user had");
    assert_eq!(w.conversation_title, parent_title);
    assert_eq!(w.subagent.as_deref(), Some("Create data models"));
    assert_eq!(
        w.prompt.as_deref(),
        Some(TASK),
        "the task is the reason for the change"
    );

    let touches = store.file_touches("/work/demo/models.py").expect("touches");
    assert_eq!(touches.len(), 1);
    assert_eq!(touches[0].session_id, PARENT);
    let insights = store
        .file_insights("/work/demo/models.py")
        .expect("insights");
    assert_eq!(insights.conversations, 1);
}

fn index_in_order(files: &[&Path]) -> Store {
    let mut store = Store::open_in_memory().expect("store");
    for f in files {
        let report = store.index_path(f).expect("index");
        assert_eq!(report.warnings, 0, "{}", f.display());
    }
    store
}

#[test]
fn a_flat_agent_file_credits_the_session_that_launched_it() {
    let cfg = tempfile::tempdir().expect("tmp");
    let dir = project_dir(cfg.path());
    let session = dir.join(format!("{PARENT}.jsonl"));
    let agent = dir.join("agent-a1b2c3d.jsonl");
    write_jsonl(&session, &parent_session("a1b2c3d"));
    write_jsonl(&agent, &subagent_transcript("a1b2c3d"));

    for order in [[&session, &agent], [&agent, &session]] {
        let store = index_in_order(&order.map(PathBuf::as_path));
        assert_credited_to_parent(&store, "Add a todo model to the app");
    }
    // Before its session is indexed, the subagent's change names the session by id.
    let store = index_in_order(&[&agent]);
    let w = &models_writes(&store)[0];
    assert_eq!(
        (w.session_id.as_str(), w.conversation_title.as_str()),
        (PARENT, PARENT)
    );
    assert_eq!(w.subagent.as_deref(), Some(TASK), "the task names it");
    assert!(store.file_insights("/work/demo/models.py").is_ok());
}

#[test]
fn a_nested_subagents_file_credits_the_session_that_launched_it() {
    let cfg = tempfile::tempdir().expect("tmp");
    let dir = project_dir(cfg.path());
    let session = dir.join(format!("{PARENT}.jsonl"));
    let agent = dir.join(PARENT).join("subagents/agent-a1b2c3d.jsonl");
    write_jsonl(&session, &parent_session("a1b2c3d"));
    write_jsonl(&agent, &subagent_transcript("a1b2c3d"));

    let mut store = Store::open_in_memory().expect("store");
    store
        .index_roots(&[cfg.path().to_path_buf()], &mut |_| {})
        .expect("index");
    assert_credited_to_parent(&store, "Add a todo model to the app");
    // The subagent's transcript is still a conversation of its own, linked to its
    // session.
    let sub = store.conversation("agent-a1b2c3d").expect("subagent");
    assert_eq!(sub.kind, "subagent");
    assert_eq!(sub.parent_session.as_deref(), Some(PARENT));
}

#[test]
fn an_inline_sidechain_names_its_subagent() {
    // Claude Code 1.0.x wrote a subagent's records into the session's own file.
    let cfg = tempfile::tempdir().expect("tmp");
    let session = project_dir(cfg.path()).join(format!("{PARENT}.jsonl"));
    let mut records = parent_session("unused");
    let result = records.pop().expect("task result");
    records.extend(subagent_transcript("unused").into_iter().map(|mut v| {
        v.as_object_mut().expect("object").remove("agentId");
        v
    }));
    records.push(set(result, "parentUuid", json!("p2")));
    write_jsonl(&session, &records);

    let store = index_in_order(&[&session]);
    assert_credited_to_parent(&store, "Add a todo model to the app");
    // The session's own changes name no subagent.
    assert!(store
        .writes_to_files_named("models.py")
        .expect("history")
        .iter()
        .all(|w| w.session_id == PARENT));
}

const APP_V1: &str = "import os\n\ndef main():\n    print('hello')\n";
const APP_V2: &str = "import os\n\ndef main():\n    print('hello')\n    print('bye')\n";

/// The original conversation: a prompt, a Write of app.py, a closing text.
fn original(session_of_copy: &str) -> Vec<Value> {
    let mut out = vec![prompt(
        "o1",
        None,
        session_of_copy,
        "2025-10-01T10:00:00.000Z",
        "Create the app",
    )];
    out.extend(write_call(
        ("o2", "o3"),
        "o1",
        session_of_copy,
        ("2025-10-01T10:00:05.000Z", "2025-10-01T10:00:06.000Z"),
        "toolu_orig_write",
        "/work/demo/app.py",
        APP_V1,
    ));
    out.push(assistant(
        "o4",
        "o3",
        session_of_copy,
        "2025-10-01T10:00:10.000Z",
        "msg_orig_done",
        json!([{"type": "text", "text": "Created app.py."}]),
    ));
    out
}

/// The resumed conversation's file: the original's records repeated (each with the
/// session `copy_session(i)` gives it), then its own prompt and Edit.
fn resumed(copy_session: impl Fn(usize) -> &'static str) -> Vec<Value> {
    let mut out: Vec<Value> = original(ORIGINAL)
        .into_iter()
        .enumerate()
        .map(|(i, v)| set(v, "sessionId", json!(copy_session(i))))
        .collect();
    out.push(prompt(
        "r1",
        Some("o4"),
        RESUMED,
        "2025-10-02T09:00:00.000Z",
        "Say goodbye too",
    ));
    out.extend(edit_call(
        ("r2", "r3"),
        "r1",
        RESUMED,
        ("2025-10-02T09:00:05.000Z", "2025-10-02T09:00:06.000Z"),
        "toolu_resumed_edit",
        "/work/demo/app.py",
        (
            "    print('hello')\n",
            "    print('hello')\n    print('bye')\n",
            APP_V1,
        ),
    ));
    out
}

/// Both files indexed in both orders: every answer credits the original's Write to
/// the original and the resumed conversation's Edit to it.
fn assert_resume_credit(copy_session: impl Fn(usize) -> &'static str + Copy) {
    assert_resume_credit_with(copy_session, &[], 0);
}

/// `assert_resume_credit`, with `not_copied` records at the end of the original's file
/// that the resume did not copy, of which `messages` are its conversation's own.
fn assert_resume_credit_with(
    copy_session: impl Fn(usize) -> &'static str + Copy,
    not_copied: &[Value],
    messages: usize,
) {
    let cfg = tempfile::tempdir().expect("tmp");
    let dir = project_dir(cfg.path());
    let orig = dir.join(format!("{ORIGINAL}.jsonl"));
    let res = dir.join(format!("{RESUMED}.jsonl"));
    let mut original_file = original(ORIGINAL);
    original_file.extend_from_slice(not_copied);
    write_jsonl(&orig, &original_file);
    write_jsonl(&res, &resumed(copy_session));

    for (name, order) in [
        ("original first", [&orig, &res]),
        ("resumed first", [&res, &orig]),
    ] {
        let store = index_in_order(&order.map(PathBuf::as_path));
        let writes = store.writes_to_files_named("app.py").expect("history");
        let credit: Vec<(&str, &str, Option<&str>)> = writes
            .iter()
            .map(|w| {
                (
                    w.tool_use_id.as_str(),
                    w.session_id.as_str(),
                    w.prompt.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            credit,
            [
                ("toolu_orig_write", ORIGINAL, Some("Create the app")),
                ("toolu_resumed_edit", RESUMED, Some("Say goodbye too")),
            ],
            "{name}"
        );
        assert!(writes.iter().all(|w| w.subagent.is_none()), "{name}");

        // Line by line, through the attribution engine reading the store.
        let b = observatory_attribution::blame::blame(
            &store,
            Path::new("/work/demo/app.py"),
            Path::new(CWD),
            APP_V2,
            &[],
        )
        .expect("blame");
        let session_of =
            |line: usize| b.lines[line].map(|o| b.writes[o as usize].session_id.as_str());
        // Line 2 is blank: the engine's blank-line rule decides it, not the store.
        assert_eq!(
            [0, 2, 3, 4].map(session_of),
            [
                Some(ORIGINAL),
                Some(ORIGINAL),
                Some(ORIGINAL),
                Some(RESUMED)
            ],
            "{name}"
        );

        // The same file in another checkout of the project is matched by its path
        // relative to each call's project: the original conversation, whose file
        // holds only copies when the resumed one is indexed first, knows its project
        // from them.
        assert!(
            writes.iter().all(|w| w.cwd.as_deref() == Some(CWD)),
            "{name}"
        );
        let b = observatory_attribution::blame::blame(
            &store,
            Path::new("/home/me/demo/app.py"),
            Path::new("/home/me/demo"),
            APP_V2,
            &[],
        )
        .expect("blame");
        assert_eq!(
            [0, 2, 3, 4]
                .map(|line: usize| b.lines[line].map(|o| b.writes[o as usize].session_id.as_str())),
            [
                Some(ORIGINAL),
                Some(ORIGINAL),
                Some(ORIGINAL),
                Some(RESUMED)
            ],
            "{name}: from another checkout"
        );

        // Each conversation holds its own messages, prompt and tokens.
        let o = store.conversation(ORIGINAL).expect("original");
        assert_eq!(o.project.as_deref(), Some(CWD), "{name}");
        let r = store.conversation(RESUMED).expect("resumed");
        assert_eq!(
            (o.message_count, r.message_count),
            (4 + messages as u64, 3),
            "{name}"
        );
        assert_eq!(o.title, "Create the app", "{name}");
        assert_eq!(r.title, "Say goodbye too", "{name}");
        // Every response the helpers write used 5 output tokens.
        let own_tokens = 5 * (2 + messages as u64);
        assert_eq!(o.usage.output_tokens, own_tokens, "{name}");
        assert_eq!(r.usage.output_tokens, 5, "{name}");
        // Usage by conversation and by model reads the totals indexing keeps: they
        // follow the responses that the resumed file held first.
        let by = |group| {
            store
                .usage(group, &observatory_store::ConversationFilter::default())
                .expect("usage")
        };
        let by_conversation = by(observatory_store::UsageGroup::Conversation);
        let out = |key: &str| {
            by_conversation
                .iter()
                .find(|u| u.key == key)
                .map(|u| u.usage.output_tokens)
        };
        assert_eq!(
            (out(ORIGINAL), out(RESUMED)),
            (Some(own_tokens), Some(5)),
            "{name}"
        );
        let by_model = by(observatory_store::UsageGroup::Model);
        assert_eq!(
            by_model.iter().map(|u| u.usage.output_tokens).sum::<u64>(),
            own_tokens + 5,
            "{name}"
        );
        assert_eq!(r.continues.as_deref(), Some(ORIGINAL), "{name}");
        assert_eq!(o.continues, None, "{name}");
        assert_eq!(
            r.started_at.map(|t| t.to_rfc3339()),
            Some("2025-10-02T09:00:00+00:00".to_owned()),
            "{name}"
        );
        let files = store.conversation_files(r.id).expect("files");
        assert_eq!(
            files.len(),
            1,
            "{name}: the resumed conversation edited app.py"
        );
    }
}

#[test]
fn resume_copies_keeping_the_original_session_stay_with_it() {
    assert_resume_credit(|_| ORIGINAL);
}

#[test]
fn resume_copies_restamped_with_the_new_session_stay_with_the_original() {
    assert_resume_credit(|_| RESUMED);
}

#[test]
fn resume_copies_partly_restamped_stay_with_the_original() {
    assert_resume_credit(|i| if i % 2 == 0 { RESUMED } else { ORIGINAL });
}

#[test]
fn a_subagent_record_after_the_resume_leaves_the_copies_with_the_original() {
    // Claude Code 1.0.x wrote a subagent's records into the session's file, and
    // `--resume` copies the main thread only: the original's file may end with a
    // subagent's record later than anything the resumed file holds.
    let late = set(
        assistant(
            "o5",
            "o4",
            ORIGINAL,
            "2025-10-03T08:00:00.000Z",
            "msg_orig_subagent",
            json!([{"type": "text", "text": "All done."}]),
        ),
        "isSidechain",
        json!(true),
    );
    assert_resume_credit_with(|_| RESUMED, &[late], 1);
}

#[test]
fn a_resumed_file_read_again_changes_nothing() {
    let cfg = tempfile::tempdir().expect("tmp");
    let dir = project_dir(cfg.path());
    let orig = dir.join(format!("{ORIGINAL}.jsonl"));
    let res = dir.join(format!("{RESUMED}.jsonl"));
    write_jsonl(&orig, &original(ORIGINAL));
    write_jsonl(&res, &resumed(|_| RESUMED));
    let mut store = index_in_order(&[&res, &orig]);
    let before = store.writes_to_files_named("app.py").expect("history");
    // The resumed conversation goes on: its file grows, and is read again.
    let mut more = resumed(|_| RESUMED);
    more.push(assistant(
        "r4",
        "r3",
        RESUMED,
        "2025-10-02T09:01:00.000Z",
        "msg_resumed_done",
        json!([{"type": "text", "text": "Done."}]),
    ));
    write_jsonl(&res, &more);
    store.index_path(&res).expect("index");
    let after = store.writes_to_files_named("app.py").expect("history");
    let sessions =
        |ws: &[RecordedWrite]| ws.iter().map(|w| w.session_id.clone()).collect::<Vec<_>>();
    assert_eq!(sessions(&before), [ORIGINAL, RESUMED]);
    assert_eq!(sessions(&after), sessions(&before));
}

#[test]
fn a_call_answered_in_a_later_append_records_its_change_then() {
    let cfg = tempfile::tempdir().expect("tmp");
    let session = project_dir(cfg.path()).join(format!("{PARENT}.jsonl"));
    let [call, result] = write_call(
        ("w2", "w3"),
        "w1",
        PARENT,
        ("2025-09-07T09:53:00.000Z", "2025-09-07T09:53:01.000Z"),
        "toolu_later_1",
        "/work/demo/models.py",
        MODELS,
    );
    let first = prompt(
        "w1",
        None,
        PARENT,
        "2025-09-07T09:52:00.000Z",
        "Add a todo model",
    );
    // The agent is waiting on the tool: the call is on disk, its result is not.
    write_jsonl(&session, &[first.clone(), call.clone()]);
    let mut store = index_in_order(&[&session]);
    assert!(
        models_writes(&store).is_empty(),
        "no change before the result"
    );
    let touches = store.file_touches("/work/demo/models.py").expect("touches");
    assert_eq!(touches.len(), 1, "the call is stored as it is made");
    assert_eq!(touches[0].failed, None);

    write_jsonl(&session, &[first, call, result]);
    store.index_path(&session).expect("index the append");
    let writes = models_writes(&store);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].tool_use_id, "toolu_later_1");
    let touches = store.file_touches("/work/demo/models.py").expect("touches");
    assert_eq!(touches.len(), 1);
    assert_eq!(touches[0].failed, Some(false));
}

#[test]
fn calls_answered_out_of_order_in_one_append_keep_the_order_they_were_made() {
    let cfg = tempfile::tempdir().expect("tmp");
    let session = project_dir(cfg.path()).join(format!("{PARENT}.jsonl"));
    let [call_a, result_a] = write_call(
        ("a2", "a3"),
        "a1",
        PARENT,
        ("2025-09-07T09:53:00.000Z", "2025-09-07T09:53:03.000Z"),
        "toolu_order_a",
        "/work/demo/a.py",
        "A = 1\n",
    );
    let [call_b, result_b] = write_call(
        ("b2", "b3"),
        "a2",
        PARENT,
        ("2025-09-07T09:53:01.000Z", "2025-09-07T09:53:02.000Z"),
        "toolu_order_b",
        "/work/demo/b.py",
        "B = 2\n",
    );
    let first = prompt(
        "a1",
        None,
        PARENT,
        "2025-09-07T09:52:00.000Z",
        "Add two modules",
    );
    // Two parallel calls; the second one's result comes first.
    write_jsonl(&session, &[first, call_a, call_b, result_b, result_a]);
    let db = cfg.path().join("observatory.db");
    let mut store = Store::open(&db).expect("store");
    store.index_path(&session).expect("index");
    let a = store.writes_to_files_named("a.py").expect("history");
    let b = store.writes_to_files_named("b.py").expect("history");
    assert_eq!((a.len(), b.len()), (1, 1), "both results recorded");
    drop(store);
    // Rows are numbered in the order the calls were made, whatever order their
    // results came in: a file's history orders changes of the same time by it.
    let conn = rusqlite::Connection::open(&db).expect("db");
    let order: Vec<String> = conn
        .prepare("SELECT tool_use_id FROM tool_calls ORDER BY id")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    assert_eq!(order, ["toolu_order_a", "toolu_order_b"]);
}
