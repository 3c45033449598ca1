//! SQL helpers shared by the read side: conditions with their parameters, row
//! mappers and column conversions.

use chrono::{DateTime, Utc};
use observatory_transcript::Usage;
use rusqlite::types::Value as SqlValue;

use crate::catalog::ConversationFilter;
use crate::fts::to_fts_query;
use crate::Result;

/// The indexed stand-in for a message uuid, tool-use id or usage key (migration 11):
/// those keys are random, so a b-tree of them takes every insert to a random page,
/// and each commit of a cold index rewrote most of their pages. Eight bytes instead
/// of thirty to seventy make those b-trees a third to a ninth as large. Lookups
/// match the hash, then the key itself (`uuid_hash = ?1 AND uuid = ?2`), so two keys
/// sharing a hash stay apart.
pub(crate) fn key_hash(key: &str) -> i64 {
    // Stored: xxh3's output is fixed by its specification, not by this build.
    xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as i64
}

/// A stored time (milliseconds since the epoch) as a date.
pub(crate) fn from_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// SQL for a conversation's title: the user's /rename, the AI title, the summary
/// Claude Code wrote for its last message, else its first prompt.
pub(crate) const TITLE_SQL: &str =
    "COALESCE(c.custom_title, c.ai_title, c.summary, c.first_prompt, c.session_key)";

/// SQL for the conversation a change is credited to: a subagent's transcript (`c`)
/// is not a conversation the user had, so its changes name the session that
/// launched it. Needs `LEFT JOIN conversations p ON {LAUNCHER_JOIN}`.
pub(crate) const CREDITED_SESSION_SQL: &str =
    "CASE WHEN c.kind <> 'session' AND c.parent_session IS NOT NULL THEN c.parent_session ELSE c.session_key END";

/// The credited conversation's title (see [`CREDITED_SESSION_SQL`]); the launching
/// session's id until that session is indexed.
pub(crate) const CREDITED_TITLE_SQL: &str =
    "CASE WHEN c.kind <> 'session' AND c.parent_session IS NOT NULL
          THEN COALESCE(p.custom_title, p.ai_title, p.summary, p.first_prompt, c.parent_session)
          ELSE COALESCE(c.custom_title, c.ai_title, c.summary, c.first_prompt, c.session_key) END";

/// The join condition of the launching session `p` of a subagent transcript `c`.
pub(crate) const LAUNCHER_JOIN: &str = "c.kind <> 'session' AND p.session_key = c.parent_session";

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Condition (and its parameters) matching a recorded path to what the user gave.
pub(crate) fn path_condition(column: &str, path: &str) -> (String, Vec<SqlValue>) {
    let trimmed = path.trim_start_matches("./");
    if trimmed.starts_with('/') {
        (
            format!("{column} = ?"),
            vec![SqlValue::Text(trimmed.to_owned())],
        )
    } else {
        (
            format!("({column} = ? OR {column} LIKE ? ESCAPE '\\')"),
            vec![
                SqlValue::Text(trimmed.to_owned()),
                SqlValue::Text(format!("%/{}", like_escape(trimmed))),
            ],
        )
    }
}

/// Condition (and its parameters) matching a project directory and the directories
/// below it.
pub(crate) fn project_condition(column: &str, project: &str) -> (String, Vec<SqlValue>) {
    let p = project.trim_end_matches('/');
    (
        format!("({column} = ? OR {column} LIKE ? ESCAPE '\\')"),
        vec![
            SqlValue::Text(p.to_owned()),
            SqlValue::Text(format!("{}/%", like_escape(p))),
        ],
    )
}

/// Condition (and its parameters) selecting the conversations `f` asks for, on the
/// `conversations` table as `alias`.
pub(crate) fn conversation_where(
    f: &ConversationFilter,
    alias: &str,
) -> Result<(String, Vec<SqlValue>)> {
    // A transcript with no message (a file of `summary` records only) is not a
    // conversation to list; it stays reachable by its id.
    let mut conds = vec![format!("{alias}.message_count > 0")];
    let mut args = Vec::new();
    if let Some(p) = &f.project {
        let (cond, project_args) = project_condition(&format!("{alias}.project"), p);
        conds.push(cond);
        args.extend(project_args);
    }
    if let Some(s) = f.since {
        conds.push(format!("{alias}.ended_at >= ?"));
        args.push(SqlValue::Integer(s.timestamp_millis()));
    }
    if let Some(u) = f.until {
        conds.push(format!("{alias}.started_at < ?"));
        args.push(SqlValue::Integer(u.timestamp_millis()));
    }
    if let Some(m) = &f.model {
        conds.push(format!(
            "EXISTS (SELECT 1 FROM usage u WHERE u.conversation_id = {alias}.id AND u.model LIKE ? ESCAPE '\\')"
        ));
        args.push(SqlValue::Text(format!("%{}%", like_escape(m))));
    }
    if let Some(file) = &f.file {
        let (cond, file_args) = path_condition("path", file);
        conds.push(format!(
            "{alias}.id IN (SELECT conversation_id FROM tool_calls WHERE {cond})"
        ));
        args.extend(file_args);
    }
    if let Some(text) = &f.text {
        conds.push(format!(
            "{alias}.id IN (SELECT d.conversation_id FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid WHERE docs_fts MATCH ?)"
        ));
        args.push(SqlValue::Text(to_fts_query(text)?));
    }
    Ok((conds.join(" AND "), args))
}

/// Token counts from four columns (input, output, cache creation, cache read) from
/// `first` on.
pub(crate) fn usage_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Usage> {
    // Sums of non-negative counts; a negative one could only come from a damaged
    // database, and counts as none.
    let n = |i: usize| {
        r.get::<_, i64>(first + i)
            .map(|v| u64::try_from(v).unwrap_or(0))
    };
    Ok(Usage {
        input_tokens: n(0)?,
        output_tokens: n(1)?,
        cache_creation_input_tokens: n(2)?,
        cache_read_input_tokens: n(3)?,
    })
}

/// A row of model and its four token sums.
pub(crate) fn usage_by_model(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Option<String>, Usage)> {
    Ok((r.get(0)?, usage_at(r, 1)?))
}
