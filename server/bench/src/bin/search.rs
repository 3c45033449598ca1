//! `observatory-search-bench`: which FTS5 tokenizer search should use (issue #15).
//!
//! Each variant (tokenizer, with or without the `idents` column of camelCase words,
//! with the plain or the expanding query translation) gets its own index, built
//! the same way:
//!
//! - **recall**: a set of queries (word forms, snake/camel/spaced identifiers,
//!   prefixes) over the documents of the real fixtures
//!   (`/work/shared/fixtures/transcripts`, indexed by the store) plus synthetic
//!   text; the expected documents of each query come from an oracle that reads
//!   the words the way a person does (identifiers split, word forms listed).
//! - **size and build time**: the documents of an indexed synthetic corpus
//!   (`data-<size>`, as `observatory-bench` leaves it), with a table of the bare
//!   documents as the baseline.
//! - **latency**: the queries of `observatory-bench` plus word-form and identifier
//!   queries, run as `search.rs` runs them (the newest 2,000 matches ranked with
//!   BM25, snippets for the top 20).
//!
//! ```sh
//! cargo build --release -p observatory-cli -p observatory-bench
//! $CARGO_TARGET_DIR/release/observatory-search-bench --size 300MB
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../common.rs"]
mod common;

use anyhow::{Context, Result};
use clap::Parser;
use common::{ms, percentile};
use observatory_store::fts::{
    identifier_words, to_fts_translation, to_plain_fts_translation, Translation,
};
use observatory_store::rank;
use rusqlite::{params, Connection};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    setup: common::Setup,
    /// Transcripts whose documents join the recall set
    #[arg(long, default_value = "/work/shared/fixtures/transcripts")]
    fixtures: PathBuf,
    /// Runs of each latency query
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Print each recall query's figures per variant
    #[arg(long)]
    verbose: bool,
}

#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    tokenize: &'static str,
    /// The `idents` column and the expanding translation (`to_fts_query`).
    idents: bool,
    /// Trigram matches substrings: `*` is dropped (a substring covers its prefix).
    trigram: bool,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "unicode61 (before #15)",
        tokenize: "unicode61 remove_diacritics 2",
        idents: false,
        trigram: false,
    },
    Variant {
        name: "porter unicode61",
        tokenize: "porter unicode61 remove_diacritics 2",
        idents: false,
        trigram: false,
    },
    Variant {
        name: "trigram",
        tokenize: "trigram",
        idents: false,
        trigram: true,
    },
    Variant {
        name: "unicode61 + identifiers",
        tokenize: "unicode61 remove_diacritics 2",
        idents: true,
        trigram: false,
    },
    Variant {
        name: "porter unicode61 + identifiers (chosen)",
        tokenize: "porter unicode61 remove_diacritics 2",
        idents: true,
        trigram: false,
    },
];

/// What a person expects a query to find, over the words of a document.
enum Expect {
    /// Any of these words (lower case).
    Forms(&'static [&'static str]),
    /// These words next to each other (an identifier in any spelling).
    Words(&'static [&'static str]),
    /// A word, or a whole identifier, starting with this.
    Prefix(&'static str),
}

const PERMISSION: &[&str] = &["permission", "permissions"];
const REFRESH: &[&str] = &["refresh", "refreshes", "refreshed", "refreshing"];
const TEST: &[&str] = &["test", "tests", "tested", "testing"];
const FAIL: &[&str] = &["fail", "fails", "failed", "failing"];
const RETRY: &[&str] = &["retry", "retries", "retried", "retrying"];
const FILTER: &[&str] = &["filter", "filters", "filtered", "filtering"];
const TODO: &[&str] = &["todo", "todos"];
const NOTE: &[&str] = &["note", "notes"];
const MIGRATION: &[&str] = &["migration", "migrations"];
const REFRESH_TOKEN: &[&str] = &["refresh", "token"];
const USER_ID: &[&str] = &["user", "id"];
const LOCAL_STORAGE: &[&str] = &["local", "storage"];
const CLASS_NAME: &[&str] = &["class", "name"];
const TOKEN_LAYERS: &[&str] = &["token", "layers"];
const SET_FILTER: &[&str] = &["set", "filter"];
const HTTP_SERVER: &[&str] = &["http", "server"];
const MAX_RETRIES: &[&str] = &["max", "retries"];

