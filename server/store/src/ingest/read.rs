//! Reading transcript files: what changed without opening them, and their new lines
//! in batches of parsed records with a compressed copy of their bytes.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::UNIX_EPOCH;

use observatory_transcript::{parse_line, LineReader, ParseError, ReadLine, Record};

use super::prepare::{Prepared, Preparer};

/// Bytes of transcript per batch: large enough to amortise its rows and events, small
/// enough that the batches in flight (one read ahead, one being written, one being
/// freed) keep a cold index under 150 MB of memory.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Everything needed to know whether a file changed, without reading it.
#[derive(Clone)]
pub(super) struct Stat {
    pub(super) size: u64,
    pub(super) mtime_ns: i64,
}

pub(super) fn stat(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::metadata(path)?;
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok(Stat {
        size: m.len(),
        mtime_ns,
    })
}

pub(super) fn head_hash(path: &Path, len: u64) -> std::io::Result<i64> {
    let mut buf = Vec::with_capacity(len as usize);
    File::open(path)?.take(len).read_to_end(&mut buf)?;
    Ok(xxhash_rust::xxh3::xxh3_64(&buf) as i64)
}

/// Parsed lines of one batch, with the compressed raw bytes they came from.
pub(super) struct Batch {
    pub(super) start_offset: u64,
    pub(super) end_offset: u64,
    pub(super) first_line: u64,
    pub(super) last_line: u64,
    /// The file was read to its end (what is left, if anything, is a half-written line).
    pub(super) at_end: bool,
    pub(super) compressed: Vec<u8>,
    /// The hash of the file's first `HEAD_BYTES` (or fewer, up to `end_offset`), when
    /// the batch starts the file and holds its bytes as they are: hashed here, on
    /// the reading thread, rather than by opening the file again on the writing one.
    pub(super) head_hash: Option<i64>,
    pub(super) items: Vec<Item>,
}

/// One line of a batch.
pub(super) struct Item {
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) record: std::result::Result<Record, String>,
    /// A message's search documents, one per block.
    pub(super) docs: Vec<Prepared>,
}

impl Item {
    fn new(
        line: u64,
        offset: u64,
        record: std::result::Result<Record, String>,
        preparer: &mut Preparer,
    ) -> Self {
        let docs = match &record {
            Ok(Record::Message(m)) => preparer.prepare(m),
            _ => Vec::new(),
        };
        Self {
            line,
            offset,
            record,
            docs,
        }
    }
}

impl Batch {
    /// The transcript bytes it covers.
    pub(super) fn len(&self) -> usize {
        (self.end_offset - self.start_offset) as usize
    }
}

/// Reads `fh` from `offset` in batches of about BATCH_BYTES, handing each to `emit`
/// until it returns false.
pub(super) fn read_batches(
    fh: File,
    offset: u64,
    line_count: u64,
    max_line: usize,
    compressor: &mut zstd::bulk::Compressor<'_>,
    emit: &mut dyn FnMut(Batch) -> bool,
) -> std::io::Result<()> {
    let mut reader =
        LineReader::new(BufReader::with_capacity(256 * 1024, fh), offset).with_max_line(max_line);
    let mut buf = Vec::new();
    let mut line_no = line_count;
    let mut preparer = Preparer::default();
    loop {
        let start_offset = reader.offset();
        let first_line = line_no + 1;
        let mut raw = Vec::new();
        let mut items = Vec::new();
        let mut at_end = false;
        while raw.len() < BATCH_BYTES {
            let Some(line) = reader.next_line(&mut buf)? else {
                at_end = true;
                break;
            };
            match line {
                ReadLine::Complete { offset, .. } => {
                    line_no += 1;
                    raw.extend_from_slice(&buf);
                    raw.push(b'\n');
                    match parse_line(&buf) {
                        // Blank lines are harmless padding, not damage worth a warning.
                        Err(ParseError::Empty) => {}
                        rec => items.push(Item::new(
                            line_no,
                            offset,
                            rec.map_err(|e| e.to_string()),
                            &mut preparer,
                        )),
                    }
                }
                ReadLine::Oversized { offset, len } => {
                    line_no += 1;
                    // The raw copy gets an empty line in its place, so line numbers in
                    // the copy match the file's.
                    raw.push(b'\n');
                    items.push(Item::new(
                        line_no,
                        offset,
                        Err(format!("line of {len} bytes exceeds the limit; skipped")),
                        &mut preparer,
                    ));
                }
                ReadLine::Unterminated { offset, len } => {
                    // A complete JSON object that only lacks its newline is a record;
                    // anything else is a line still being written: hold it back.
                    if let Ok(rec) = parse_line(&buf) {
                        line_no += 1;
                        reader.accept_unterminated(len);
                        raw.extend_from_slice(&buf);
                        raw.push(b'\n');
                        items.push(Item::new(line_no, offset, Ok(rec), &mut preparer));
                    }
                    at_end = true;
                    break;
                }
            }
        }
        let end_offset = reader.offset();
        if items.is_empty() && end_offset == start_offset {
            return Ok(());
        }
        // `raw` is the file's bytes unless a line was too long (left out) or a final
        // line lacked its newline (added).
        let exact = raw.len() as u64 == end_offset - start_offset;
        let head_hash = (start_offset == 0 && exact).then(|| {
            let head = raw.len().min(super::HEAD_BYTES as usize);
            xxhash_rust::xxh3::xxh3_64(&raw[..head]) as i64
        });
        let batch = Batch {
            head_hash,
            start_offset,
            end_offset,
            first_line,
            last_line: line_no,
            at_end,
            compressed: compressor.compress(&raw)?,
            items,
        };
        if !emit(batch) || at_end {
            return Ok(());
        }
    }
}
