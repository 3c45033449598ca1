//! Search finds what people mean (#15): word forms (`permission` ↔ "permissions"),
//! identifiers in any spelling (`refreshToken` ↔ `refresh_token` ↔ `refresh token`),
//! prefixes typed part-way, and databases indexed before all that, once upgraded.

// Tests: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use observatory_store::{Catalog, SearchQuery, Store, Writer};

const SESSION: &str = "11111111-2222-3333-4444-555555555555";

/// A session file with one prompt per text, its uuid `u<i>`.
fn session(dir: &Path, texts: &[&str]) -> PathBuf {
    let p = dir.join("projects/-w-proj");
    std::fs::create_dir_all(&p).expect("mkdir");
    let path = p.join(format!("{SESSION}.jsonl"));
    let mut out = String::new();
    for (i, text) in texts.iter().enumerate() {
        let parent = if i == 0 {
            serde_json::Value::Null
        } else {
            format!("u{}", i - 1).into()
        };
        let line = serde_json::json!({
            "parentUuid": parent, "isSidechain": false, "userType": "external",
            "cwd": "/w/proj", "sessionId": SESSION, "version": "2.0.75", "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": format!("u{i}"), "timestamp": "2025-11-01T10:00:00.000Z"
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).expect("write");
    path
}

/// The uuids a query finds, sorted.
fn found(store: &Store, q: &str) -> Vec<String> {
    let mut q = SearchQuery::new(q);
    q.limit = 100;
    let mut v: Vec<String> = store
        .search(&q)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.hit.message_uuid)
        .collect();
    v.sort();
    v
}

fn snippet(store: &Store, q: &str, uuid: &str) -> String {
    let mut q = SearchQuery::new(q);
    q.limit = 100;
    store
        .search(&q)
        .expect("search")
        .hits
        .into_iter()
        .find(|h| h.hit.message_uuid == uuid)
        .map(|h| h.hit.snippet)
        .unwrap_or_else(|| panic!("{uuid} not found"))
}

const TEXTS: &[&str] = &[
    "The permissions of the lock file are wrong",     // u0
    "We keep refreshing the cache every minute",      // u1
    "const refreshToken = await load(user);",         // u2
    "self.refresh_token = None  # cleared on logout", // u3
    "Store the refresh token in the keychain",        // u4
    "class RefreshTokenStore implements Store {}",    // u5
    "the token will refresh later, maybe",            // u6
    "Permission denied (publickey)",                  // u7
    "refresh the page and look again",                // u8
    "The configuration is read once",                 // u9
    "REFRESH_TOKEN=abc in the environment",           // u10
];

fn store_with(dir: &Path, texts: &[&str]) -> Store {
    let path = session(dir, texts);
    let mut store = Store::open_in_memory().expect("store");
    store.index_path(&path).expect("index");
    store
}

fn uuids(ids: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| format!("u{i}")).collect();
    v.sort();
    v
}

#[test]
fn word_forms_find_each_other() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store_with(dir.path(), TEXTS);
    assert_eq!(found(&store, "permission"), uuids(&[0, 7]));
    assert_eq!(found(&store, "permissions"), uuids(&[0, 7]));
    // refresh ↔ refreshing, also inside identifiers (refresh_token, refreshToken).
    let refresh = uuids(&[1, 2, 3, 4, 5, 6, 8, 10]);
    assert_eq!(found(&store, "refreshing"), refresh);
    assert_eq!(found(&store, "refresh"), refresh);
    assert_eq!(found(&store, "refreshed"), refresh);
}

#[test]
fn identifiers_find_each_other_in_every_spelling() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store_with(dir.path(), TEXTS);
    let all = uuids(&[2, 3, 4, 5, 10]);
    for q in [
        "refreshToken",
        "refresh_token",
        "RefreshToken",
        "REFRESH_TOKEN",
    ] {
        assert_eq!(found(&store, q), all, "{q}");
    }
    // Two words are both words anywhere: the same, plus u6 ("token will refresh").
    assert_eq!(found(&store, "refresh token"), uuids(&[2, 3, 4, 5, 6, 10]));
    // A phrase keeps its order: not u6.
    assert_eq!(found(&store, "\"refresh token\""), all);
    // Words of one identifier: RefreshTokenStore, by its last two.
    assert_eq!(found(&store, "tokenStore"), uuids(&[5]));
    assert_eq!(found(&store, "token_store"), uuids(&[5]));
}

#[test]
fn prefixes_typed_part_way_find_stemmed_words() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store_with(dir.path(), TEXTS);
    for q in ["perm*", "permissi*", "permission*"] {
        assert_eq!(found(&store, q), uuids(&[0, 7]), "{q}");
    }
    for q in ["config*", "configura*", "configurati*"] {
        assert_eq!(found(&store, q), uuids(&[9]), "{q}");
    }
    assert_eq!(found(&store, "refreshTok*"), uuids(&[2, 3, 4, 5, 10]));
}

#[test]
fn snippets_come_from_the_text_with_the_matched_words_marked() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store_with(dir.path(), TEXTS);
    assert!(
        snippet(&store, "permission", "u0").contains("[permissions]"),
        "{}",
        snippet(&store, "permission", "u0")
    );
    let s = snippet(&store, "refreshToken", "u3");
    assert!(s.contains("[refresh_token]"), "{s}");
    // Found through the identifier's words: the identifier is marked in the text,
    // never the `idents` column shown.
    let s = snippet(&store, "refresh_token", "u2");
    assert_eq!(s, "const [refreshToken] = await load(user);");
    let s = snippet(&store, "tokenStore", "u5");
    assert_eq!(s, "class [RefreshTokenStore] implements Store {}");
}