/// The recall set: (class, query, expected).
const CASES: &[(&str, &str, Expect)] = &[
    ("word forms", "permission", Expect::Forms(PERMISSION)),
    ("word forms", "permissions", Expect::Forms(PERMISSION)),
    ("word forms", "refreshing", Expect::Forms(REFRESH)),
    ("word forms", "refresh", Expect::Forms(REFRESH)),
    ("word forms", "tests", Expect::Forms(TEST)),
    ("word forms", "testing", Expect::Forms(TEST)),
    ("word forms", "failed", Expect::Forms(FAIL)),
    ("word forms", "retries", Expect::Forms(RETRY)),
    ("word forms", "filter", Expect::Forms(FILTER)),
    ("word forms", "todos", Expect::Forms(TODO)),
    ("word forms", "notes", Expect::Forms(NOTE)),
    ("word forms", "migrations", Expect::Forms(MIGRATION)),
    ("identifiers", "refreshToken", Expect::Words(REFRESH_TOKEN)),
    ("identifiers", "refresh_token", Expect::Words(REFRESH_TOKEN)),
    ("identifiers", "refresh token", Expect::Words(REFRESH_TOKEN)),
    ("identifiers", "RefreshToken", Expect::Words(REFRESH_TOKEN)),
    ("identifiers", "userId", Expect::Words(USER_ID)),
    ("identifiers", "user_id", Expect::Words(USER_ID)),
    ("identifiers", "localStorage", Expect::Words(LOCAL_STORAGE)),
    ("identifiers", "local storage", Expect::Words(LOCAL_STORAGE)),
    ("identifiers", "className", Expect::Words(CLASS_NAME)),
    ("identifiers", "class_name", Expect::Words(CLASS_NAME)),
    ("identifiers", "token_layers", Expect::Words(TOKEN_LAYERS)),
    ("identifiers", "tokenLayers", Expect::Words(TOKEN_LAYERS)),
    ("identifiers", "set filter", Expect::Words(SET_FILTER)),
    ("identifiers", "http_server", Expect::Words(HTTP_SERVER)),
    ("identifiers", "HTTPServer", Expect::Words(HTTP_SERVER)),
    ("identifiers", "max_retries", Expect::Words(MAX_RETRIES)),
    ("identifiers", "maxRetries", Expect::Words(MAX_RETRIES)),
    ("prefixes", "perm*", Expect::Prefix("perm")),
    ("prefixes", "permissi*", Expect::Prefix("permissi")),
    ("prefixes", "configura*", Expect::Prefix("configura")),
    ("prefixes", "authenticat*", Expect::Prefix("authenticat")),
    ("prefixes", "refr*", Expect::Prefix("refr")),
    ("prefixes", "refreshin*", Expect::Prefix("refreshin")),
    ("prefixes", "filt*", Expect::Prefix("filt")),
    ("prefixes", "tok*", Expect::Prefix("tok")),
    ("prefixes", "retrie*", Expect::Prefix("retrie")),
];

/// Synthetic text for the recall set: each identifier in every spelling people and
/// code use, word forms, and near misses (`tokenizer`, `latest`, `refreshment`)
/// that substring or stem matching may wrongly find.
fn synthetic_docs() -> Vec<String> {
    let mut docs = Vec::new();
    let concepts: [(&str, &str); 6] = [
        ("refresh", "token"),
        ("user", "id"),
        ("local", "storage"),
        ("http", "server"),
        ("max", "retries"),
        ("class", "name"),
    ];
    for (a, b) in concepts {
        let cap = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        let camel = format!("{a}{}", cap(b));
        let pascal = format!("{}{}", cap(a), cap(b));
        let acronym = format!("{}{}", a.to_uppercase(), cap(b));
        for spelled in [
            camel.clone(),
            pascal.clone(),
            acronym,
            format!("{a}_{b}"),
            format!("{}_{}", a.to_uppercase(), b.to_uppercase()),
            format!("{a}-{b}"),
            format!("{a} {b}"),
        ] {
            docs.push(format!("The handler reads {spelled} before the request."));
        }
        docs.push(format!(
            "let {camel} = await get{pascal}(session);\nif (!{camel}) throw new Error('missing');"
        ));
        docs.push(format!("self.{a}_{b} = config.get(\"{a}_{b}\")"));
        docs.push(format!(
            "The {b} of the {a} was missing, so nothing happened."
        ));
    }
    for s in [
        "Permission denied while writing the lock file.",
        "The permissions of ~/.claude are 0700 now.",
        "PermissionError: [Errno 13] when opening the socket",
        "Check that the service account has the right permission set.",
        "We refresh the cache every minute.",
        "Refreshing the token failed, retrying in 5 s.",
        "The page refreshes itself; it refreshed twice.",
        "A refreshment break, then back to the tokenizer.",
        "All tests pass; the test of the parser is new.",
        "I tested the endpoint and testing showed a timeout.",
        "The build failed because one check fails when the network is down.",
        "It keeps failing on CI; the first step fail is flaky.",
        "The client retries three times; it retried once and is retrying now.",
        "retry the request with backoff",
        "Filtered rows: the filter drops filters that match nothing, filtering is lazy.",
        "Run the migrations; the migration adds a column.",
        "The configuration file is configurable and configured at start-up.",
        "Authentication failed: the authenticator rejected an unauthenticated request.",
        "The latest contest results were attested.",
        "Notes: the note about scale notes.",
        "The todo list has three todos.",
        "The running process and its runner.",
    ] {
        docs.push(s.to_owned());
    }
    docs
}

