//! Bad input gets a clear warning and loses nothing: corrupt, truncated, empty, binary,
//! half-written, replaced and deleted files, appends racing the indexer.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use observatory_store::{Catalog, SearchQuery, Store, Writer};

fn user_line(uuid: &str, parent: Option<&str>, text: &str) -> String {
    let parent = parent.map_or("null".to_owned(), |p| format!("\"{p}\""));
    format!(
        r#"{{"parentUuid":{parent},"isSidechain":false,"userType":"external","cwd":"/w/proj","sessionId":"11111111-2222-3333-4444-555555555555","version":"2.0.75","type":"user","message":{{"role":"user","content":"{text}"}},"uuid":"{uuid}","timestamp":"2025-11-01T10:00:00.000Z"}}"#
    ) + "\n"
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(bytes).expect("append");
}

fn session_path(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("projects/-w-proj");
    std::fs::create_dir_all(&p).expect("mkdir");
    p.join("11111111-2222-3333-4444-555555555555.jsonl")
}

#[test]
fn half_written_line_is_held_back_until_complete() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    let second = user_line("u2", Some("u1"), "second prompt");
    let (head, tail) = second.split_at(40);
    append(&path, user_line("u1", None, "first prompt").as_bytes());
    append(&path, head.as_bytes());
    let mut store = Store::open_in_memory().expect("store");
    let r = store.index_path(&path).expect("index");
    assert_eq!(
        (r.new_messages, r.warnings),
        (1, 0),
        "the half line is neither indexed nor a warning"
    );
    append(&path, tail.as_bytes());
    let r = store.index_path(&path).expect("index");
    assert_eq!((r.new_messages, r.warnings), (1, 0));
    assert!(store.has_message("u2").expect("query"));
    assert_eq!(store.counts().expect("counts").messages, 2);
}

#[test]
fn last_line_without_newline_is_indexed_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    let line = user_line("u1", None, "no newline at the end");
    append(&path, line.trim_end().as_bytes());
    let mut store = Store::open_in_memory().expect("store");
    assert_eq!(store.index_path(&path).expect("index").new_messages, 1);
    append(&path, b"\n");
    append(&path, user_line("u2", Some("u1"), "next").as_bytes());
    let r = store.index_path(&path).expect("index");
    assert_eq!((r.new_messages, r.warnings), (1, 0));
    assert_eq!(store.counts().expect("counts").messages, 2);
}

#[test]
fn corrupt_binary_and_empty_inputs_warn_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    append(&path, user_line("u1", None, "good one").as_bytes());
    append(&path, b"\x00\x01\x02\xff\xfe garbage\n");
    append(
        &path,
        b"{\"type\":\"user\",\"message\":{\"content\":\"cut off\n",
    );
    append(
        &path,
        "{\"type\":\"user\",\"uuid\":\"u3\",\"message\":{\"content\":\"caf\u{e9} \u{1f389}\"}}\n"
            .as_bytes(),
    );
    append(&path, b"{\"type\":\"some-future-record\",\"x\":1}\n");
    append(&path, user_line("u4", Some("u3"), "still fine").as_bytes());
    let empty = path.with_file_name("empty.jsonl");
    std::fs::write(&empty, b"").expect("write");
    let binary = path.with_file_name("binary.jsonl");
    std::fs::write(
        &binary,
        (0..=255u8).cycle().take(100_000).collect::<Vec<_>>(),
    )
    .expect("write");

    let mut store = Store::open_in_memory().expect("store");
    let report = store
        .index_roots(&[dir.path().to_path_buf()], &mut |_| {})
        .expect("index never fails on bad input");
    assert_eq!(store.counts().expect("counts").messages, 3);
    let warnings = store.warnings(1000).expect("warnings");
    let main: Vec<_> = warnings
        .iter()
        .filter(|w| w.0.ends_with("5555.jsonl"))
        .collect();
    assert_eq!(
        main.iter().map(|w| w.1).collect::<Vec<_>>(),
        vec![2, 3, 5],
        "{main:#?}"
    );
    assert!(main[0].2.contains("invalid JSON"));
    assert!(main[2]
        .2
        .contains("unknown record type \"some-future-record\""));
    assert!(warnings.iter().any(|w| w.0.ends_with("binary.jsonl")));
    assert!(report.warnings >= 4);
    let hits = store
        .search(&SearchQuery::new("café"))
        .expect("search")
        .hits;
    assert_eq!(hits.len(), 1);
}

