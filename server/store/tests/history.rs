//! A file's recorded history, from the file-name index and through the shared cache
//! of decoded changes: the same answer as without the cache, and new calls appear.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use observatory_attribution::History;
use observatory_store::{Catalog, Store, WritesCache};

const SESSION: &str = "ai-blame/tests/examples/simple-home/.claude/projects/-Users-cjm-repos-ai-blame.rs-tests-examples-simple/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl";

fn ids(store: &Store, name: &str) -> Vec<String> {
    store
        .writes_to_files_named(name)
        .expect("history")
        .into_iter()
        .map(|w| w.tool_use_id)
        .collect()
}

/// A record of the fixture session, of `kind`, written by Claude Code `version`.
fn record(uuid: &str, kind: &str, version: &str, at: &str) -> serde_json::Value {
    serde_json::json!({"parentUuid": null, "isSidechain": false, "userType": "external",
        "cwd": "/Users/cjm/repos/ai-blame-test", "sessionId": "2c965cfd-41e4-4e31-8339-2986ebced03c",
        "version": version, "type": kind, "uuid": uuid, "timestamp": at})
}

/// The fixture session with `records` appended, indexed into a new store.
fn indexed_with(records: &[serde_json::Value]) -> Store {
    let cfg = common::config_dir_with(&[SESSION]);
    let file = cfg
        .path()
        .join("projects/-fixture")
        .join(SESSION.rsplit('/').next().unwrap_or_default());
    let mut text = std::fs::read_to_string(&file).expect("read");
    for r in records {
        text.push_str(&format!("{r}\n"));
    }
    std::fs::write(&file, text).expect("append");
    let mut store = Store::open_in_memory().expect("store");
    store
        .index_roots(&[cfg.path().to_path_buf()], &mut |_| {})
        .expect("index");
    store
}

#[test]
fn cached_history_matches_and_follows_new_calls() {
    let cfg = common::config_dir_with(&[SESSION]);
    let roots = [cfg.path().to_path_buf()];
    let db = tempfile::tempdir().expect("tmp");
    let path = db.path().join("observatory.db");
    let mut indexer = Store::open(&path).expect("store");
    indexer.index_roots(&roots, &mut |_| {}).expect("index");

    let cache = Arc::new(WritesCache::default());
    let cached = Store::open(&path)
        .expect("store")
        .with_writes_cache(Arc::clone(&cache));
    let other = Store::open(&path)
        .expect("store")
        .with_writes_cache(Arc::clone(&cache));
    let plain = Store::open(&path).expect("store");

    assert_eq!(cache.bytes(), 0);
    let first = ids(&cached, "example.py");
    let held = cache.bytes();
    assert!(held > 0, "the cache accounts for what it holds");
    assert_eq!(
        first.len(),
        2,
        "a Write, then an Edit of example.py: {first:?}"
    );
    assert_eq!(first, ids(&plain, "example.py"));
    // Another connection sharing the cache answers the same.
    assert_eq!(first, ids(&other, "example.py"));
    let writes = cached.writes_to_files_named("example.py").expect("history");
    assert_eq!(writes[0].tool, "Write");
    // The assistant's stated reason is the text it wrote before the call, since the
    // prompt; the Edit came after a run of Reads with no text in between.
    assert_eq!(
        writes[0].reason.as_deref(),
        Some("I'll create four simple test files for you.")
    );
    assert_eq!(writes[1].tool, "Edit");
    assert_eq!(writes[1].reason, None);

    // A new Edit of the file arrives: the cached history has it, last.
    let file = cfg
        .path()
        .join("projects/-fixture")
        .join(SESSION.rsplit('/').next().unwrap_or_default());
    let line = serde_json::json!({
        "parentUuid": null, "isSidechain": false, "userType": "external",
        "cwd": "/Users/cjm/repos/ai-blame-test", "sessionId": "2c965cfd-41e4-4e31-8339-2986ebced03c",
        "version": "2.0.75", "type": "assistant", "uuid": "9b1d4f00-0000-4000-8000-000000000001",
        "timestamp": "2026-01-02T10:00:00.000Z", "requestId": "req_history_1",
        "message": {"id": "msg_history_1", "type": "message", "role": "assistant", "model": "claude-opus-4-5-20251101",
            "content": [{"type": "tool_use", "id": "toolu_history_1", "name": "Edit",
                "input": {"file_path": "/Users/cjm/repos/ai-blame-test/example.py", "old_string": "World", "new_string": "Earth"}}],
            "usage": {"input_tokens": 1, "output_tokens": 1}}
    });
    let result = serde_json::json!({
        "parentUuid": "9b1d4f00-0000-4000-8000-000000000001", "isSidechain": false, "userType": "external",
        "cwd": "/Users/cjm/repos/ai-blame-test", "sessionId": "2c965cfd-41e4-4e31-8339-2986ebced03c",
        "version": "2.0.75", "type": "user", "uuid": "9b1d4f00-0000-4000-8000-000000000002",
        "timestamp": "2026-01-02T10:00:01.000Z",
        "message": {"role": "user", "content": [{"tool_use_id": "toolu_history_1", "type": "tool_result", "content": "updated"}]},
        "toolUseResult": {"filePath": "/Users/cjm/repos/ai-blame-test/example.py", "oldString": "World", "newString": "Earth",
            "structuredPatch": [{"oldStart": 16, "oldLines": 1, "newStart": 16, "newLines": 1,
                "lines": ["-    print(greet(\"World\"))", "+    print(greet(\"Earth\"))"]}], "userModified": false, "replaceAll": false}
    });
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str(&format!("{line}\n{result}\n"));
    std::fs::write(&file, text).expect("append");
    indexer
        .index_roots(&roots, &mut |_| {})
        .expect("index again");

    let second = ids(&cached, "example.py");
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(second[..2], first[..]);
    assert_eq!(second[2], "toolu_history_1");
    assert_eq!(second, ids(&plain, "example.py"));
    assert!(
        cache.bytes() > held,
        "the new call is held too, and counted once"
    );
    ids(&cached, "example.py");
    assert!(cache.bytes() < 2 * held + 4096);
    // Names are exact: no other file's history.
    assert!(ids(&cached, "ample.py").is_empty());
}