/// The words of a document as a person reads them: letters and digits, with
/// camelCase identifiers split, lower case; plus each whole run, for prefixes.
fn words_of(text: &str) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mut runs = Vec::new();
    for run in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|r| !r.is_empty())
    {
        runs.push(run.to_lowercase());
        match identifier_words(run) {
            Some(split) => words.extend(split.split(' ').map(str::to_lowercase)),
            None => words.push(run.to_lowercase()),
        }
    }
    (words, runs)
}

fn expected(e: &Expect, words: &[String], runs: &[String]) -> bool {
    match e {
        Expect::Forms(forms) => words.iter().any(|w| forms.contains(&w.as_str())),
        Expect::Words(seq) => words
            .windows(seq.len())
            .any(|w| w.iter().zip(seq.iter()).all(|(a, b)| a == b)),
        Expect::Prefix(p) => words.iter().chain(runs).any(|w| w.starts_with(p)),
    }
}

fn translate(v: &Variant, q: &str) -> Result<Translation> {
    let mut t = if v.idents {
        to_fts_translation(q, false)?
    } else {
        to_plain_fts_translation(q)?
    };
    if v.trigram {
        for s in std::iter::once(&mut t.query).chain(&mut t.phrases) {
            *s = s.replace("\"*", "\"");
        }
    }
    Ok(t)
}

/// A database with `docs` and, unless `variant` is None, its full-text index, as
/// the store lays them out. Returns the time to fill it.
fn build(path: &Path, docs: &[(i64, String)], variant: Option<&Variant>) -> Result<Duration> {
    let _ = std::fs::remove_file(path);
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.execute_batch(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT NOT NULL, idents TEXT)",
    )?;
    if let Some(v) = variant {
        let columns = if v.idents { "text, idents" } else { "text" };
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE docs_fts USING fts5({columns}, content='docs', content_rowid='id', tokenize='{}')",
            v.tokenize
        ))?;
    }
    let t = Instant::now();
    // Transactions of about 32 MB of text, as a bulk index run commits.
    for chunk in docs.chunks(20_000) {
        let tx = conn.transaction()?;
        {
            let mut doc = tx.prepare("INSERT INTO docs (id, text, idents) VALUES (?1, ?2, ?3)")?;
            let mut fts_plain = tx
                .prepare("INSERT INTO docs_fts (rowid, text) VALUES (?1, ?2)")
                .ok();
            let mut fts_idents = tx
                .prepare("INSERT INTO docs_fts (rowid, text, idents) VALUES (?1, ?2, ?3)")
                .ok();
            for (id, text) in chunk {
                let idents = variant
                    .filter(|v| v.idents)
                    .and_then(|_| identifier_words(text));
                doc.execute(params![id, text, idents])?;
                match variant {
                    Some(v) if v.idents => {
                        if let Some(s) = fts_idents.as_mut() {
                            s.execute(params![id, text, idents])?;
                        }
                    }
                    Some(_) => {
                        if let Some(s) = fts_plain.as_mut() {
                            s.execute(params![id, text])?;
                        }
                    }
                    None => {}
                }
            }
        }
        tx.commit()?;
    }
    let took = t.elapsed();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    Ok(took)
}

