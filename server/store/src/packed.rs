//! Recorded changes as their rows keep them (`tool_calls.change`).
//!
//! A change carries the file's content around the edit (`originalFile`, a Write's
//! content): on real-shaped transcripts a quarter of the database, written through
//! the WAL and copied again into the database file by the indexer's one writing
//! thread (#15). Large ones are stored zstd-compressed as a BLOB, compressed on the
//! reading thread; small ones, and every row written before, stay JSON text. The
//! column's type says which.

use std::cell::RefCell;

use observatory_transcript::FileChange;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

/// Below this a change is kept as text: zstd gains little on it, and the small
/// ones (a Bash command, a notebook cell) are most rows.
const PACK_FROM: usize = 512;

/// Larger than any change a transcript can record (the file around an edit); what
/// a damaged frame may claim is checked against it before allocating.
const MAX_UNPACKED: u64 = 1 << 30;

/// A `tool_calls.change` cell: JSON, or zstd-compressed JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoredChange {
    Json(String),
    Zstd(Vec<u8>),
}

impl StoredChange {
    /// `json` as it is best stored: compressed when it is large and compresses.
    pub(crate) fn pack(json: String) -> Self {
        if json.len() < PACK_FROM {
            return Self::Json(json);
        }
        thread_local! {
            // One context per thread: creating one costs about as much as
            // compressing a small change.
            static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
                const { RefCell::new(None) };
        }
        let packed = COMPRESSOR.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = zstd::bulk::Compressor::new(1).ok();
            }
            c.as_mut().and_then(|c| c.compress(json.as_bytes()).ok())
        });
        match packed {
            Some(z) if z.len() < json.len() => Self::Zstd(z),
            _ => Self::Json(json),
        }
    }

    /// The change's JSON.
    pub(crate) fn into_json(self) -> crate::Result<String> {
        match self {
            Self::Json(s) => Ok(s),
            Self::Zstd(z) => unpack(&z),
        }
    }

    /// The recorded change. A cell still holding a call's input (its result has not
    /// come) is not one, and is an error like any unreadable cell.
    pub(crate) fn file_change(self) -> crate::Result<FileChange> {
        serde_json::from_str(&self.into_json()?)
            .map_err(|e| crate::Error::Corrupt(format!("recorded change: {e}")))
    }
}

fn unpack(z: &[u8]) -> crate::Result<String> {
    let mut raw = Vec::new();
    unpack_into(z, &mut raw)?;
    String::from_utf8(raw)
        .map_err(|e| crate::Error::Corrupt(format!("compressed change is not UTF-8: {e}")))
}

/// Decompresses `z` into `out` (cleared first), sized from the frame's header.
fn unpack_into(z: &[u8], out: &mut Vec<u8>) -> crate::Result<()> {
    thread_local! {
        static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { RefCell::new(None) };
    }
    let corrupt =
        |e: &dyn std::fmt::Display| crate::Error::Corrupt(format!("compressed change: {e}"));
    // `pack` writes the size into every frame; a frame without one, or claiming
    // more than any change (a damaged cell), is not allocated for.
    let size = match zstd::zstd_safe::get_frame_content_size(z) {
        Ok(Some(n)) if n <= MAX_UNPACKED => n as usize,
        Ok(Some(n)) => return Err(corrupt(&format!("a frame of {n} bytes"))),
        _ => return Err(corrupt(&"no content size in the frame")),
    };
    out.clear();
    out.reserve(size);
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(|e| corrupt(&e))?);
        }
        match d.as_mut() {
            Some(d) => d
                .decompress_to_buffer(z, out)
                .map(drop)
                .map_err(|e| corrupt(&e)),
            None => Err(corrupt(&"no decompressor")),
        }
    })
}

impl ToSql for StoredChange {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Json(s) => ValueRef::Text(s.as_bytes()),
            Self::Zstd(z) => ValueRef::Blob(z),
        }))
    }
}

impl FromSql for StoredChange {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Text(_) => String::column_result(value).map(Self::Json),
            ValueRef::Blob(z) => Ok(Self::Zstd(z.to_vec())),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// Registers `observatory_change_contains(change, text)` on `conn`: whether a
/// stored change's JSON contains `text`. For a scan of every change: each is
/// decompressed into one reused buffer, and no copy is handed to SQL.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "observatory_change_contains",
        2,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            thread_local! {
                static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
            }
            let needle = match ctx.get_raw(1) {
                ValueRef::Text(t) | ValueRef::Blob(t) => t,
                _ => return Ok(false),
            };
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => memchr::memmem::find(t, needle).is_some(),
                ValueRef::Blob(z) => BUFFER.with(|b| {
                    let mut b = b.borrow_mut();
                    unpack_into(z, &mut b)
                        .map(|()| memchr::memmem::find(&b, needle).is_some())
                        .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
                })?,
                _ => false,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    // Tests: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn large_changes_are_compressed_and_read_back_whole() {
        let small = r#"{"tool":"Bash","command":"ls"}"#.to_owned();
        assert_eq!(
            StoredChange::pack(small.clone()),
            StoredChange::Json(small.clone())
        );
        let large = format!(
            r#"{{"tool":"Edit","original":"{}"}}"#,
            "fn main() {}\n".repeat(200)
        );
        let packed = StoredChange::pack(large.clone());
        assert!(matches!(&packed, StoredChange::Zstd(z) if z.len() < large.len() / 4));

        let conn = Connection::open_in_memory().expect("db");
        register(&conn).expect("function");
        conn.execute_batch("CREATE TABLE t (change)")
            .expect("table");
        for c in [&packed, &StoredChange::Json(small.clone())] {
            conn.execute("INSERT INTO t VALUES (?1)", [c])
                .expect("insert");
        }
        let back: Vec<String> = conn
            .prepare("SELECT change FROM t ORDER BY rowid")
            .expect("select")
            .query_map([], |r| r.get::<_, StoredChange>(0))
            .expect("rows")
            .map(|c| c.expect("cell").into_json().expect("json"))
            .collect();
        assert_eq!(back, [large.clone(), small.clone()]);
        // SQL searches the text of both kinds.
        for (needle, n) in [("fn main", 1), ("Bash", 1), ("tool", 2), ("nowhere", 0)] {
            let found: i64 = conn
                .query_row(
                    "SELECT count(*) FROM t WHERE observatory_change_contains(change, ?1)",
                    [needle],
                    |r| r.get(0),
                )
                .expect("count");
            assert_eq!(found, n, "{needle}");
        }
        // A damaged blob is an error, not a panic or a wrong text; so is one whose
        // header claims an absurd size.
        assert!(StoredChange::Zstd(vec![1, 2, 3]).into_json().is_err());
        let StoredChange::Zstd(mut lying) = packed else {
            panic!("compressed")
        };
        // Frame header: magic (4 bytes), descriptor, then the content size; with
        // the descriptor's size flag set to 8 bytes, claim 2^62.
        lying[4] = (lying[4] & 0x3f) | 0xc0;
        let mut claimed = lying[..5].to_vec();
        claimed.extend_from_slice(&(1u64 << 62).to_le_bytes());
        let err = StoredChange::Zstd(claimed)
            .into_json()
            .expect_err("refused");
        assert!(
            err.to_string()
                .contains("a frame of 4611686018427387904 bytes"),
            "{err}"
        );
    }
}
