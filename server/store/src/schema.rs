//! Versioned schema migrations, applied in order inside one transaction each.
//! `PRAGMA user_version` records how many have run.

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::Result;

const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        conversation_id INTEGER REFERENCES conversations(id),
        offset INTEGER NOT NULL DEFAULT 0,
        line_count INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL DEFAULT 0,
        mtime_ns INTEGER NOT NULL DEFAULT 0,
        head_hash INTEGER,
        warning_count INTEGER NOT NULL DEFAULT 0,
        last_prompt_id INTEGER,
        missing INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        session_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        parent_session TEXT,
        project TEXT,
        git_branch TEXT,
        version TEXT,
        entrypoint TEXT,
        first_prompt TEXT,
        custom_title TEXT,
        ai_title TEXT,
        summary TEXT,
        started_at INTEGER,
        ended_at INTEGER,
        message_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversations_project ON conversations(project);
    CREATE INDEX conversations_ended ON conversations(ended_at);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_uuid TEXT,
        logical_parent_uuid TEXT,
        role TEXT NOT NULL,
        is_prompt INTEGER NOT NULL DEFAULT 0,
        is_sidechain INTEGER NOT NULL DEFAULT 0,
        ts INTEGER,
        model TEXT,
        -- The prompt that led to this message; NULL for prompts themselves.
        prompt_id INTEGER,
        source_id INTEGER NOT NULL,
        offset INTEGER NOT NULL
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, ts);
    CREATE TABLE docs (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        conversation_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        role TEXT NOT NULL,
        tool TEXT,
        model TEXT,
        ts INTEGER,
        text TEXT NOT NULL
    );
    CREATE INDEX docs_message ON docs(message_id);
    CREATE VIRTUAL TABLE docs_fts USING fts5(
        text, content='docs', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY,
        tool_use_id TEXT NOT NULL UNIQUE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL,
        prompt_id INTEGER,
        name TEXT NOT NULL,
        path TEXT,
        ts INTEGER,
        failed INTEGER,
        error TEXT,
        change TEXT
    );
    CREATE INDEX tool_calls_path ON tool_calls(path, ts) WHERE path IS NOT NULL;
    CREATE INDEX tool_calls_conversation ON tool_calls(conversation_id);
    CREATE TABLE usage (
        key TEXT PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        model TEXT,
        ts INTEGER,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Covers the usage reports, which then never touch the table itself.
    CREATE INDEX usage_conversation ON usage(conversation_id, model, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, ts);
    -- Summaries whose leaf message is not indexed yet; resolved ones move to
    -- conversations.summary.
    CREATE TABLE summaries (
        leaf_uuid TEXT PRIMARY KEY,
        summary TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE raw_chunks (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        conversation_id INTEGER,
        start_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        first_line INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX raw_chunks_conversation ON raw_chunks(conversation_id, id);
    CREATE TABLE warnings (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        line INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    "#,
    // 2: the event log behind the platform's realtime stream.
    r#"
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        session_id TEXT,
        project TEXT,
        path TEXT,
        data TEXT NOT NULL
    );
    CREATE INDEX events_path ON events(path) WHERE path IS NOT NULL;
    "#,
    // 3: API keys for the platform, stored as SHA-256 hashes.
    r#"
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL UNIQUE,
        hash BLOB NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    "#,
    // 4: the file name of each tool call's path, so that a file's history is an
    // index lookup instead of a scan of every call (`rtrim` strips the name, leaving
    // the directory, which `substr` then skips).
    r#"
    ALTER TABLE tool_calls ADD COLUMN file_name TEXT;
    UPDATE tool_calls SET file_name = substr(path, length(rtrim(path, replace(path, '/', ''))) + 1)
     WHERE path IS NOT NULL;
    CREATE INDEX tool_calls_file_name ON tool_calls(file_name, ts) WHERE change IS NOT NULL;
    "#,
    // 5: which conversation a record copied by `claude --resume` belongs to. The
    // span of every message record in a conversation's file, copies included (its
    // `started_at`/`ended_at` cover only the messages credited to it), and the
    // conversation a resumed one continues, as its copies name it. Databases from
    // before keep their credit until their files are re-read; the span starts as the
    // credited one.
    r#"
    ALTER TABLE conversations ADD COLUMN continues TEXT;
    ALTER TABLE conversations ADD COLUMN first_record_at INTEGER;
    ALTER TABLE conversations ADD COLUMN last_record_at INTEGER;
    UPDATE conversations SET first_record_at = started_at, last_record_at = ended_at;
    "#,
    // 6: word forms and identifiers in search (#15). The index stems words (porter),
    // so "permissions" is found by `permission`, and gets a second column, `idents`:
    // the words of the camelCase identifiers in each document, kept in `docs` too
    // (an external-content table reads its columns from there; NULL for the many
    // documents without one). Rebuilt from `docs`, which holds every document's text.
    r#"
    ALTER TABLE docs ADD COLUMN idents TEXT;
    UPDATE docs SET idents = observatory_identifier_words(text)
     WHERE observatory_identifier_words(text) IS NOT NULL;
    DROP TABLE docs_fts;
    CREATE VIRTUAL TABLE docs_fts USING fts5(
        text, idents, content='docs', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    INSERT INTO docs_fts (docs_fts) VALUES ('rebuild');
    "#,
    // 7: webhooks (#16): subscriptions, the outbox (filled by a trigger on `events`,
    // in the event's own transaction) and the log of delivery attempts.
    crate::webhooks::MIGRATION,
    // 8: the count of changes every `observatory index` prints, from an index rather
    // than a scan of every tool call with its recorded change (75 ms on 15k files).
    r#"
    CREATE INDEX tool_calls_changes ON tool_calls(name, failed) WHERE change IS NOT NULL;
    "#,
    // 9: token totals per conversation and model, kept by indexing (`totals`), for
    // usage by conversation, project and model without summing every response.
    crate::totals::MIGRATION,
    // 10: `tool_calls.change` may hold zstd-compressed JSON, a BLOB (`packed`). No
    // row changes; the version is for older binaries, which would misread those
    // rows and so refuse the database as too new.
    "-- changes may be compressed",
    // 11: message uuids, tool-use ids and usage keys are looked up through a hash
    // of each (`sql::key_hash`), not a unique index of the text (#15). The tables
    // are rebuilt, as SQLite cannot drop a UNIQUE constraint; `migrate` turns
    // foreign keys off around it, or dropping `messages` would delete every `docs`
    // row through its ON DELETE CASCADE.
    r#"
    CREATE TABLE messages_new (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL,
        uuid_hash INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_uuid TEXT,
        logical_parent_uuid TEXT,
        role TEXT NOT NULL,
        is_prompt INTEGER NOT NULL DEFAULT 0,
        is_sidechain INTEGER NOT NULL DEFAULT 0,
        ts INTEGER,
        model TEXT,
        -- The prompt that led to this message; NULL for prompts themselves.
        prompt_id INTEGER,
        source_id INTEGER NOT NULL,
        offset INTEGER NOT NULL
    );
    INSERT INTO messages_new
    SELECT id, uuid, observatory_key_hash(uuid), conversation_id, parent_uuid,
           logical_parent_uuid, role, is_prompt, is_sidechain, ts, model, prompt_id,
           source_id, offset
      FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_new RENAME TO messages;
    CREATE INDEX messages_uuid ON messages(uuid_hash);
    CREATE INDEX messages_conversation ON messages(conversation_id, ts);

    CREATE TABLE tool_calls_new (
        id INTEGER PRIMARY KEY,
        tool_use_id TEXT NOT NULL,
        tool_use_id_hash INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL,
        prompt_id INTEGER,
        name TEXT NOT NULL,
        path TEXT,
        file_name TEXT,
        ts INTEGER,
        failed INTEGER,
        error TEXT,
        change TEXT
    );
    INSERT INTO tool_calls_new
    SELECT id, tool_use_id, observatory_key_hash(tool_use_id), conversation_id,
           message_id, prompt_id, name, path, file_name, ts, failed, error, change
      FROM tool_calls;
    DROP TABLE tool_calls;
    ALTER TABLE tool_calls_new RENAME TO tool_calls;
    CREATE INDEX tool_calls_id ON tool_calls(tool_use_id_hash);
    CREATE INDEX tool_calls_path ON tool_calls(path, ts) WHERE path IS NOT NULL;
    CREATE INDEX tool_calls_conversation ON tool_calls(conversation_id);
    CREATE INDEX tool_calls_file_name ON tool_calls(file_name, ts) WHERE change IS NOT NULL;
    CREATE INDEX tool_calls_changes ON tool_calls(name, failed) WHERE change IS NOT NULL;

    CREATE TABLE usage_new (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        key_hash INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        model TEXT,
        ts INTEGER,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL
    );
    INSERT INTO usage_new (key, key_hash, conversation_id, model, ts, input_tokens,
                           output_tokens, cache_creation_tokens, cache_read_tokens)
    SELECT key, observatory_key_hash(key), conversation_id, model, ts, input_tokens,
           output_tokens, cache_creation_tokens, cache_read_tokens
      FROM usage;
    DROP TABLE usage;
    ALTER TABLE usage_new RENAME TO usage;
    CREATE INDEX usage_key ON usage(key_hash);
    -- Covers the usage reports, which then never touch the table itself.
    CREATE INDEX usage_conversation ON usage(conversation_id, model, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, ts);
    "#,
    // 12: no query can use `events_path`: the event stream filters paths with a
    // case-insensitive LIKE, which a BINARY index cannot serve, and reads in `id`
    // order anyway. Every event's path still went into it, at random places: 3% of
    // a cold index of real-shaped transcripts (#15).
    "DROP INDEX IF EXISTS events_path;",
];

pub const CURRENT_VERSION: usize = MIGRATIONS.len();

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(crate::Error::SchemaTooNew {
            found: version,
            supported: MIGRATIONS.len(),
        });
    }
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    register_functions(conn)?;
    // Off while tables are rebuilt (migration 11); the setting is ignored inside a
    // transaction, so around all of them.
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let applied = apply(conn, version);
    conn.pragma_update(None, "foreign_keys", enforced)?;
    applied
}

/// The Rust functions migrations call: those that fill a column from existing
/// text call the same function the indexer uses, so an upgraded database indexes
/// exactly as a new one.
fn register_functions(conn: &Connection) -> Result<()> {
    conn.create_scalar_function(
        "observatory_identifier_words",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get_raw(0);
            Ok(match text.as_str() {
                Ok(t) => crate::fts::identifier_words(t),
                // Not text (NULL, a blob): nothing to split.
                Err(_) => None,
            })
        },
    )?;
    conn.create_scalar_function(
        "observatory_key_hash",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get_raw(0).as_str().ok().map(crate::sql::key_hash)),
    )?;
    Ok(())
}