/// The search as `search.rs` runs it without filters: the newest 2,000 matches
/// ranked (`rank`), snippets of the top 20 in one pass over the rowid range they span
/// (`search.rs` splits that pass where many other matches lie between two of them;
/// comparing tokenizers does not need that). Returns how many matched (up to the
/// window).
fn search(conn: &Connection, t: &Translation) -> Result<usize> {
    let fts = &t.query;
    let mut cands = ranked(conn, t)?;
    cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    let page: Vec<i64> = cands.iter().take(20).map(|&(id, _)| id).collect();
    let (Some(&low), Some(&high)) = (page.iter().min(), page.iter().max()) else {
        return Ok(0);
    };
    let list = serde_json::to_string(&page)?;
    let mut snip = conn.prepare_cached(
        "SELECT snippet(docs_fts, 0, '[', ']', '…', 24) FROM docs_fts
         WHERE docs_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3
           AND +rowid IN (SELECT value FROM json_each(?4))",
    )?;
    let snippets: Vec<Option<String>> = snip
        .query_map(params![fts, low, high, list], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    std::hint::black_box(snippets);
    Ok(cands.len())
}

/// The newest `WINDOW` matches with their `rank` scores, unsorted.
fn ranked(conn: &Connection, t: &Translation) -> Result<Vec<(i64, f64)>> {
    let found = rank::matches(
        conn,
        &format!(
            "SELECT rowid, obs_hits(docs_fts) FROM docs_fts WHERE docs_fts MATCH ?1
             ORDER BY rowid DESC LIMIT {WINDOW}"
        ),
        vec![t.query.clone().into()],
    )?;
    let documents = rank::query_document_counts(conn, t, &found, WINDOW)?;
    Ok(rank::scores(&found, &documents))
}

/// Every document id a query matches (no window).
fn matches(conn: &Connection, fts: &str) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached("SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?1")?
        .query_map([fts], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The documents of the fixtures, indexed by the store, then the synthetic ones.
fn recall_docs(fixtures: &Path, work: &Path) -> Result<Vec<(i64, String)>> {
    let db = work.join("search-bench-fixtures.db");
    let _ = std::fs::remove_file(&db);
    {
        let mut store = observatory_store::Store::open(&db)?;
        let mut stack = vec![fixtures.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir)?.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    store.index_path(&p)?;
                }
            }
        }
    }
    let conn = Connection::open(&db)?;
    let mut docs: Vec<(i64, String)> = conn
        .prepare("SELECT id, text FROM docs ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let next = docs.last().map_or(1, |d| d.0 + 1);
    docs.extend((next..).zip(synthetic_docs()));
    Ok(docs)
}

/// Word forms and identifiers, after `observatory-bench`'s twenty (`common::QUERIES`).
const MORE_QUERIES: [&str; 10] = [
    "permissions",
    "refreshing",
    "refreshToken",
    "refresh_token",
    "userId",
    "configura*",
    "handlers",
    "retries",
    "parseConfig",
    "migrat*",
];

