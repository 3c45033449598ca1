//! The event log: every change indexing makes, with a monotonically increasing id,
//! stored in the same transaction as the change itself, so a client that resumes from
//! the last id it saw gets every later event exactly once, in order.

use chrono::Utc;
use rusqlite::{params, params_from_iter, types::Value as SqlValue, Connection};

use crate::sql::{from_ms, like_escape, project_condition};
use crate::Result;

// Event kinds and events are the stream's vocabulary: the protocol crate owns them.
pub use observatory_protocol::events::{kind, Event};

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this id (the last one the client saw).
    pub after: i64,
    pub limit: usize,
    pub kinds: Vec<String>,
    /// Only events of conversations in this project directory (or below).
    pub project: Option<String>,
    /// Only events about paths starting with this.
    pub path_prefix: Option<String>,
    pub session_id: Option<String>,
}

/// An event waiting for its batch's conversation to be known.
pub(crate) struct Pending {
    pub kind: &'static str,
    pub path: Option<String>,
    pub data: serde_json::Value,
}

pub(crate) fn write(tx: &Connection, conversation: i64, pending: &[Pending]) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let (session, project): (String, Option<String>) = tx
        .prepare_cached("SELECT session_key, project FROM conversations WHERE id = ?1")?
        .query_row([conversation], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let now = Utc::now().timestamp_millis();
    // Several rows a statement (16, then 8, 4, 2, 1: five statements to cache): each
    // statement reads and writes the AUTOINCREMENT counter once and sets up the
    // webhook trigger once; a row a statement took 2.4 times as long.
    let mut rest = pending;
    while !rest.is_empty() {
        let size = [16, 8, 4, 2]
            .into_iter()
            .find(|&s| s <= rest.len())
            .unwrap_or(1);
        let (rows, after) = rest.split_at(size);
        insert_rows(tx, now, &session, project.as_deref(), rows)?;
        rest = after;
    }
    Ok(())
}

fn insert_rows(
    tx: &Connection,
    now: i64,
    session: &str,
    project: Option<&str>,
    rows: &[Pending],
) -> Result<()> {
    let sql = format!(
        "INSERT INTO events (at, kind, session_id, project, path, data) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
    );
    let data: Vec<String> = rows.iter().map(|e| e.data.to_string()).collect();
    let mut args: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 6);
    for (e, d) in rows.iter().zip(&data) {
        args.extend([
            &now as &dyn rusqlite::ToSql,
            &e.kind,
            &session,
            &project,
            &e.path,
            d,
        ]);
    }
    tx.prepare_cached(&sql)?.execute(&args[..])?;
    Ok(())
}

/// `Catalog::events`: events after `q.after`, oldest first.
pub(crate) fn read(conn: &Connection, q: &EventQuery) -> Result<Vec<Event>> {
    let (sql, args) = read_sql(q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let data: String = r.get(6)?;
        Ok(Event {
            id: r.get(0)?,
            at: from_ms(r.get(1)?),
            kind: r.get(2)?,
            session_id: r.get(3)?,
            project: r.get(4)?,
            path: r.get(5)?,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The query `read` runs, and its arguments.
pub(crate) fn read_sql(q: &EventQuery) -> (String, Vec<SqlValue>) {
    let mut conds = vec!["id > ?".to_owned()];
    let mut args = vec![SqlValue::Integer(q.after)];
    if !q.kinds.is_empty() {
        conds.push(format!("kind IN ({})", vec!["?"; q.kinds.len()].join(", ")));
        args.extend(q.kinds.iter().map(|k| SqlValue::Text(k.clone())));
    }
    if let Some(p) = &q.project {
        let (cond, project_args) = project_condition("project", p);
        conds.push(cond);
        args.extend(project_args);
    }
    if let Some(p) = &q.path_prefix {
        conds.push("path LIKE ? ESCAPE '\\'".into());
        args.push(SqlValue::Text(format!("{}%", like_escape(p))));
    }
    if let Some(s) = &q.session_id {
        conds.push("session_id = ?".into());
        args.push(SqlValue::Text(s.clone()));
    }
    args.push(SqlValue::Integer(q.limit.max(1) as i64));
    let sql = format!(
            "SELECT id, at, kind, session_id, project, path, data FROM events WHERE {} ORDER BY id LIMIT ?",
            conds.join(" AND ")
        );
    (sql, args)
}

/// `Writer::append_event`: records an event that did not come from indexing (a Claude
/// Code hook), now.
pub(crate) fn append(
    conn: &Connection,
    kind: &str,
    session_id: Option<&str>,
    project: Option<&str>,
    path: Option<&str>,
    data: &serde_json::Value,
) -> Result<i64> {
    conn.execute(
            "INSERT INTO events (at, kind, session_id, project, path, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![Utc::now().timestamp_millis(), kind, session_id, project, path, data.to_string()],
        )?;
    Ok(conn.last_insert_rowid())
}

/// `Catalog::last_event_id`: the id of the newest event (0 when there is none).
pub(crate) fn last_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        // Ids are never reused (AUTOINCREMENT): the newest id ever given, even if
        // that event was deleted with its conversation.
        .query_row(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
            [],
            |r| r.get(0),
        )?)
}
