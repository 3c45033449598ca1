//! BM25 without BM25's second walk of the index (#15).
//!
//! FTS5's `bm25()` learns, for each phrase's IDF, how many documents of the whole
//! index hold the phrase: on its first row it runs every phrase of the query as a
//! query of its own, over every document. Search already walks the newest matches
//! (`search::RANK_WINDOW` of them), so for a query of common words that second walk
//! was most of the time: `token refresh` 1 ms without it and 7 ms with it on the 1 GB
//! corpus, `refreshToken` (a phrase of two common words, ORed) 6 ms and 13 ms.
//!
//! Instead `obs_hits(docs_fts)`, an FTS5 auxiliary function, reports what BM25 needs
//! of each row (the index's row count and token total, the row's length, each
//! phrase's hits), and [`scores`] computes BM25 as FTS5 does but for each phrase's
//! document count ([`query_document_counts`]): counted among the matches walked
//! when a document needs only one phrase, else by a query of each phrase's own
//! that stops at its newest matches as the search does. Exact when the matches are
//! all there are; from only the newest, scaled by how densely they hold the phrase.
//! The top 20 agree with `bm25()`'s on 99.8% of the search benchmark's queries
//! (docs/benchmarks.md).

use std::ffi::{c_int, c_void};
use std::ptr;

use rusqlite::types::Value;
use rusqlite::{ffi, params_from_iter, Connection};
use smallvec::SmallVec;

use crate::fts::Translation;
use crate::{Error, Result};

/// The name SQL calls it by: `SELECT rowid, obs_hits(docs_fts) FROM docs_fts WHERE …`.
pub const HITS: &str = "obs_hits";

/// BM25's parameters, FTS5's defaults.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Registers `obs_hits` with the connection's FTS5.
pub fn register(conn: &Connection) -> Result<()> {
    let api = fts5_api(conn)?;
    // SAFETY: `api` is FTS5's own table of entry points for this connection, valid as
    // long as the connection is; the name is a NUL-terminated literal that FTS5 copies.
    let rc = unsafe {
        let create = (*api)
            .xCreateFunction
            .ok_or_else(|| Error::Internal("FTS5 has no xCreateFunction".into()))?;
        create(api, c"obs_hits".as_ptr(), ptr::null_mut(), Some(hits), None)
    };
    if rc != ffi::SQLITE_OK {
        return Err(Error::Internal(format!(
            "registering {HITS} with FTS5 failed (SQLite error {rc})"
        )));
    }
    Ok(())
}

/// FTS5's API pointer, which it hands out only through `SELECT fts5(?)` with a
/// pointer bound to the parameter.
fn fts5_api(conn: &Connection) -> Result<*mut ffi::fts5_api> {
    let mut api: *mut ffi::fts5_api = ptr::null_mut();
    // SAFETY: the statement is prepared, stepped and finalized on this connection's
    // handle before the function returns; the bound pointer outlives the step.
    let rc = unsafe {
        let db = conn.handle();
        let mut stmt = ptr::null_mut();
        let mut rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            ptr::null_mut(),
        );
        if rc == ffi::SQLITE_OK {
            rc = ffi::sqlite3_bind_pointer(
                stmt,
                1,
                (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
                c"fts5_api_ptr".as_ptr(),
                None,
            );
            if rc == ffi::SQLITE_OK {
                rc = ffi::sqlite3_step(stmt);
                if rc == ffi::SQLITE_ROW {
                    rc = ffi::SQLITE_OK;
                }
            }
        }
        ffi::sqlite3_finalize(stmt);
        rc
    };
    if rc != ffi::SQLITE_OK || api.is_null() {
        return Err(Error::Internal(format!(
            "SQLite's FTS5 API is not available (SQLite error {rc})"
        )));
    }
    Ok(api)
}

