//! Full-text search: FTS5 with BM25 ranking, snippets and filters. What the user typed
//! is translated first (`fts`), never handed to FTS5 as it is.

use chrono::{DateTime, Utc};
use observatory_protocol::search::{SearchHit, SearchPage};
use rusqlite::{params, types::Value as SqlValue, OptionalExtension};
use rustc_hash::FxHashMap;

use crate::catalog::one_line;
use crate::fts;
use crate::rank;
use crate::sql::{from_ms, like_escape, path_condition, project_condition, TITLE_SQL};
use crate::{Catalog, Error, Result, Store};

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub project: Option<String>,
    /// Only conversations that touched this file (absolute, or a path suffix).
    pub file: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// user | assistant | system
    pub role: Option<String>,
    /// prompt | user | assistant | thinking | tool_input | tool_output | system
    pub kind: Option<String>,
    pub tool: Option<String>,
    pub model: Option<String>,
    /// A session id or unique prefix.
    pub conversation: Option<String>,
    pub limit: usize,
    pub offset: usize,
    /// Markers put around matched words in snippets.
    pub highlight: (String, String),
    /// The text is still being typed: its last word also matches as a prefix
    /// (`fts::to_fts_query_as_typed`).
    pub typing: bool,
}

impl SearchQuery {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            project: None,
            file: None,
            since: None,
            until: None,
            role: None,
            kind: None,
            tool: None,
            model: None,
            conversation: None,
            limit: 20,
            offset: 0,
            highlight: ("[".to_owned(), "]".to_owned()),
            typing: false,
        }
    }
}

/// A search's results as the store ranks them. The API sends `into_page()`: the hits
/// without their scores (how FTS5 ranked them is the store's business).
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<RankedHit>,
    /// Offset of the next page, if there is one.
    pub next_offset: Option<usize>,
    /// Set when the query matched so much that only its newest N matches were ranked.
    pub ranked_newest: Option<usize>,
}

impl SearchResults {
    pub fn into_page(self) -> SearchPage {
        SearchPage {
            hits: self.hits.into_iter().map(|h| h.hit).collect(),
            next_offset: self.next_offset,
            ranked_newest: self.ranked_newest,
        }
    }
}

/// A hit with its score (read as a `SearchHit` through `Deref`).
#[derive(Debug, Clone)]
pub struct RankedHit {
    pub hit: SearchHit,
    /// BM25 score; higher is better.
    pub score: f64,
}

impl std::ops::Deref for RankedHit {
    type Target = SearchHit;

    fn deref(&self) -> &SearchHit {
        &self.hit
    }
}

/// How many of the newest matches BM25 ranks (see `run`).
pub const RANK_WINDOW: usize = 2000;

const ROLES: &[&str] = &["user", "assistant", "system"];
const KINDS: &[&str] = &[
    "prompt",
    "user",
    "assistant",
    "thinking",
    "tool_input",
    "tool_output",
    "system",
];

fn check_choice(what: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::BadQuery(format!(
            "unknown {what} {value:?}; expected one of: {}",
            allowed.join(", ")
        )))
    }
}