/// The latency queries: `observatory-bench`'s, then word forms and identifiers.
fn latency_queries() -> Vec<&'static str> {
    common::QUERIES
        .iter()
        .chain(MORE_QUERIES.iter())
        .copied()
        .collect()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let work = args.setup.work.clone();
    std::fs::create_dir_all(&work)?;

    // Recall.
    let docs = recall_docs(&args.fixtures, &work)?;
    let seen: Vec<(Vec<String>, Vec<String>)> = docs.iter().map(|(_, t)| words_of(t)).collect();
    eprintln!(
        "recall set: {} documents, {} queries",
        docs.len(),
        CASES.len()
    );
    let mut recall_rows = Vec::new();
    for v in &VARIANTS {
        let db = work.join("search-bench-recall.db");
        build(&db, &docs, Some(v))?;
        let conn = Connection::open(&db)?;
        // per class: (found relevant, relevant, found)
        let mut by_class: Vec<(&str, usize, usize, usize)> = Vec::new();
        for (class, q, e) in CASES {
            let want: std::collections::HashSet<i64> = docs
                .iter()
                .zip(&seen)
                .filter(|(_, (w, r))| expected(e, w, r))
                .map(|(d, _)| d.0)
                .collect();
            let got: std::collections::HashSet<i64> = matches(&conn, &translate(v, q)?.query)
                .with_context(|| format!("{} {q}", v.name))?
                .into_iter()
                .collect();
            let hit = got.intersection(&want).count();
            if args.verbose {
                eprintln!(
                    "{:<42} {q:<16} {hit}/{} found, {} extra",
                    v.name,
                    want.len(),
                    got.len() - hit
                );
            }
            match by_class.iter_mut().find(|c| c.0 == *class) {
                Some(c) => {
                    c.1 += hit;
                    c.2 += want.len();
                    c.3 += got.len();
                }
                None => by_class.push((class, hit, want.len(), got.len())),
            }
        }
        recall_rows.push((v.name, by_class));
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    }

    // Size, build time and latency on the indexed synthetic corpus.
    let data = args.setup.data();
    let source = observatory_store::database_path(&data);
    let corpus_docs: Vec<(i64, String)> = {
        let conn = Connection::open_with_flags(&source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| {
                format!(
                    "{}: index the corpus first (observatory-bench --size {})",
                    source.display(),
                    args.setup.size
                )
            })?;
        let v = conn
            .prepare("SELECT id, text FROM docs ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        v
    };
    let text_bytes: usize = corpus_docs.iter().map(|d| d.1.len()).sum();
    eprintln!(
        "corpus {}: {} documents, {:.0} MB of text",
        args.setup.size,
        corpus_docs.len(),
        text_bytes as f64 / 1e6
    );
    let db = work.join("search-bench-corpus.db");
    let bare_time = build(&db, &corpus_docs, None)?;
    let bare_size = file_size(&db);
    let mut corpus_rows = Vec::new();
    for v in &VARIANTS {
        let took = build(&db, &corpus_docs, Some(v))?;
        let size = file_size(&db).saturating_sub(bare_size);
        let conn = Connection::open(&db)?;
        conn.pragma_update(None, "cache_size", -65536)?;
        rank::register(&conn)?;
        let mut lat = Vec::new();
        let mut lat20 = Vec::new();
        let mut slowest = Vec::new();
        for (i, q) in latency_queries().into_iter().enumerate() {
            let fts = translate(v, q)?;
            let _ = search(&conn, &fts)?; // warm the cache, as a running server has it
            let mut best = Duration::MAX;
            for _ in 0..args.samples {
                let t = Instant::now();
                search(&conn, &fts)?;
                let d = t.elapsed();
                lat.push(d);
                if i < 20 {
                    lat20.push(d);
                }
                best = best.min(d);
            }
            if args.verbose {
                eprintln!("{:<42} {q:<20} best {}", v.name, ms(best));
            }
            slowest.push((q, best));
        }
        lat.sort();
        lat20.sort();
        slowest.sort_by_key(|x| std::cmp::Reverse(x.1));
        eprintln!(
            "{}: slowest {}",
            v.name,
            slowest
                .iter()
                .take(3)
                .map(|(q, d)| format!("{q} {}", ms(*d)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        corpus_rows.push((
            v.name,
            size,
            took.saturating_sub(bare_time),
            percentile(&lat20, 0.5),
            percentile(&lat20, 0.95),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
        ));
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    // The real path: `Store::search` (filters, joins, titles, snippets) on the
    // store as `observatory index` left it, migrated to this build's schema.
    let store = observatory_store::Store::open(&source)?;
    let mut store_rows = Vec::new();
    let all = latency_queries();
    for (what, queries) in [
        ("observatory-bench's 20 queries", &common::QUERIES[..]),
        ("all 30 queries", &all[..]),
    ] {
        let mut lat = Vec::new();
        for q in queries {
            let query = observatory_store::SearchQuery::new(*q);
            let _ = observatory_store::Catalog::search(&store, &query)?;
            let mut best = Duration::MAX;
            for _ in 0..args.samples {
                let t = Instant::now();
                let page = observatory_store::Catalog::search(&store, &query)?;
                let d = t.elapsed();
                lat.push(d);
                best = best.min(d);
                std::hint::black_box(page);
            }
            if args.verbose && queries.len() == all.len() {
                eprintln!("Store::search {q:<20} best {}", ms(best));
            }
        }
        lat.sort();
        store_rows.push((what, lat));
    }
    drop(store);
    let agreement = rank_agreement(&source, &all)?;
    if args.verbose {
        for (q, share) in &agreement {
            eprintln!(
                "top 20 in common with bm25(): {q:<20} {:.0}%",
                100.0 * share
            );
        }
    }

    println!(
        "\nRecall set: {} documents ({} from the fixtures' transcripts, {} synthetic), {} queries\n",
        docs.len(),
        docs.len() - synthetic_docs().len(),
        synthetic_docs().len(),
        CASES.len()
    );
    let classes: Vec<&str> = recall_rows
        .first()
        .map(|r| r.1.iter().map(|c| c.0).collect())
        .unwrap_or_default();
    print!("| tokenizer | recall, all |");
    for c in &classes {
        print!(" {c} |");
    }
    println!(
        " precision, all | index size ({}, {} docs) | build time (FTS part) | p50 / p95, 20 queries | p50 / p95, 30 queries |",
        args.setup.size,
        corpus_docs.len()
    );
    println!(
        "|---|---:|{}---:|---:|---:|---|",
        "---:|".repeat(classes.len())
    );
    for ((name, by_class), (_, size, took, p50_20, p95_20, p50, p95)) in
        recall_rows.iter().zip(&corpus_rows)
    {
        let (hit, want, got) = by_class
            .iter()
            .fold((0, 0, 0), |a, c| (a.0 + c.1, a.1 + c.2, a.2 + c.3));
        let pct = |a: usize, b: usize| format!("{:.1}%", 100.0 * a as f64 / b.max(1) as f64);
        print!("| {name} | {} ({hit}/{want}) |", pct(hit, want));
        for c in by_class {
            print!(" {} |", pct(c.1, c.2));
        }
        println!(
            " {} | {:.1} MB ({:.0}% of the text) | {:.2} s | {} / {} | {} / {} |",
            pct(hit, got),
            *size as f64 / 1e6,
            100.0 * *size as f64 / text_bytes as f64,
            took.as_secs_f64(),
            ms(*p50_20),
            ms(*p95_20),
            ms(*p50),
            ms(*p95)
        );
    }
    println!(
        "\nStore::search on {} ({} documents), {} runs of each query after one warm-up:\n",
        args.setup.size,
        corpus_docs.len(),
        args.samples
    );
    println!("| queries | p50 | p95 | p99 |\n|---|---:|---:|---:|");
    for (what, lat) in &store_rows {
        println!(
            "| {what} | {} | {} | {} |",
            ms(percentile(lat, 0.5)),
            ms(percentile(lat, 0.95)),
            ms(percentile(lat, 0.99))
        );
    }
    println!(
        "\nThe top 20 that `rank` puts first, against those FTS5's bm25() puts first, \
         on the same newest {WINDOW} matches of each of the {} queries of the 30 that match:\n",
        agreement.len()
    );
    println!("| in common, mean | in common, least | query |\n|---:|---:|---|");
    let mean = agreement.iter().map(|a| a.1).sum::<f64>() / agreement.len().max(1) as f64;
    if let Some((q, least)) = agreement.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        println!("| {:.1}% | {:.1}% | {q} |", 100.0 * mean, 100.0 * least);
    }
    Ok(())
}

/// The matches `search` ranks.
const WINDOW: usize = 2000;

/// For each query that matches, the share of the top 20 that `rank::scores` and
/// FTS5's `bm25()` agree on, over the same newest matches: `rank` differs from
/// `bm25()` only in where it counts each phrase's documents.
fn rank_agreement<'q>(db: &Path, queries: &[&'q str]) -> Result<Vec<(&'q str, f64)>> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    rank::register(&conn)?;
    let mut out = Vec::new();
    for q in queries {
        let t = to_fts_translation(q, false)?;
        let mut theirs: Vec<(i64, f64)> = conn
            .prepare_cached(&format!(
                "SELECT rowid, -bm25(docs_fts) FROM docs_fts WHERE docs_fts MATCH ?1
                 ORDER BY rowid DESC LIMIT {WINDOW}"
            ))?
            .query_map([&t.query], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if theirs.is_empty() {
            continue;
        }
        let mut ours = ranked(&conn, &t)?;
        for list in [&mut theirs, &mut ours] {
            list.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
            list.truncate(20);
        }
        let common = ours
            .iter()
            .filter(|o| theirs.iter().any(|t| t.0 == o.0))
            .count();
        out.push((*q, common as f64 / theirs.len() as f64));
    }
    Ok(out)
}