/// Every hit of a page carries the snippet of its own document, whether the page
/// is marked in one pass over its rowid range (a prefix; documents close together)
/// or in several (documents far apart, many other matches between them).
#[test]
fn each_hit_of_a_page_gets_its_own_documents_snippet() {
    let dir = tempfile::tempdir().expect("tmp");
    // Every tenth document says "retry" three times, so BM25 puts those first:
    // a page of five is then spread over ids with 9 matches between each, and a
    // page of eighty is every one of those plus the rest close around them.
    let texts: Vec<String> = (0..400)
        .map(|i| {
            if i % 10 == 0 {
                format!("retry retry retry, then tag{i} gets logged")
            } else {
                format!("one retry for tag{i} and the rest of a longer sentence here")
            }
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let store = store_with(dir.path(), &refs);
    for (q, limit) in [("retry", 5), ("retry", 80), ("retr*", 5), ("retr*", 80)] {
        let mut query = SearchQuery::new(q);
        query.limit = limit;
        let hits = store.search(&query).expect("search").hits;
        assert_eq!(hits.len(), limit, "{q}");
        for h in hits {
            let i = &h.hit.message_uuid[1..];
            assert!(
                h.hit.snippet.contains(&format!("tag{i} ")) && h.hit.snippet.contains("[retry]"),
                "{q} limit {limit}: {} has snippet {:?}",
                h.hit.message_uuid,
                h.hit.snippet
            );
        }
    }
}

#[test]
fn a_long_document_found_by_an_identifier_shows_the_words_around_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let filler = "lorem ipsum dolor sit amet ".repeat(20);
    let text = format!("{filler}\nlet t = client.getRefreshToken(); // cached\n{filler}");
    let store = store_with(dir.path(), &[&text]);
    let s = snippet(&store, "refresh token", "u0");
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
    assert!(
        s.contains("let t = client.[getRefreshToken](); // cached"),
        "{s}"
    );
    assert!(!s.contains('\n'), "{s}");
    // Highlighting markers of the caller's choice.
    let mut q = SearchQuery::new("refresh_token");
    q.highlight = ("<b>".into(), "</b>".into());
    let hit = store.search(&q).expect("search").hits.remove(0);
    assert!(
        hit.snippet.contains("client.<b>getRefreshToken</b>();"),
        "{}",
        hit.snippet
    );
}

#[test]
fn deleting_a_conversation_takes_its_identifier_words_out_of_the_index() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session(dir.path(), TEXTS);
    let db = dir.path().join("data/observatory.db");
    let mut store = Store::open(&db).expect("store");
    store.index_path(&path).expect("index");
    assert!(!found(&store, "tokenStore").is_empty());
    store.delete_conversation(SESSION).expect("delete");
    assert!(found(&store, "tokenStore").is_empty());
    assert!(found(&store, "refresh token").is_empty());
    drop(store);
    // FTS5 is told the exact words to remove, `idents` included; a mismatch would
    // leave phantom entries that this check reports.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute(
        "INSERT INTO docs_fts (docs_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the index matches its content");
}

/// A database as version 5 wrote it: one unstemmed column, no `idents`, and nothing
/// of the later migrations.
fn downgrade_to_version_5(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(
        "DROP TABLE usage_totals;
         DROP INDEX tool_calls_changes;
         DROP TRIGGER webhook_outbox;
         DROP TABLE webhook_attempts;
         DROP TABLE webhook_deliveries;
         DROP TABLE webhooks;
         DROP TABLE docs_fts;
         ALTER TABLE docs DROP COLUMN idents;
         CREATE VIRTUAL TABLE docs_fts USING fts5(
             text, content='docs', content_rowid='id',
             tokenize='unicode61 remove_diacritics 2'
         );
         INSERT INTO docs_fts (docs_fts) VALUES ('rebuild');
         PRAGMA user_version = 5;",
    )
    .expect("downgrade");
}

#[test]
fn a_version_5_database_upgrades_and_finds_word_forms_and_identifiers() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = session(dir.path(), TEXTS);
    let db = dir.path().join("data/observatory.db");
    {
        let mut store = Store::open(&db).expect("store");
        store.index_path(&path).expect("index");
    }
    downgrade_to_version_5(&db);
    {
        // Before the upgrade, as it was: no word forms.
        let conn = rusqlite::Connection::open(&db).expect("open");
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM docs_fts WHERE docs_fts MATCH 'permission'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n, 1, "only u7 says `permission` as such");
    }
    let mut store = Store::open(&db).expect("upgrade");
    assert_eq!(found(&store, "permission"), uuids(&[0, 7]));
    assert_eq!(found(&store, "refresh_token"), uuids(&[2, 3, 4, 5, 10]));
    assert_eq!(found(&store, "tokenStore"), uuids(&[5]));
    assert!(snippet(&store, "permission", "u0").contains("[permissions]"));
    // Appends after the upgrade are indexed the new way, and incrementally.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).expect("read")
            + &serde_json::json!({
                "parentUuid": "u10", "isSidechain": false, "userType": "external",
                "cwd": "/w/proj", "sessionId": SESSION, "version": "2.0.75", "type": "user",
                "message": {"role": "user", "content": "the accessTokens expired"},
                "uuid": "u11", "timestamp": "2025-11-01T10:01:00.000Z"
            })
            .to_string()
            + "\n",
    )
    .expect("append");
    store.index_path(&path).expect("index");
    assert_eq!(found(&store, "access_token"), uuids(&[11]));
    // The upgraded index is consistent with `docs` (what deletes rely on).
    drop(store);
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute(
        "INSERT INTO docs_fts (docs_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the index matches its content");
}