pub(crate) fn run(store: &Store, q: &SearchQuery) -> Result<SearchResults> {
    let translation = fts::to_fts_translation(&q.text, q.typing)?;
    let fts = translation.query.clone();
    if q.limit == 0 || q.limit > 1000 {
        return Err(Error::BadQuery(format!(
            "limit must be between 1 and 1000, not {}",
            q.limit
        )));
    }
    let mut conds = vec!["docs_fts MATCH ?".to_owned()];
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(fts.clone())];
    if let Some(role) = &q.role {
        check_choice("role", role, ROLES)?;
        conds.push("d.role = ?".into());
        args.push(SqlValue::Text(role.clone()));
    }
    if let Some(kind) = &q.kind {
        check_choice("kind", kind, KINDS)?;
        conds.push("d.kind = ?".into());
        args.push(SqlValue::Text(kind.clone()));
    }
    if let Some(tool) = &q.tool {
        // Tools are a free set (MCP's too): `bash` is a spelling of `Bash`, not a
        // filter that quietly finds nothing.
        conds.push("d.tool = ? COLLATE NOCASE".into());
        args.push(SqlValue::Text(tool.clone()));
    }
    if let Some(model) = &q.model {
        conds.push("d.model LIKE ? ESCAPE '\\'".into());
        args.push(SqlValue::Text(format!("%{}%", like_escape(model))));
    }
    if let Some(since) = q.since {
        conds.push("d.ts >= ?".into());
        args.push(SqlValue::Integer(since.timestamp_millis()));
    }
    if let Some(until) = q.until {
        conds.push("d.ts < ?".into());
        args.push(SqlValue::Integer(until.timestamp_millis()));
    }
    if let Some(p) = &q.project {
        let (cond, project_args) = project_condition("project", p);
        conds.push(format!(
            "d.conversation_id IN (SELECT id FROM conversations WHERE {cond})"
        ));
        args.extend(project_args);
    }
    if let Some(file) = &q.file {
        let (cond, file_args) = path_condition("path", file);
        conds.push(format!(
            "d.conversation_id IN (SELECT conversation_id FROM tool_calls WHERE {cond})"
        ));
        args.extend(file_args);
    }
    if let Some(c) = &q.conversation {
        conds.push("d.conversation_id = ?".into());
        args.push(SqlValue::Integer(store.conversation_id_for(c)?));
    }
    // BM25 has to score every match before it can sort, which for a word found in
    // most tool outputs of a large store costs tens of milliseconds. So one pass walks
    // the doclist from its newest end and scores at most `window` matches; queries with
    // fewer matches are ranked over all of them. Only the page gets snippets. The
    // scores are `rank::scores`: FTS5's `bm25()` would walk every phrase's doclist
    // a second time for its document counts.
    let window = RANK_WINDOW.max(q.offset + q.limit + 1);
    // Without filters the doclist alone answers; joining docs for nothing costs more
    // than the walk itself.
    let join = if conds.len() > 1 {
        "JOIN docs d ON d.id = docs_fts.rowid"
    } else {
        ""
    };
    let sql = format!(
        "SELECT docs_fts.rowid, {hits}(docs_fts) FROM docs_fts {join} WHERE {}
         ORDER BY docs_fts.rowid DESC LIMIT ?",
        conds.join(" AND "),
        hits = rank::HITS,
    );
    args.push(SqlValue::Integer(window as i64));
    let matches = rank::matches(&store.conn, &sql, args).map_err(fts_errors)?;
    let truncated = matches.len() == window;
    let documents = rank::query_document_counts(&store.conn, &translation, &matches, window)
        .map_err(fts_errors)?;
    let mut candidates = rank::scores(&matches, &documents);
    // Best first; ties go to the newer document.
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    let next_offset = (candidates.len() > q.offset + q.limit).then(|| q.offset + q.limit);

    let page: Vec<(i64, f64)> = candidates
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .copied()
        .collect();
    let mut marked = page_snippets(store, &fts, &candidates, &page, &q.highlight)?;
    let mut detail = store.conn.prepare_cached(&format!(
        "SELECT c.session_key, {TITLE_SQL}, c.project, m.uuid, d.kind, d.role, d.tool, d.model, d.ts
         FROM docs d JOIN conversations c ON c.id = d.conversation_id JOIN messages m ON m.id = d.message_id
         WHERE d.id = ?1"
    ))?;
    let mut hits = Vec::with_capacity(page.len());
    for (id, score) in page {
        // A document deleted since the ranking has no snippet, as before.
        let Marked { snippet, idents } = marked.remove(&id).unwrap_or_default();
        let mut hit = detail
            .query_row(params![id], |r| {
                Ok(RankedHit {
                    hit: SearchHit {
                        session_id: r.get(0)?,
                        conversation_title: one_line(&r.get::<_, String>(1)?, 100),
                        project: r.get(2)?,
                        message_uuid: r.get(3)?,
                        kind: r.get(4)?,
                        role: r.get(5)?,
                        tool: r.get(6)?,
                        model: r.get(7)?,
                        at: from_ms(r.get(8)?),
                        snippet: snippet.replace(['\n', '\r', '\t'], " "),
                    },
                    score,
                })
            })
            .map_err(fts_error)?;
        if !q.highlight.0.is_empty() && !hit.hit.snippet.contains(&q.highlight.0) {
            if let Some(s) = identifier_snippet(store, id, idents.as_deref(), &q.highlight)? {
                hit.hit.snippet = s.replace(['\n', '\r', '\t'], " ");
            }
        }
        hits.push(hit);
    }
    Ok(SearchResults {
        hits,
        next_offset,
        ranked_newest: truncated.then_some(window),
    })
}

/// What FTS5 marks in one document of a page.
#[derive(Default)]
struct Marked {
    /// FTS5's snippet of the text.
    snippet: String,
    /// The `idents` column with each matched word between `char(1)` and `char(2)`,
    /// markers that cannot occur there (letters, digits, spaces, newlines).
    idents: Option<String>,
}

/// Two documents of a page are marked in one pass over the rowid range between
/// them when at most this many other matches lie in between.
const MATCHES_BETWEEN: usize = 32;