#[test]
fn oversized_lines_are_skipped_and_later_lines_still_indexed() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    let big = "x".repeat(3_000_000);
    append(&path, user_line("u1", None, &big).as_bytes());
    append(
        &path,
        user_line("u2", Some("u1"), "after the big one").as_bytes(),
    );
    let mut store = Store::open_in_memory().expect("store");
    store.set_max_line(1_000_000);
    let r = store.index_path(&path).expect("index");
    assert_eq!((r.new_messages, r.warnings), (1, 1));
    assert!(store.warnings(1).expect("w")[0]
        .2
        .contains("exceeds the limit"));

    // Within the limit, a multi-megabyte line is indexed like any other.
    let mut store = Store::open_in_memory().expect("store");
    assert_eq!(store.index_path(&path).expect("index").new_messages, 2);
}

#[test]
fn rerun_does_no_work_and_doubles_nothing() {
    let cfg = common::config_dir_with(&["sniffly/tests/mock-data/-Users-chip-dev-ai-music/d3ad4cdc-5657-435d-98fa-0035d53e383d.jsonl"]);
    let mut store = Store::open_in_memory().expect("store");
    let roots = [cfg.path().to_path_buf()];
    let first = store.index_roots(&roots, &mut |_| {}).expect("index");
    let counts = store.counts().expect("counts");
    let second = store.index_roots(&roots, &mut |_| {}).expect("index");
    assert!(first.bytes_read > 800_000);
    assert_eq!(
        (second.bytes_read, second.files_changed, second.new_messages),
        (0, 0, 0)
    );
    assert_eq!(store.counts().expect("counts"), counts);
}

#[test]
fn replaced_and_truncated_files_keep_what_was_indexed() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    append(&path, user_line("u1", None, "original alpha").as_bytes());
    append(
        &path,
        user_line("u2", Some("u1"), "original beta").as_bytes(),
    );
    let mut store = Store::open_in_memory().expect("store");
    store.index_path(&path).expect("index");
    // Replaced by shorter, different content.
    std::fs::write(&path, user_line("u9", None, "replacement gamma")).expect("write");
    let r = store.index_path(&path).expect("index");
    assert!(r.reset.is_some(), "the replacement is noticed");
    assert_eq!(r.new_messages, 1);
    for (uuid, word) in [("u1", "alpha"), ("u2", "beta"), ("u9", "gamma")] {
        assert!(store.has_message(uuid).expect("q"), "{uuid} kept");
        assert_eq!(
            store
                .search(&SearchQuery::new(word))
                .expect("search")
                .hits
                .len(),
            1,
            "{word}"
        );
    }
}

#[test]
fn deleted_transcripts_stay_searchable_and_showable() {
    let cfg = common::config_dir_with(&["git-ai/tests/fixtures/example-claude-code.jsonl"]);
    let mut store = Store::open_in_memory().expect("store");
    let roots = [cfg.path().to_path_buf()];
    store.index_roots(&roots, &mut |_| {}).expect("index");
    std::fs::remove_file(
        cfg.path()
            .join("projects/-fixture/example-claude-code.jsonl"),
    )
    .expect("rm");
    let r = store.index_roots(&roots, &mut |_| {}).expect("index");
    assert_eq!(r.files, 0);
    let conv = store.conversation("cb947e5b").expect("still there");
    assert_eq!(conv.message_count, 38);
    assert!(store.conversation_records(conv.id).expect("records").len() >= 38);
    assert!(!store
        .search(&SearchQuery::new("green yellow"))
        .expect("search")
        .hits
        .is_empty());
}

