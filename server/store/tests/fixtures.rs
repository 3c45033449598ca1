//! Every real fixture transcript indexes cleanly, and the figures for one file from
//! each source match what reading the file by hand gives.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use observatory_store::{Catalog, ConversationFilter, SearchQuery, Store, UsageGroup};
use observatory_transcript::Usage;

fn index_all() -> Store {
    let mut store = Store::open_in_memory().expect("store");
    let report = store
        .index_roots(&[common::fixtures()], &mut |_| {})
        .expect("index");
    assert!(
        report.files >= 30,
        "found only {} fixture files",
        report.files
    );
    store
}

struct Expect {
    file: &'static str,
    session: &'static str,
    messages: u64,
    file_touches: usize,
    edits: usize,
    usage: Usage,
}

/// Figures counted from the files themselves: unique `uuid`s of user/assistant/system
/// records, tool calls naming a file, writing calls whose result was not an error,
/// and tokens with each (message.id, requestId) counted once at its largest value.
const EXPECTED: &[Expect] = &[
    Expect {
        file: "sniffly/tests/mock-data/-Users-chip-dev-ai-music/ba79134d-b6e9-4867-af0c-6941038c9e4b.jsonl",
        session: "ba79134d-b6e9-4867-af0c-6941038c9e4b",
        messages: 76,
        file_touches: 7,
        edits: 5,
        usage: Usage { input_tokens: 91, output_tokens: 2266, cache_creation_input_tokens: 16072, cache_read_input_tokens: 503769 },
    },
    Expect {
        file: "claude-code-viewer/mock-global-claude-dir/projects/sample-project/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl",
        session: "5c0375b4-57a5-4f26-b12d-d022ee4e51b7",
        messages: 53,
        file_touches: 5,
        edits: 1,
        usage: Usage { input_tokens: 129, output_tokens: 3629, cache_creation_input_tokens: 47747, cache_read_input_tokens: 324259 },
    },
    Expect {
        file: "git-ai/tests/fixtures/example-claude-code.jsonl",
        session: "cb947e5b",
        messages: 38,
        file_touches: 7,
        edits: 3,
        usage: Usage { input_tokens: 57, output_tokens: 3306, cache_creation_input_tokens: 28933, cache_read_input_tokens: 293447 },
    },
    Expect {
        file: "ai-blame/tests/examples/simple-home/.claude/projects/-Users-cjm-repos-ai-blame.rs-tests-examples-simple/2c965cfd-41e4-4e31-8339-2986ebced03c.jsonl",
        session: "2c965cfd-41e4-4e31-8339-2986ebced03c",
        messages: 67,
        file_touches: 25,
        edits: 15,
        usage: Usage { input_tokens: 71, output_tokens: 1686, cache_creation_input_tokens: 25778, cache_read_input_tokens: 142624 },
    },
    Expect {
        file: "claude-code-log/test/test_data/dag_compact_after_rewind.jsonl",
        session: "s1",
        messages: 12,
        file_touches: 0,
        edits: 0,
        usage: Usage { input_tokens: 50, output_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
    Expect {
        file: "ccusage/apps/ccusage/test/fixtures/claude/projects/project-alpha/session-alpha/chat.jsonl",
        session: "session-alpha",
        // Three usage-only records with no uuid: each is its own message.
        messages: 3,
        file_touches: 0,
        edits: 0,
        usage: Usage { input_tokens: 600, output_tokens: 250, cache_creation_input_tokens: 75, cache_read_input_tokens: 70 },
    },
];

#[test]
fn every_fixture_indexes_without_error() {
    let store = index_all();
    let counts = store.counts().expect("counts");
    assert!(counts.conversations >= 25, "{counts:?}");
    assert!(counts.messages >= 900, "{counts:?}");
    // Full-text entries are added at each commit, after their rows: none is missing.
    store
        .check_search_index()
        .expect("full-text index matches the documents");
    // The malformed lines of claude-code-log's edge cases, and nothing else.
    let warnings = store.warnings(100).expect("warnings");
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    assert!(warnings
        .iter()
        .all(|(path, line, _)| path.ends_with("edge_cases.jsonl") && (13..=16).contains(line)));
}

#[test]
fn per_file_figures_match_the_files() {
    for e in EXPECTED {
        let mut store = Store::open_in_memory().expect("store");
        let report = store.index_path(&common::fixture(e.file)).expect("index");
        assert_eq!(report.new_messages, e.messages, "{}: messages", e.file);
        let conv = store.conversation(e.session).expect(e.session);
        assert_eq!(conv.message_count, e.messages, "{}", e.file);
        assert_eq!(conv.usage, e.usage, "{}: usage", e.file);
        let counts = store.counts().expect("counts");
        assert_eq!(
            counts.file_touches as usize, e.file_touches,
            "{}: file touches",
            e.file
        );
        assert_eq!(counts.edits as usize, e.edits, "{}: edits", e.file);
        // The conversation's files add up to the same touches and edits.
        let files = store.conversation_files(conv.id).expect("files");
        let changes: u64 = files.iter().map(|f| f.changes).sum();
        assert_eq!(changes as usize, e.edits, "{}: changes", e.file);
        assert!(files.len() <= e.file_touches, "{}: {files:?}", e.file);
        assert!(
            files.windows(2).all(|w| w[0].last_at >= w[1].last_at),
            "{}: newest first: {files:?}",
            e.file
        );
    }
}

#[test]
fn a_conversations_files_are_listed_once_with_their_changes() {
    let store = index_all();
    let conv = store.conversation("2c965cfd").expect("session");
    let files = store.conversation_files(conv.id).expect("files");
    // Ten files, each read and then changed once; the five it had created earlier
    // were changed twice.
    assert_eq!(files.len(), 10, "{files:#?}");
    assert_eq!(files.iter().filter(|f| f.changes == 2).count(), 5);
    assert!(files.iter().all(|f| f.changes >= 1), "{files:#?}");
    let example = files
        .iter()
        .find(|f| f.path == "/Users/cjm/repos/ai-blame-test/example.py")
        .expect("example.py");
    assert_eq!(example.changes, 2, "a Write, then an Edit");
    assert_eq!(
        example.last_at.map(|t| t.to_rfc3339()),
        Some("2025-12-28T15:22:14.810+00:00".to_owned())
    );
    let main = files
        .iter()
        .find(|f| f.path.ends_with("/main.py"))
        .expect("main.py");
    assert_eq!(main.changes, 1, "read, then one Edit");
    // The last Edit of the run, on foo.md, is the newest touch.
    assert!(files[0].path.ends_with("/foo.md"), "{files:#?}");
}

#[test]
fn resume_copies_and_duplicate_fixtures_are_not_counted_twice() {
    // ai-blame ships the same session twice (examples/ and data/mixed-traces/).
    let store = index_all();
    let conv = store.conversation("2c965cfd").expect("session");
    assert_eq!(conv.message_count, 67);
    assert_eq!(conv.usage.output_tokens, 1686);
}

#[test]
fn rewinds_and_compaction_shape_the_tree() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .index_path(&common::fixture(
            "claude-code-log/test/test_data/dag_compact_after_rewind.jsonl",
        ))
        .expect("index");
    let conv = store.conversation("s1").expect("conversation");
    let shape = store.conversation_shape(conv.id).expect("shape");
    assert_eq!(shape.messages, 12);
    assert_eq!(
        shape.roots, 1,
        "compaction continues the chain through logicalParentUuid"
    );
    assert_eq!(shape.branch_points, 1, "the rewind after 'Ready'");
    assert_eq!(
        shape.leaves, 2,
        "the abandoned first attempt and the final answer"
    );
    assert_eq!(shape.compactions, 1);
}

#[test]
fn titles_come_from_summaries_then_first_prompt() {
    let store = index_all();
    assert_eq!(
        store.conversation("1af7fc5e").expect("c").title,
        "Empty Repo Setup: CLAUDE.md Foundation Created"
    );
    assert_eq!(
        store.conversation("cb947e5b").expect("c").title,
        "Make the colors green and yellow"
    );
}

#[test]
fn subagents_are_linked_to_their_session() {
    let store = index_all();
    let sub = store.conversation("agent-a1b2c3d4e5f6").expect("subagent");
    assert_eq!(sub.kind, "subagent");
    assert_eq!(sub.parent_session.as_deref(), Some("sess-parent-abc"));
    let legacy = store
        .conversation("agent-ad47cca")
        .expect("legacy agent file");
    assert_eq!(legacy.kind, "agent");
    assert_eq!(
        legacy.parent_session.as_deref(),
        Some("2c965cfd-41e4-4e31-8339-2986ebced03c")
    );
}

#[test]
fn file_touches_carry_the_prompt_and_the_exact_change() {
    let store = index_all();
    let touches = store.file_touches("example.py").expect("touches");
    let write = touches
        .iter()
        .find(|t| t.tool == "Write")
        .expect("the Write that created example.py");
    assert_eq!(write.failed, Some(false));
    assert!(write
        .prompt
        .as_deref()
        .is_some_and(|p| p.starts_with("create some files for test purposes")));
    let change = write.change.as_ref().expect("change");
    assert!(change
        .content
        .as_deref()
        .is_some_and(|c| c.contains("def greet(name: str) -> str:")));
    let edit = touches
        .iter()
        .find(|t| t.tool == "Edit")
        .expect("an Edit of example.py");
    let change = edit.change.as_ref().expect("edit change");
    assert!(!change.hunks.is_empty(), "structuredPatch kept");
    assert!(change.original.is_some(), "originalFile kept");
    assert_eq!(
        edit.prompt.as_deref(),
        Some("make some minor random test changes to all files in this repo")
    );
}

#[test]
fn a_slash_command_is_the_prompt_of_what_it_asked_for() {
    let store = index_all();
    // claude-code-viewer's sample: a project's own `/orchestrator` command, whose
    // arguments are all the person typed, and nothing else before the edit.
    let touches = store.file_touches("CLAUDE.md").expect("touches");
    let edit = touches
        .iter()
        .find(|t| t.session_id.starts_with("5c0375b4") && t.tool == "Edit")
        .expect("the orchestrator's edit of CLAUDE.md");
    assert_eq!(
        edit.prompt.as_deref(),
        Some("/orchestrator @CLAUDE.md を最新の状態にアップデートしてください")
    );
    // sniffly's: `/init` in Claude Code 1.0's form, the conversation's first record.
    let write = touches
        .iter()
        .find(|t| t.session_id.starts_with("ba79134d") && t.tool == "Write")
        .expect("the CLAUDE.md that /init wrote");
    assert_eq!(write.prompt.as_deref(), Some("/init"));
    // Found, and shown, as typed; `/model` is not a prompt.
    let mut q = SearchQuery::new("orchestrator");
    q.kind = Some("prompt".into());
    let page = store.search(&q).expect("search");
    assert!(!page.hits.is_empty());
    for hit in &page.hits {
        assert!(hit.snippet.starts_with("/[orchestrator]"), "{hit:?}");
    }
    let mut q = SearchQuery::new("model");
    q.kind = Some("prompt".into());
    let page = store.search(&q).expect("search");
    assert!(
        page.hits.iter().all(|h| !h.snippet.contains("/[model]")),
        "{:?}",
        page.hits
    );
}

#[test]
fn failed_tool_calls_are_marked() {
    let store = index_all();
    let touches = store
        .file_touches("/tmp/complex_example.py")
        .expect("touches");
    assert!(!touches.is_empty());
    let failed: Vec<_> = store
        .file_touches("complex_example.py")
        .expect("t")
        .into_iter()
        .filter(|t| t.failed == Some(true))
        .collect();
    // edge_cases.jsonl: the MultiEdit's result says "File created successfully".
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn search_ranks_snippets_and_filters() {
    let store = index_all();
    let mut q = SearchQuery::new("colors green");
    let page = store.search(&q).expect("search");
    assert!(!page.hits.is_empty());
    assert!(
        page.hits[0].snippet.contains("[green]") || page.hits[0].snippet.contains("[colors]"),
        "{:?}",
        page.hits[0]
    );
    assert!(
        page.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "ranked by BM25"
    );

    q.role = Some("user".into());
    q.kind = Some("prompt".into());
    let prompts = store.search(&q).expect("search");
    assert!(prompts.hits.iter().all(|h| h.kind == "prompt"));
    assert!(prompts
        .hits
        .iter()
        .any(|h| h.session_id.starts_with("cb947e5b")));

    let mut bash = SearchQuery::new("git");
    bash.tool = Some("Bash".into());
    let hits = store.search(&bash).expect("search").hits;
    assert!(!hits.is_empty() && hits.iter().all(|h| h.tool.as_deref() == Some("Bash")));
    // As people type it.
    bash.tool = Some("bash".into());
    assert_eq!(store.search(&bash).expect("search").hits.len(), hits.len());

    let mut by_file = SearchQuery::new("greeting");
    by_file.file = Some("example.py".into());
    assert!(store
        .search(&by_file)
        .expect("search")
        .hits
        .iter()
        .all(|h| h.session_id.starts_with("2c965cfd") || h.session_id.starts_with("agent-")));

    let mut paged = SearchQuery::new("the");
    paged.limit = 3;
    let p1 = store.search(&paged).expect("page 1");
    assert_eq!(p1.hits.len(), 3);
    paged.offset = p1.next_offset.expect("more pages");
    let p2 = store.search(&paged).expect("page 2");
    assert_ne!(p1.hits[0].message_uuid, p2.hits[0].message_uuid);
}

#[test]
fn odd_queries_never_error_and_bad_ones_say_why() {
    let store = index_all();
    for q in [
        r#""unclosed phrase"#,
        "foo.bar(",
        "a*",
        "ref*",
        "C++ OR Rust",
        "-x y",
        "naïve café",
        "SELECT * FROM",
        "NEAR(a b)",
        "'",
    ] {
        let r = store.search(&SearchQuery::new(q));
        match r {
            Ok(_) => {}
            // No words, and a prefix so short it would expand to most of the
            // vocabulary: refused with the reason.
            Err(observatory_store::Error::BadQuery(msg)) => {
                assert!(q == "'" || q == "a*", "{q:?} gave {msg}")
            }
            Err(e) => panic!("{q:?}: {e}"),
        }
    }
    let mut bad = SearchQuery::new("x");
    bad.role = Some("robot".into());
    assert!(
        matches!(store.search(&bad), Err(observatory_store::Error::BadQuery(m)) if m.contains("robot"))
    );
}

#[test]
fn usage_groups_add_up() {
    let store = index_all();
    let f = ConversationFilter::default();
    let total = |g| {
        store
            .usage(g, &f)
            .expect("usage")
            .iter()
            .map(|r| r.total_tokens)
            .sum::<u64>()
    };
    let by_model = total(UsageGroup::Model);
    assert!(by_model > 9_000_000);
    assert_eq!(by_model, total(UsageGroup::Day));
    assert_eq!(by_model, total(UsageGroup::Project));
    assert_eq!(by_model, total(UsageGroup::Conversation));
    let models = store.usage(UsageGroup::Model, &f).expect("usage");
    let sonnet = models
        .iter()
        .find(|r| r.key == "claude-sonnet-4-20250514")
        .expect("sonnet 4");
    assert!(sonnet.cost_usd > 1.0);
}

#[test]
fn conversations_list_filters_by_project_and_time() {
    let store = index_all();
    let f = ConversationFilter {
        project: Some("/Users/chip/dev/ai-music".into()),
        ..Default::default()
    };
    let list = store.conversations(&f).expect("list");
    assert_eq!(list.len(), 3);
    assert!(
        list.windows(2).all(|w| w[0].ended_at >= w[1].ended_at),
        "newest first"
    );
    let since = ConversationFilter {
        since: "2025-12-01T00:00:00Z".parse().ok(),
        ..Default::default()
    };
    assert!(store
        .conversations(&since)
        .expect("list")
        .iter()
        .all(|c| c.ended_at >= since.since));
}

/// sniffly's ff71dbed holds `summary` records only: not a conversation to list, but
/// still found by its id.
#[test]
fn a_transcript_without_messages_is_not_listed() {
    let store = index_all();
    let list = store
        .conversations(&ConversationFilter::default())
        .expect("list");
    assert!(!list.is_empty());
    assert!(list.iter().all(|c| c.message_count > 0), "{list:?}");
    // The index summary counts what the list shows.
    assert_eq!(
        store.counts().expect("counts").conversations,
        list.len() as u64
    );
    let summaries_only = store.conversation("ff71dbed").expect("found by its id");
    assert_eq!(summaries_only.message_count, 0);
}

#[test]
fn show_reads_back_the_durable_copy() {
    let store = index_all();
    let conv = store.conversation("2c965cfd").expect("conv");
    let records = store.conversation_records(conv.id).expect("records");
    assert!(records.len() >= 67);
}

#[test]
fn projects_and_most_edited_files() {
    let store = index_all();
    let projects = store.projects().expect("projects");
    let music = projects
        .iter()
        .find(|p| p.project == "/Users/chip/dev/ai-music")
        .expect("ai-music");
    assert_eq!(music.conversations, 3);
    assert!(music.total_tokens > 4_000_000);
    assert!(projects
        .windows(2)
        .all(|w| w[0].last_active >= w[1].last_active));
    let files = store
        .most_edited_files(Some("/Users/cjm/repos/ai-blame-test"), 3)
        .expect("files");
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| f.edits == 2), "{files:?}");
    assert!(store
        .most_edited_files(None, 1000)
        .expect("files")
        .windows(2)
        .all(|w| w[0].edits >= w[1].edits));
}