/// The snippets of a page's documents. A query per document (`rowid = ?`) sets the
/// whole match up again for each: for a prefix, FTS5 first merges the doclists of
/// every term it covers, and a page of `retry*` on the 1 GB synthetic corpus spent
/// 30 of its 36 ms there. One pass over a rowid range sets it up once, but tests
/// every match in the range, which for a phrase costs more than its setup. So a
/// prefix query marks its page in one pass; any other marks documents together
/// while the ranked `candidates` (every match in the range) say few other matches
/// lie between them.
fn page_snippets(
    store: &Store,
    fts: &str,
    candidates: &[(i64, f64)],
    page: &[(i64, f64)],
    highlight: &(String, String),
) -> Result<FxHashMap<i64, Marked>> {
    let mut ids: Vec<i64> = page.iter().map(|&(id, _)| id).collect();
    if fts.contains('*') {
        return mark(store, fts, &ids, highlight);
    }
    ids.sort_unstable();
    let mut matches: Vec<i64> = candidates.iter().map(|&(id, _)| id).collect();
    matches.sort_unstable();
    let between = |a: i64, b: i64| {
        matches
            .partition_point(|&m| m < b)
            .saturating_sub(matches.partition_point(|&m| m <= a))
    };
    let mut marked = FxHashMap::default();
    let mut start = 0;
    for end in 1..=ids.len() {
        if end == ids.len() || between(ids[end - 1], ids[end]) > MATCHES_BETWEEN {
            marked.extend(mark(store, fts, &ids[start..end], highlight)?);
            start = end;
        }
    }
    Ok(marked)
}

/// What FTS5 marks in documents `ids` (ascending or not) for query `fts`, in one
/// pass over the rowid range they span.
fn mark(
    store: &Store,
    fts: &str,
    ids: &[i64],
    (open, close): &(String, String),
) -> Result<FxHashMap<i64, Marked>> {
    let (Some(&low), Some(&high)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(FxHashMap::default());
    };
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let list = format!("[{}]", list.join(","));
    // `+rowid` keeps the list out of FTS5's plan: given it as `rowid = ?` once per
    // id, FTS5 would set the query up again for each.
    let mut stmt = store.conn.prepare_cached(
        "SELECT docs_fts.rowid, snippet(docs_fts, 0, ?2, ?3, '…', 24),
                highlight(docs_fts, 1, char(1), char(2))
         FROM docs_fts
         WHERE docs_fts MATCH ?1 AND docs_fts.rowid BETWEEN ?4 AND ?5
           AND +docs_fts.rowid IN (SELECT value FROM json_each(?6))",
    )?;
    let rows = stmt
        .query_map(params![fts, open, close, low, high, list], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Marked {
                    snippet: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    idents: r.get(2)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()
        .map_err(fts_error)?;
    Ok(rows)
}

/// Words shown on each side of an identifier in `identifier_snippet`.
const SNIPPET_WORDS: usize = 10;

/// The snippet of a document found through its `idents` column alone. FTS5's
/// snippet of the text marks nothing then (the text's token is the whole
/// `refreshToken`), so this marks, in the text, the identifier whose words matched.
/// Each `idents` line is one identifier's words separated by spaces: without the
/// spaces, it is the identifier as the text spells it. `None` when there is none.
fn identifier_snippet(
    store: &Store,
    id: i64,
    marked: Option<&str>,
    (open, close): &(String, String),
) -> Result<Option<String>> {
    let Some(marked) = marked else {
        return Ok(None);
    };
    let text: Option<String> = store
        .conn
        .prepare_cached("SELECT text FROM docs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(text) = text else {
        return Ok(None);
    };
    let Some(line) = marked.lines().find(|l| l.contains('\u{1}')) else {
        return Ok(None);
    };
    let ident: String = line
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{1}' | '\u{2}'))
        .collect();
    let Some(at) = find_word(&text, &ident) else {
        return Ok(None);
    };
    let (before, after) = (&text[..at], &text[at + ident.len()..]);
    let start = before
        .char_indices()
        .rev()
        .filter(|(_, c)| c.is_whitespace())
        .nth(SNIPPET_WORDS)
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = after
        .char_indices()
        .filter(|(_, c)| c.is_whitespace())
        .nth(SNIPPET_WORDS)
        .map_or(after.len(), |(i, _)| i);
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.push_str(&before[start..]);
    s.push_str(open);
    s.push_str(&ident);
    s.push_str(close);
    s.push_str(&after[..end]);
    if end < after.len() {
        s.push('…');
    }
    Ok(Some(s))
}

/// Byte offset of `word` in `text` as a whole run of letters and digits.
fn find_word(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Translation makes FTS5 syntax errors impossible in principle; if FTS5 still
/// objects, say so as a query problem rather than a database failure.
fn fts_error(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains("fts5") => {
            Error::BadQuery(msg)
        }
        other => Error::Sql(other),
    }
}

/// `fts_error` for an error the store wraps.
fn fts_errors(e: Error) -> Error {
    match e {
        Error::Sql(e) => fts_error(e),
        other => other,
    }
}

#[allow(dead_code)]
fn assert_catalog(s: &Store) -> &dyn Catalog {
    s
}