#[test]
fn appends_racing_the_indexer_are_all_indexed_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    append(&path, user_line("r0", None, "start").as_bytes());
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        for i in 1..=400 {
            let line = user_line(
                &format!("r{i}"),
                Some(&format!("r{}", i - 1)),
                &format!("prompt number {i}"),
            );
            // Write each line in two pieces so the indexer sees half-written lines.
            let (a, b) = line.split_at(line.len() / 2);
            append(&writer_path, a.as_bytes());
            append(&writer_path, b.as_bytes());
        }
    });
    let mut store = Store::open_in_memory().expect("store");
    while !writer.is_finished() {
        store.index_path(&path).expect("index");
    }
    writer.join().expect("writer");
    store.index_path(&path).expect("final index");
    let counts = store.counts().expect("counts");
    assert_eq!(counts.messages, 401);
    assert_eq!(counts.warnings, 0);
}

#[test]
fn deleting_a_conversation_removes_it_everywhere() {
    let cfg = common::config_dir_with(&[
        "git-ai/tests/fixtures/example-claude-code.jsonl",
        "git-ai/tests/fixtures/claude-code-with-thinking.jsonl",
    ]);
    let mut store = Store::open_in_memory().expect("store");
    store
        .index_roots(&[cfg.path().to_path_buf()], &mut |_| {})
        .expect("index");
    let before = store.counts().expect("counts");
    assert!(!store
        .search(&SearchQuery::new("green yellow"))
        .expect("search")
        .hits
        .is_empty());
    let gone = store.delete_conversation("cb947e5b").expect("delete");
    assert_eq!(gone.message_count, 38);
    assert!(matches!(
        store.conversation("cb947e5b"),
        Err(observatory_store::Error::NotFound(_))
    ));
    assert!(
        store
            .search(&SearchQuery::new("green yellow"))
            .expect("search")
            .hits
            .is_empty(),
        "gone from the index"
    );
    assert!(store
        .file_touches("globals.css")
        .expect("touches")
        .is_empty());
    let after = store.counts().expect("counts");
    assert_eq!(after.conversations, before.conversations - 1);
    assert_eq!(after.messages, before.messages - 38);
    // The other conversation is intact, and an unchanged file is not indexed again.
    assert!(store.conversation("dac34307").is_ok());
    store
        .index_roots(&[cfg.path().to_path_buf()], &mut |_| {})
        .expect("index");
    assert!(matches!(
        store.conversation("cb947e5b"),
        Err(observatory_store::Error::NotFound(_))
    ));
}

/// Token counts near `u64::MAX` (a damaged line) neither overflow SQLite's sums nor
/// the totals: usage queries answer, with each response counted at a cap.
#[test]
fn absurd_token_counts_do_not_overflow_the_sums() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    append(&path, user_line("u1", None, "count these").as_bytes());
    for (i, n) in [u64::MAX, u64::MAX - 1, 9_223_372_036_854_775_807]
        .iter()
        .enumerate()
    {
        let line = format!(
            r#"{{"parentUuid":"u1","isSidechain":false,"userType":"external","cwd":"/w/proj","sessionId":"11111111-2222-3333-4444-555555555555","version":"2.0.75","type":"assistant","requestId":"req_{i}","message":{{"id":"msg_{i}","type":"message","role":"assistant","model":"claude-opus-4-5-20251101","content":[{{"type":"text","text":"ok"}}],"usage":{{"input_tokens":{n},"output_tokens":{n},"cache_creation_input_tokens":{n},"cache_read_input_tokens":{n}}}}},"uuid":"a{i}","timestamp":"2025-11-01T10:00:0{i}.000Z"}}"#
        ) + "\n";
        append(&path, line.as_bytes());
    }
    let mut store = Store::open_in_memory().expect("store");
    store.index_path(&path).expect("index");
    let filter = observatory_store::ConversationFilter::default();
    for group in [
        observatory_store::UsageGroup::Model,
        observatory_store::UsageGroup::Conversation,
        observatory_store::UsageGroup::Day,
    ] {
        let rows = store.usage(group, &filter).expect("usage answers");
        assert_eq!(rows.len(), 1);
        let per_kind = 3 * (1u64 << 40);
        assert_eq!(rows[0].usage.output_tokens, per_kind, "{group:?}");
        assert_eq!(rows[0].total_tokens, 4 * per_kind);
    }
    let convs = store.conversations(&filter).expect("conversations");
    assert_eq!(convs[0].usage.total(), 4 * 3 * (1u64 << 40));
}

