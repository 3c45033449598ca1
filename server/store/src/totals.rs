//! Token totals per conversation and model, kept in step with the usage rows they
//! sum, so that usage by conversation, project or model reads a row per
//! conversation and model instead of every response of every conversation.

use rusqlite::{params, Connection};

use crate::Result;

/// Migration 9: the table, filled from the usage rows already stored.
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE usage_totals (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        -- '' when the responses named no model.
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, model)
    ) WITHOUT ROWID;
    INSERT INTO usage_totals
    SELECT conversation_id, COALESCE(model, ''), sum(input_tokens), sum(output_tokens),
           sum(cache_creation_tokens), sum(cache_read_tokens)
      FROM usage GROUP BY 1, 2;
"#;

/// The totals as `usage` rows read, for the usage queries: `model` NULL as there.
pub(crate) const AS_USAGE: &str =
    "(SELECT conversation_id, NULLIF(model, '') AS model, NULL AS ts, \
     input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens FROM usage_totals)";

/// Sets the totals of `conversation` from its usage rows. Row by row: in the middle
/// of indexing, a statement that writes several rows makes SQLite flush the
/// full-text index's pending terms (a savepoint for the virtual table).
pub(crate) fn refresh(tx: &Connection, conversation: i64) -> Result<()> {
    let now: Vec<(String, [i64; 4])> = tx
        .prepare_cached(
            "SELECT COALESCE(model, ''), sum(input_tokens), sum(output_tokens),
                    sum(cache_creation_tokens), sum(cache_read_tokens)
               FROM usage WHERE conversation_id = ?1 GROUP BY 1",
        )?
        .query_map([conversation], |r| {
            Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let before: Vec<String> = tx
        .prepare_cached("SELECT model FROM usage_totals WHERE conversation_id = ?1")?
        .query_map([conversation], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for gone in before.iter().filter(|m| !now.iter().any(|(n, _)| n == *m)) {
        tx.prepare_cached("DELETE FROM usage_totals WHERE conversation_id = ?1 AND model = ?2")?
            .execute(params![conversation, gone])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO usage_totals (conversation_id, model, input_tokens, output_tokens,
                                   cache_creation_tokens, cache_read_tokens)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (conversation_id, model) DO UPDATE SET
            input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
            cache_creation_tokens = excluded.cache_creation_tokens,
            cache_read_tokens = excluded.cache_read_tokens",
    )?;
    for (model, t) in &now {
        upsert.execute(params![conversation, model, t[0], t[1], t[2], t[3]])?;
    }
    Ok(())
}
