//! The event log: every change, once, in order, resumable.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use observatory_store::events::kind;
use observatory_store::{Catalog, EventQuery, Store};

fn all(store: &Store, after: i64) -> Vec<observatory_store::Event> {
    store
        .events(&EventQuery {
            after,
            limit: 10_000,
            ..Default::default()
        })
        .expect("events")
}

#[test]
fn indexing_logs_each_change_once_in_order() {
    let cfg = common::config_dir_with(&["ai-blame/tests/examples/simple-home/.claude/projects/-Users-cjm-repos-ai-blame.rs-tests-examples-simple/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl"]);
    let roots = [cfg.path().to_path_buf()];
    let mut store = Store::open_in_memory().expect("store");
    store.index_roots(&roots, &mut |_| {}).expect("index");
    let events = all(&store, 0);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(events[0].kind, kind::CONVERSATION_STARTED);
    assert_eq!(
        events[0].session_id.as_deref(),
        Some("2c965cfd-41e4-4e31-8339-2986ebced03c")
    );
    let count = |k: &str| events.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(kind::CONVERSATION_STARTED), 1);
    assert_eq!(
        count(kind::ATTRIBUTION_CHANGED),
        15,
        "one per successful edit"
    );
    assert_eq!(count(kind::FILE_TOUCHED), 25);
    // The tool calls' events (written several rows a statement) come in the order of
    // the results in the transcript.
    let transcript = std::fs::read_to_string(
        cfg.path()
            .join("projects/-fixture/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl"),
    )
    .expect("transcript");
    let touched: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == kind::FILE_TOUCHED)
        .filter_map(|e| e.data["tool_use_id"].as_str())
        .collect();
    let results: Vec<String> = transcript
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| r["message"]["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .filter_map(|b| b["tool_use_id"].as_str().map(str::to_owned))
        .filter(|id| touched.contains(&id.as_str()))
        .collect();
    assert_eq!(touched, results);
    let appended: i64 = events
        .iter()
        .filter(|e| e.kind == kind::MESSAGES_APPENDED)
        .filter_map(|e| e.data["count"].as_i64())
        .sum();
    assert_eq!(appended, 67);
    assert!(events
        .iter()
        .any(|e| e.kind == kind::USAGE_UPDATED && e.data["output_tokens"] == 1686));
    assert!(events
        .iter()
        .all(|e| e.project.as_deref() == Some("/Users/cjm/repos/ai-blame-test")));

    // Nothing new, nothing logged.
    let last = store.last_event_id().expect("last");
    store.index_roots(&roots, &mut |_| {}).expect("index");
    assert_eq!(store.last_event_id().expect("last"), last);

    // Filters and resuming.
    let q = EventQuery {
        path_prefix: Some("/Users/cjm/repos/ai-blame-test/example".into()),
        kinds: vec![kind::ATTRIBUTION_CHANGED.into()],
        limit: 100,
        ..Default::default()
    };
    let example = store.events(&q).expect("events");
    assert_eq!(example.len(), 2, "Write and Edit of example.py");
    let rest = store
        .events(&EventQuery {
            after: example[0].id,
            ..q.clone()
        })
        .expect("events");
    assert_eq!(rest, example[1..].to_vec());
}

#[test]
fn appended_lines_log_new_events_after_the_last_seen() {
    let cfg = common::config_dir_with(&["git-ai/tests/fixtures/claude-code-with-thinking.jsonl"]);
    let path = cfg
        .path()
        .join("projects/-fixture/claude-code-with-thinking.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..5].join("\n") + "\n").expect("write");
    let mut store = Store::open_in_memory().expect("store");
    store.index_path(&path).expect("index");
    let seen = store.last_event_id().expect("last");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    store.index_path(&path).expect("index");
    let new = all(&store, seen);
    assert!(!new.is_empty());
    assert!(new
        .iter()
        .all(|e| e.id > seen && e.kind != kind::CONVERSATION_STARTED));
    let appended: i64 = new
        .iter()
        .filter(|e| e.kind == kind::MESSAGES_APPENDED)
        .filter_map(|e| e.data["count"].as_i64())
        .sum();
    let messages = lines[5..]
        .iter()
        .filter(|l| {
            matches!(
                observatory_transcript::parse_line(l.as_bytes()),
                Ok(observatory_transcript::Record::Message(_))
            )
        })
        .count();
    assert_eq!(appended as usize, messages);
}