#[test]
fn a_run_reads_the_newest_transcripts_first_and_skips_unchanged_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let project = dir.path().join("projects/-w-proj");
    std::fs::create_dir_all(&project).expect("mkdir");
    let session = |id: &str, uuid: &str, age_days: u64| {
        let path = project.join(format!("{id}.jsonl"));
        let line =
            user_line(uuid, None, "a prompt").replace("11111111-2222-3333-4444-555555555555", id);
        append(&path, line.as_bytes());
        let at = std::time::SystemTime::now() - std::time::Duration::from_secs(age_days * 86_400);
        let f = OpenOptions::new().append(true).open(&path).expect("open");
        f.set_modified(at).expect("set mtime");
        path
    };
    // Neither creation order nor name order is newest first.
    let oldest = session("bbbbbbbb-0000-0000-0000-000000000003", "o1", 300);
    let middle = session("aaaaaaaa-0000-0000-0000-000000000002", "m1", 20);
    let newest = session("cccccccc-0000-0000-0000-000000000001", "n1", 1);
    let mut store = Store::open_in_memory().expect("store");
    let roots = [dir.path().to_path_buf()];
    store.index_roots(&roots, &mut |_| {}).expect("index");
    let id = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        started_order(&store),
        [id(&newest), id(&middle), id(&oldest)]
    );

    let again = store.index_roots(&roots, &mut |_| {}).expect("index");
    assert_eq!(
        (again.files, again.files_changed, again.bytes_read),
        (3, 0, 0)
    );
    let more = user_line("o2", Some("o1"), "later")
        .replace("11111111-2222-3333-4444-555555555555", &id(&oldest));
    append(&oldest, more.as_bytes());
    let after = store.index_roots(&roots, &mut |_| {}).expect("index");
    assert_eq!(
        (after.files_changed, after.bytes_read, after.new_messages),
        (1, more.len() as u64, 1),
        "only the appended bytes are read"
    );
}

/// The conversations a store started, in the order their first lines were written.
fn started_order(store: &Store) -> Vec<String> {
    store
        .events(&observatory_store::EventQuery {
            kinds: vec!["conversation.started".into()],
            limit: 1000,
            ..Default::default()
        })
        .expect("events")
        .into_iter()
        .filter_map(|e| e.session_id)
        .collect()
}

#[test]
fn transcripts_of_files_open_in_an_editor_are_read_first_even_mid_run() {
    let dir = tempfile::tempdir().expect("tmp");
    // Sessions of an older project, then many newer ones of another: newest first
    // alone would read the old project last.
    let write = |project: &str, n: usize, age_days: u64| -> Vec<String> {
        let folder = dir.path().join("projects").join(project);
        std::fs::create_dir_all(&folder).expect("mkdir");
        (0..n)
            .map(|i| {
                let id = format!("{:08x}-0000-0000-0000-{:012x}", age_days, i);
                let path = folder.join(format!("{id}.jsonl"));
                let line = user_line(&format!("{id}-u"), None, "a prompt")
                    .replace("11111111-2222-3333-4444-555555555555", &id);
                append(&path, line.as_bytes());
                let at = std::time::SystemTime::now()
                    - std::time::Duration::from_secs(age_days * 86_400 + i as u64);
                let f = OpenOptions::new().append(true).open(&path).expect("open");
                f.set_modified(at).expect("set mtime");
                id
            })
            .collect()
    };
    let old_app = write("-w-app", 2, 200);
    let recent = write("-w-other", 150, 1);
    let roots = [dir.path().to_path_buf()];

    // Wanted before the run: the app's sessions come first.
    let priority = std::sync::Arc::new(observatory_store::IndexPriority::default());
    priority.want_file(Path::new("/w/app/src/main.rs"));
    let mut store = Store::open_in_memory().expect("store");
    store.set_index_priority(priority);
    store.index_roots(&roots, &mut |_| {}).expect("index");
    assert_eq!(started_order(&store)[..2], old_app[..]);

    // Wanted while the run goes on (after its first file): they come soon after,
    // not last.
    let priority = std::sync::Arc::new(observatory_store::IndexPriority::default());
    let mut store = Store::open_in_memory().expect("store");
    store.set_index_priority(std::sync::Arc::clone(&priority));
    store
        .index_roots(&roots, &mut |p| {
            if p.files_done == 1 {
                priority.want_file(Path::new("/w/app/README.md"));
            }
        })
        .expect("index");
    let order = started_order(&store);
    assert_eq!(order.len(), 152);
    let at = |id: &String| order.iter().position(|o| o == id).expect("indexed");
    assert_eq!(at(&recent[0]), 0, "newest first otherwise");
    for id in &old_app {
        assert!(at(id) < 100, "{id} read at {} of 152", at(id));
    }
}