fn apply(conn: &mut Connection, from: usize) -> Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Tests: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use rusqlite::params;

    #[test]
    fn a_version_4_database_upgrades_with_its_conversations_spans() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate_to(&mut conn, 4);
        conn.execute(
            "INSERT INTO conversations (session_key, kind, started_at, ended_at) VALUES ('s', 'session', 10, 20)",
            [],
        )
        .expect("conversation");
        migrate(&mut conn).expect("upgrade");
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, CURRENT_VERSION);
        let row: (Option<i64>, Option<i64>, Option<String>) = conn
            .query_row(
                "SELECT first_record_at, last_record_at, continues FROM conversations",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        assert_eq!(row, (Some(10), Some(20), None));
    }

    /// Migration 11 rebuilds `messages`, `tool_calls` and `usage` on a connection
    /// that enforces foreign keys, as the store's does: every row and search
    /// document survives (dropping `messages` would cascade to `docs`), each key
    /// gets its hash, and lookups go through the new indexes.
    #[test]
    fn a_version_10_database_keeps_every_row_when_its_keys_are_hashed() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate_to(&mut conn, 10);
        conn.execute_batch(
            "INSERT INTO conversations (id, session_key, kind) VALUES (1, 's', 'session');
             INSERT INTO messages (id, uuid, conversation_id, role, prompt_id, source_id, offset)
                  VALUES (1, 'u-1', 1, 'user', NULL, 1, 0), (2, 'u-2', 1, 'assistant', 1, 1, 90);
             INSERT INTO docs (id, message_id, conversation_id, kind, role, text)
                  VALUES (1, 1, 1, 'prompt', 'user', 'rename the parser'),
                         (2, 2, 1, 'assistant', 'assistant', 'renamed it');
             INSERT INTO docs_fts (rowid, text, idents) SELECT id, text, idents FROM docs;
             INSERT INTO tool_calls (tool_use_id, conversation_id, message_id, prompt_id, name, path, ts, change, file_name, failed)
                  VALUES ('toolu_1', 1, 2, 1, 'Edit', '/w/parser.rs', 5, '{}', 'parser.rs', 0);
             INSERT INTO usage (key, conversation_id, model, ts, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
                  VALUES ('msg_1:req_1', 1, 'opus', 5, 10, 20, 30, 40);",
        )
        .expect("rows");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("enforced");

        migrate(&mut conn).expect("upgrade");

        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(count("SELECT count(*) FROM docs"), 2);
        assert_eq!(
            count("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH 'renaming'"),
            2
        );
        let messages: Vec<(i64, String, i64, Option<i64>, i64)> = conn
            .prepare("SELECT id, uuid, uuid_hash, prompt_id, offset FROM messages ORDER BY id")
            .expect("prepare")
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(
            messages,
            [
                (1, "u-1".into(), crate::sql::key_hash("u-1"), None, 0),
                (2, "u-2".into(), crate::sql::key_hash("u-2"), Some(1), 90),
            ]
        );
        let call: (String, i64, String, String, String) = conn
            .query_row(
                "SELECT tool_use_id, tool_use_id_hash, path, change, file_name FROM tool_calls",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .expect("call");
        assert_eq!(
            call,
            (
                "toolu_1".into(),
                crate::sql::key_hash("toolu_1"),
                "/w/parser.rs".into(),
                "{}".into(),
                "parser.rs".into()
            )
        );
        let usage: (i64, i64, i64) = conn
            .query_row(
                "SELECT key_hash, input_tokens, cache_read_tokens FROM usage WHERE key = 'msg_1:req_1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("usage");
        assert_eq!(usage, (crate::sql::key_hash("msg_1:req_1"), 10, 40));
        let enforced: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert!(enforced, "foreign keys are enforced again");
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE uuid_hash = ?1 AND uuid = ?2",
                params![1, "u-1"],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("messages_uuid"), "{plan}");
        // The old unique indexes of the text are gone; the others are back.
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index'
                   AND tbl_name IN ('messages', 'tool_calls', 'usage') ORDER BY name",
            )
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("names");
        assert_eq!(
            indexes,
            [
                "messages_conversation",
                "messages_uuid",
                "tool_calls_changes",
                "tool_calls_conversation",
                "tool_calls_file_name",
                "tool_calls_id",
                "tool_calls_path",
                "usage_conversation",
                "usage_key"
            ]
        );
    }

    /// The event stream's path filter reads events in `id` order, with or without
    /// `events_path`: the index cost every insert and served no query, and an
    /// upgraded database no longer has it.
    #[test]
    fn a_version_11_database_drops_the_event_path_index_no_query_used() {
        let plan = |conn: &Connection| -> String {
            let q = crate::EventQuery {
                path_prefix: Some("/w/src/".into()),
                ..crate::EventQuery::default()
            };
            let (sql, args) = crate::events::read_sql(&q);
            conn.query_row(
                &format!("EXPLAIN QUERY PLAN {sql}"),
                rusqlite::params_from_iter(args),
                |r| r.get(3),
            )
            .expect("plan")
        };
        let mut conn = Connection::open_in_memory().expect("db");
        migrate_to(&mut conn, 11);
        let before = plan(&conn);
        assert!(!before.contains("events_path"), "{before}");
        migrate(&mut conn).expect("upgrade");
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_path'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(indexes, 0);
        assert_eq!(plan(&conn), before);
    }

    /// A database as an older build left it: the first `version` migrations.
    fn migrate_to(conn: &mut Connection, version: usize) {
        register_functions(conn).expect("functions");
        for (i, sql) in MIGRATIONS.iter().take(version).enumerate() {
            conn.execute_batch(sql).expect("old migration");
            conn.pragma_update(None, "user_version", i + 1)
                .expect("version");
        }
    }
}