/// What `obs_hits` reports of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Hits {
    /// Rows in the index.
    pub rows: i64,
    /// Tokens in the index, every column.
    pub tokens: i64,
    /// Tokens in this row, every column.
    pub length: u32,
    /// How many times each phrase of the query occurs in this row, in query order.
    pub phrases: Phrases,
}

/// Each phrase's count in one row: a query has a few phrases, and a search decodes
/// 2,000 rows.
pub type Phrases = SmallVec<[u32; 6]>;

impl Hits {
    /// The layout `obs_hits` returns: little-endian `rows`, `tokens` (8 bytes each),
    /// `length`, then each phrase's count (4 bytes each).
    pub fn decode(blob: &[u8]) -> Option<Hits> {
        let (head, rest) = blob.split_at_checked(20)?;
        if rest.len() % 4 != 0 {
            return None;
        }
        let i64_at = |at: usize| {
            head.get(at..at + 8)?
                .try_into()
                .ok()
                .map(i64::from_le_bytes)
        };
        let u32_of = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
        Some(Hits {
            rows: i64_at(0)?,
            tokens: i64_at(8)?,
            length: u32_of(head.get(16..20)?)?,
            phrases: rest.chunks_exact(4).filter_map(u32_of).collect(),
        })
    }

    fn encode(&self) -> SmallVec<[u8; 64]> {
        let mut out = SmallVec::new();
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        for n in &self.phrases {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }
}

unsafe extern "C" fn hits(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: FTS5 calls this with its API table and the current row's context, both
    // valid for the call.
    let result = unsafe { api.as_ref().map(|api| row_hits(api, fts)) };
    // SAFETY: `ctx` is the call's result context; SQLITE_TRANSIENT makes SQLite copy
    // the blob before `bytes` is dropped.
    unsafe {
        match result {
            Some(Ok(h)) => {
                let bytes = h.encode();
                ffi::sqlite3_result_blob(
                    ctx,
                    bytes.as_ptr().cast::<c_void>(),
                    // At most 20 bytes and 4 per phrase: FTS5 limits a query's phrases
                    // far below c_int's range.
                    c_int::try_from(bytes.len()).unwrap_or(c_int::MAX),
                    ffi::SQLITE_TRANSIENT(),
                );
            }
            Some(Err(rc)) => ffi::sqlite3_result_error_code(ctx, rc),
            None => ffi::sqlite3_result_error_code(ctx, ffi::SQLITE_MISUSE),
        }
    }
}

/// The current row's hits, as FTS5's `bm25()` counts them (`fts5Bm25Function`).
///
/// # Safety
/// `fts` must be the context FTS5 passed with `api` to an auxiliary function call.
unsafe fn row_hits(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
) -> std::result::Result<Hits, c_int> {
    let missing = ffi::SQLITE_MISUSE;
    let check = |rc: c_int| {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(rc)
        }
    };
    let (mut length, mut instances): (c_int, c_int) = (0, 0);
    // SAFETY: each entry point is called with the context it was given, and with
    // out-pointers to locals that live through the call. The auxiliary data is a
    // `Totals` this function boxed for this query, freed by `free_totals`.
    unsafe {
        let cached = api.xGetAuxdata.ok_or(missing)?(fts, 0).cast::<Totals>();
        let totals = match cached.as_ref() {
            Some(t) => *t,
            None => {
                let mut t = Totals::default();
                check(api.xRowCount.ok_or(missing)?(fts, &mut t.rows))?;
                check(api.xColumnTotalSize.ok_or(missing)?(fts, -1, &mut t.tokens))?;
                let boxed = Box::into_raw(Box::new(t)).cast::<c_void>();
                check(api.xSetAuxdata.ok_or(missing)?(
                    fts,
                    boxed,
                    Some(free_totals),
                ))?;
                t
            }
        };
        check(api.xColumnSize.ok_or(missing)?(fts, -1, &mut length))?;
        let phrase_count = api.xPhraseCount.ok_or(missing)?(fts);
        let mut phrases: Phrases =
            SmallVec::from_elem(0, usize::try_from(phrase_count).unwrap_or(0));
        check(api.xInstCount.ok_or(missing)?(fts, &mut instances))?;
        let inst = api.xInst.ok_or(missing)?;
        for i in 0..instances {
            let (mut phrase, mut column, mut offset) = (0, 0, 0);
            check(inst(fts, i, &mut phrase, &mut column, &mut offset))?;
            if let Some(n) = usize::try_from(phrase)
                .ok()
                .and_then(|p| phrases.get_mut(p))
            {
                *n += 1;
            }
        }
        Ok(Hits {
            rows: totals.rows,
            tokens: totals.tokens,
            length: u32::try_from(length).unwrap_or(0),
            phrases,
        })
    }
}