#[test]
fn a_summary_read_before_its_leaf_names_the_conversation_once_the_leaf_comes() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session_path(dir.path());
    // Compaction writes the summary of what follows; a summary naming a message of
    // a transcript Claude Code has deleted waits for good.
    let summary = |leaf: &str, text: &str| {
        format!(r#"{{"type":"summary","summary":"{text}","leafUuid":"{leaf}"}}"#) + "\n"
    };
    append(
        &path,
        (summary("gone-for-good", "Never shown")
            + &summary("u3", "Colours, settled")
            + &user_line("u1", None, "first prompt"))
            .as_bytes(),
    );
    let mut store = Store::open_in_memory().expect("store");
    let roots = [dir.path().to_path_buf()];
    store.index_roots(&roots, &mut |_| {}).expect("index");
    let c = store.conversation("11111111").expect("conversation");
    assert_eq!(c.title, "first prompt", "no leaf yet: the first prompt");
    // Many messages in the same append, the leaf among them.
    let mut more = String::new();
    for i in 2..40 {
        more += &user_line(&format!("u{i}"), Some(&format!("u{}", i - 1)), "more");
    }
    append(&path, more.as_bytes());
    store.index_roots(&roots, &mut |_| {}).expect("index");
    let c = store.conversation("11111111").expect("conversation");
    assert_eq!(c.title, "Colours, settled");
    assert_eq!(
        c.message_count, 39,
        "every message indexed beside the waiting summary"
    );
}

#[test]
fn a_summary_another_process_left_waiting_is_found_when_its_leaf_comes() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("data/observatory.db");
    let mine = dir.path().join("mine");
    let path = session_path(&mine);
    append(&path, user_line("u1", None, "first prompt").as_bytes());
    let mut store = Store::open(&db).expect("store");
    store
        .index_roots(std::slice::from_ref(&mine), &mut |_| {})
        .expect("index");
    // Another process, on the same database, reads a transcript whose summary
    // names a message this one has not seen yet: it waits in the table, written
    // after this store last looked at what waits.
    let theirs = dir.path().join("theirs/projects/-w-other");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    append(
        &theirs.join("99999999-2222-3333-4444-555555555555.jsonl"),
        br#"{"type":"summary","summary":"Colours, settled elsewhere","leafUuid":"u3"}
"#,
    );
    let mut other = Store::open(&db).expect("second store");
    other
        .index_roots(&[dir.path().join("theirs")], &mut |_| {})
        .expect("index theirs");
    append(
        &path,
        (user_line("u2", Some("u1"), "second") + &user_line("u3", Some("u2"), "third")).as_bytes(),
    );
    store
        .index_roots(std::slice::from_ref(&mine), &mut |_| {})
        .expect("index");
    let c = store.conversation("11111111").expect("conversation");
    assert_eq!(c.title, "Colours, settled elsewhere");
}