/// Old versions record a Read's answer as numbered text only; it is kept as a
/// snapshot of the file (the only record of its content), and counted as no edit.
#[test]
fn old_version_reads_are_snapshots_in_the_history() {
    let at = "2026-01-03T10:00:00.000Z";
    let mut call = record(
        "9b1d4f00-0000-4000-8000-000000000011",
        "assistant",
        "0.2.125",
        at,
    );
    call["message"] = serde_json::json!({"id": "msg_read_1", "type": "message", "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_read_1", "name": "Read",
            "input": {"file_path": "/Users/cjm/repos/ai-blame-test/example.py"}}]});
    let mut result = record(
        "9b1d4f00-0000-4000-8000-000000000012",
        "user",
        "0.2.125",
        at,
    );
    let numbered = "     1\t\"\"\"Simple example module for testing.\"\"\"\n     2\t\n     3\tdef greet(name): ...";
    result["message"] = serde_json::json!({"role": "user", "content": [{"tool_use_id": "toolu_read_1",
        "type": "tool_result", "content": numbered}]});
    let store = indexed_with(&[call, result]);

    let writes = store.writes_to_files_named("example.py").expect("history");
    let tools: Vec<&str> = writes.iter().map(|w| w.tool.as_str()).collect();
    // The session's own (structured, newer) Read of example.py is not a snapshot.
    assert_eq!(tools, vec!["Write", "Edit", "Read"]);
    assert_eq!(
        writes[2].change.content.as_deref(),
        Some("\"\"\"Simple example module for testing.\"\"\"\n\ndef greet(name): ...\n")
    );
    let insights = store.file_insights("example.py").expect("insights");
    assert_eq!(insights.edits, 2, "a Read is no edit");
}

/// A shell move of one file (`mv`, run by Bash) is a call of the file's history under
/// its new name, resolved against the conversation's working directory; the old
/// name's history keeps its own calls.
#[test]
fn a_shell_move_is_in_the_new_names_history() {
    let at = "2026-01-04T10:00:00.000Z";
    let mut call = record(
        "9b1d4f00-0000-4000-8000-000000000021",
        "assistant",
        "2.0.75",
        at,
    );
    call["message"] = serde_json::json!({"id": "msg_mv_1", "type": "message", "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_mv_1", "name": "Bash",
            "input": {"command": "mv example.py greeting.py", "description": "Rename the module"}}]});
    let mut result = record("9b1d4f00-0000-4000-8000-000000000022", "user", "2.0.75", at);
    result["message"] = serde_json::json!({"role": "user", "content": [{"tool_use_id": "toolu_mv_1",
        "type": "tool_result", "content": "", "is_error": false}]});
    let store = indexed_with(&[call, result]);

    let moved = store.writes_to_files_named("greeting.py").expect("history");
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].tool, "Bash");
    assert_eq!(moved[0].tool_use_id, "toolu_mv_1");
    assert_eq!(moved[0].path, "/Users/cjm/repos/ai-blame-test/greeting.py");
    assert_eq!(ids(&store, "example.py").len(), 2, "a Write and an Edit");
}

#[test]
fn a_file_a_person_moved_keeps_the_calls_that_wrote_it() {
    // The fixture's example.py, moved by hand to src/greeting.py in a checkout named
    // like the one the session ran in (`ai-blame-test`): no record says so, and git
    // blame would follow the move.
    let store = indexed_with(&[]);
    let tmp = tempfile::tempdir().expect("tmp");
    let content =
        std::fs::read_to_string(common::fixture("ai-blame/tests/examples/simple/example.py"))
            .expect("read");
    let calls = |root: &std::path::Path, rel: &str| -> Vec<Option<String>> {
        let b = observatory_attribution::blame::blame(&store, &root.join(rel), root, &content, &[])
            .expect("blame");
        b.lines
            .iter()
            .map(|o| o.map(|o| b.writes[o as usize].tool_use_id.clone()))
            .collect()
    };
    // The project's files, as the checkout has them, with example.py moved.
    let root = tmp.path().join("ai-blame-test");
    let workspace = common::fixture("ai-blame/tests/examples/simple");
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    for f in std::fs::read_dir(&workspace).expect("workspace") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, root.join(f.file_name().expect("name"))).expect("copy");
    }
    let moved_to = root.join("src/greeting.py");
    std::fs::rename(root.join("example.py"), &moved_to).expect("move");

    let at_home = calls(&root, "example.py");
    assert!(
        at_home.iter().filter(|c| c.is_some()).count() >= 10,
        "{at_home:?}"
    );
    assert_eq!(calls(&root, "src/greeting.py"), at_home);
    // Not in a checkout of another name, and not while the old path is still there.
    assert!(calls(&tmp.path().join("elsewhere"), "src/greeting.py")
        .iter()
        .all(Option::is_none));
    std::fs::write(root.join("example.py"), &content).expect("write");
    assert!(calls(&root, "src/greeting.py").iter().all(Option::is_none));
}