/// The index's totals, the same for every row of a query: read once per query.
#[derive(Clone, Copy, Default)]
struct Totals {
    rows: i64,
    tokens: i64,
}

unsafe extern "C" fn free_totals(p: *mut c_void) {
    // SAFETY: FTS5 calls this once with the pointer `row_hits` made from a Box.
    drop(unsafe { Box::from_raw(p.cast::<Totals>()) });
}

/// The rowids and [`Hits`] of a query's matches: `sql` selects a rowid and
/// `obs_hits(docs_fts)`.
pub fn matches(conn: &Connection, sql: &str, args: Vec<Value>) -> Result<Vec<(i64, Hits)>> {
    conn.prepare_cached(sql)?
        .query_map(params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get_ref(1)?.as_blob().map(Hits::decode)?))
        })?
        .map(|row| match row {
            Ok((id, Some(hits))) => Ok((id, hits)),
            Ok((id, None)) => Err(Error::Internal(format!(
                "{HITS} returned a malformed row for document {id}"
            ))),
            Err(e) => Err(e.into()),
        })
        .collect()
}

/// Each phrase's document count for ranking `found`, the newest `window` matches
/// (or fewer: all of them) of the query `t`. Among them when a document needs only
/// one of the terms; when the terms must all be there each phrase would count as
/// many as the query matches, so each is counted by a query of its own over its
/// newest `window` matches (unfiltered, as FTS5 counts), scaled as
/// [`document_counts`] scales.
pub fn query_document_counts(
    conn: &Connection,
    t: &Translation,
    found: &[(i64, Hits)],
    window: usize,
) -> Result<Vec<f64>> {
    let Some((_, first)) = found.first() else {
        return Ok(Vec::new());
    };
    if !t.all_of {
        return Ok(document_counts(found, found.len() < window));
    }
    let rows = first.rows.max(1) as f64;
    let mut count = conn.prepare_cached(
        "SELECT count(*), min(rowid), max(rowid) FROM (
           SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2)",
    )?;
    let mut counts = Vec::with_capacity(t.phrases.len());
    for phrase in &t.phrases {
        let (n, low, high): (i64, Option<i64>, Option<i64>) = count
            .query_row(rusqlite::params![phrase, window as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let newest = match (low, high) {
            (Some(low), Some(high)) if n >= window as i64 => Some((low, high)),
            _ => None,
        };
        counts.push(scaled(n as f64, newest, rows));
    }
    Ok(counts)
}

/// A count of documents among the matches of a query, made a count over the whole
/// index: as it is when they were every match, else (only the `newest`, the rowids
/// from `.0` to `.1`) scaled by how densely the rowids they span hold them.
fn scaled(n: f64, newest: Option<(i64, i64)>, rows: f64) -> f64 {
    match newest {
        None => n,
        Some((low, high)) => {
            let span = (high.saturating_sub(low) as f64 + 1.0).min(rows);
            (n * rows / span).min(rows)
        }
    }
}

/// How many documents of the index hold each phrase, estimated from `matches` of a
/// query (every match when `all`, else the newest): counted among them, then, when
/// they are only the newest, scaled by how densely the rowids they span hold the
/// phrase. Exact, as FTS5's `bm25()` counts, for every match of one phrase or of
/// phrases ORed; phrases ANDed each need a query of their own.
pub fn document_counts(matches: &[(i64, Hits)], all: bool) -> Vec<f64> {
    let Some((_, first)) = matches.first() else {
        return Vec::new();
    };
    let mut documents = vec![0f64; first.phrases.len()];
    for (_, h) in matches {
        for (d, n) in documents.iter_mut().zip(&h.phrases) {
            if *n > 0 {
                *d += 1.0;
            }
        }
    }
    let newest = (!all).then(|| {
        matches
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), (id, _)| {
                (lo.min(*id), hi.max(*id))
            })
    });
    let rows = first.rows.max(1) as f64;
    documents.iter().map(|&n| scaled(n, newest, rows)).collect()
}

/// BM25 scores of `matches` (higher is better), as FTS5's `bm25()` computes them
/// with every column weighted 1, given each phrase's document count (`documents`,
/// in query order; a phrase without one counts as in every document).
pub fn scores(matches: &[(i64, Hits)], documents: &[f64]) -> Vec<(i64, f64)> {
    let Some((_, first)) = matches.first() else {
        return Vec::new();
    };
    let rows = first.rows.max(1) as f64;
    let average = (first.tokens as f64 / rows).max(1.0);
    let idf: Vec<f64> = (0..first.phrases.len())
        .map(|i| {
            let n = documents.get(i).copied().unwrap_or(rows);
            ((rows - n + 0.5) / (n + 0.5)).ln().max(1e-6)
        })
        .collect();
    matches
        .iter()
        .map(|(id, h)| {
            let norm = K1 * (1.0 - B + B * f64::from(h.length) / average);
            let score = h
                .phrases
                .iter()
                .zip(&idf)
                .map(|(f, idf)| {
                    let f = f64::from(*f);
                    idf * f * (K1 + 1.0) / (f + norm)
                })
                .sum();
            (*id, score)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE VIRTUAL TABLE docs_fts USING fts5(text, idents, tokenize = 'porter unicode61');
             INSERT INTO docs_fts(rowid, text, idents) VALUES
               (1, 'refresh the token then refresh it again', ''),
               (2, 'a token', 'refresh token'),
               (3, 'nothing to see here but a token among other words', ''),
               (4, 'refresh refresh refresh token token', '');",
        )
        .expect("fill");
        register(&conn).expect("register");
        conn
    }

    fn hits_of(conn: &Connection, query: &str) -> Vec<(i64, Hits)> {
        let mut stmt = conn
            .prepare("SELECT rowid, obs_hits(docs_fts) FROM docs_fts WHERE docs_fts MATCH ?1 ORDER BY rowid")
            .expect("prepare");
        stmt.query_map([query], |r| {
            let blob: Vec<u8> = r.get(1)?;
            Ok((r.get(0)?, Hits::decode(&blob).expect("decodes")))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
    }

    #[test]
    fn hits_count_each_phrase_in_every_column() {
        let conn = store();
        let found = hits_of(&conn, "\"refresh\" AND \"token\"");
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 4]);
        assert_eq!(found[0].1.phrases[..], [2, 1]);
        // Row 2 holds `refresh` only in its identifier column.
        assert_eq!(found[1].1.phrases[..], [1, 2]);
        assert_eq!(found[2].1.phrases[..], [3, 2]);
        assert_eq!(found[0].1.rows, 4);
        assert_eq!(found[0].1.length, 7);
        assert_eq!(found[1].1.length, 4);
    }

    /// FTS5's own `bm25()` of each match (negated: higher is better), by rowid.
    fn bm25_of(conn: &Connection, query: &str) -> Vec<(i64, f64)> {
        conn.prepare(
            "SELECT rowid, -bm25(docs_fts) FROM docs_fts WHERE docs_fts MATCH ?1 ORDER BY rowid",
        )
        .expect("prepare")
        .query_map([query], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
    }

    #[test]
    fn scores_over_every_match_order_as_fts5s_bm25() {
        let conn = store();
        for query in ["\"refresh\"", "\"refresh\" OR \"nothing\"", "\"token\""] {
            let found = hits_of(&conn, query);
            let ours = scores(&found, &document_counts(&found, true));
            let theirs = bm25_of(&conn, query);
            assert_eq!(ours.len(), theirs.len(), "{query}");
            for ((a, x), (b, y)) in ours.iter().zip(&theirs) {
                assert_eq!(a, b);
                assert!(
                    (x - y).abs() < 1e-9,
                    "{query}: row {a}: {x} against bm25 {y}"
                );
            }
        }
    }

    #[test]
    fn phrases_anded_score_as_fts5s_bm25_given_their_own_counts() {
        let conn = store();
        let t =
            crate::fts::to_fts_translation("refresh token -nothing", false).expect("translates");
        assert_eq!(t.phrases, ["\"refresh\"", "\"token\""]);
        let query = t.query.as_str();
        let found = hits_of(&conn, query);
        let documents = query_document_counts(&conn, &t, &found, 2).expect("counts");
        // The newest 2 of `refresh` span rowids 2..4 (2 of 3 rows: 8/3 of the 4),
        // those of `token` 3..4 (all 4).
        assert_eq!(documents, [2.0 * 4.0 / 3.0, 4.0]);
        let documents = query_document_counts(&conn, &t, &found, 100).expect("counts");
        assert_eq!(documents, [3.0, 4.0]);
        let ours = scores(&found, &documents);
        let theirs = bm25_of(&conn, query);
        for ((a, x), (b, y)) in ours.iter().zip(&theirs) {
            assert_eq!(a, b);
            assert!((x - y).abs() < 1e-9, "row {a}: {x} against bm25 {y}");
        }
    }

    #[test]
    fn a_rarer_phrase_weighs_more() {
        let rows = |phrases: [u32; 2]| Hits {
            rows: 1000,
            tokens: 10_000,
            length: 10,
            phrases: Phrases::from_slice(&phrases),
        };
        // Phrase 0 is in every match, phrase 1 in one: a row with the rare one once
        // outranks a row with the common one twice.
        let mut matches: Vec<(i64, Hits)> = (1..=50).map(|id| (id, rows([1, 0]))).collect();
        matches.push((51, rows([2, 0])));
        matches.push((52, rows([0, 1])));
        let s = scores(&matches, &document_counts(&matches, true));
        let of = |id: i64| {
            s.iter()
                .find(|(i, _)| *i == id)
                .map(|(_, s)| *s)
                .unwrap_or(0.0)
        };
        assert!(of(52) > of(51), "{} against {}", of(52), of(51));
        assert!(of(51) > of(1));
    }

    #[test]
    fn a_window_of_the_newest_scales_counts_to_the_whole_index() {
        let h = |phrases: &[u32]| Hits {
            rows: 10_000,
            tokens: 100_000,
            length: 10,
            phrases: Phrases::from_slice(phrases),
        };
        // 100 matches spanning the newest 991 rows: about 1,009 in the whole index.
        let matches: Vec<(i64, Hits)> = (0..100).map(|i| (9_001 + i * 10, h(&[1]))).collect();
        let window = document_counts(&matches, false);
        assert_eq!(window.len(), 1);
        assert!(
            (window[0] - 100.0 * 10_000.0 / 991.0).abs() < 1e-9,
            "{window:?}"
        );
        assert_eq!(document_counts(&matches, true), [100.0]);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(Hits::decode(&[1, 2, 3]), None);
        assert_eq!(Hits::decode(&[0; 21]), None);
        let h = Hits {
            rows: 3,
            tokens: 9,
            length: 2,
            phrases: Phrases::from_slice(&[0, 5]),
        };
        assert_eq!(Hits::decode(&h.encode()), Some(h));
    }
}
