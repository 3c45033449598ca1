//! Line-at-a-time reading that never holds more than one line in memory.
//!
//! Claude Code appends one JSON object per line with `appendFileSync`, so a reader can
//! observe a file mid-write. A line without its terminating newline is reported as
//! [`ReadLine::Unterminated`] so the caller can hold it back until it is complete.

use std::io::{self, BufRead};

use memchr::memchr;

/// Default ceiling for one line. Real transcripts have lines of tens of MB (pasted
/// files, huge tool outputs); past this a line is skipped, not buffered.
pub const DEFAULT_MAX_LINE: usize = 256 * 1024 * 1024;

/// What [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadLine {
    /// A line terminated by `\n`, now in the caller's buffer (without the newline).
    Complete { offset: u64, len: u64 },
    /// A line longer than the limit: it was skipped without being buffered.
    Oversized { offset: u64, len: u64 },
    /// Bytes at the end of the input with no newline yet, now in the buffer.
    Unterminated { offset: u64, len: u64 },
}

pub struct LineReader<R> {
    inner: R,
    offset: u64,
    max_line: usize,
}

impl<R: BufRead> LineReader<R> {
    /// `offset` is the byte position `inner` is already at, so reported offsets are
    /// positions in the file.
    pub fn new(inner: R, offset: u64) -> Self {
        Self {
            inner,
            offset,
            max_line: DEFAULT_MAX_LINE,
        }
    }

    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// Byte position just after the last line returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next line into `buf` (cleared first). `Ok(None)` at end of input.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<ReadLine>> {
        buf.clear();
        let start = self.offset;
        let mut len: u64 = 0;
        let mut oversized = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                // Unterminated tail: do not advance the offset, so the caller can retry
                // from the start of this line once the writer finishes it.
                if oversized {
                    buf.clear();
                }
                return Ok(Some(ReadLine::Unterminated { offset: start, len }));
            }
            let (chunk, found) = match memchr(b'\n', available) {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            let chunk_len = chunk.len();
            if !oversized {
                if buf.len() + chunk_len > self.max_line {
                    oversized = true;
                    buf.clear();
                    buf.shrink_to(64 * 1024);
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            len += chunk_len as u64;
            let consumed = chunk_len + usize::from(found);
            self.inner.consume(consumed);
            if found {
                self.offset = start + len + 1;
                return Ok(Some(if oversized {
                    ReadLine::Oversized { offset: start, len }
                } else {
                    ReadLine::Complete { offset: start, len }
                }));
            }
        }
    }

    /// Marks an unterminated line as consumed (used when it turned out to be a
    /// complete record that merely lacks its final newline).
    pub fn accept_unterminated(&mut self, len: u64) {
        self.offset += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(data: &[u8], max: usize) -> Vec<(ReadLine, Vec<u8>)> {
        let mut r = LineReader::new(Cursor::new(data.to_vec()), 0).with_max_line(max);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(l) = r.next_line(&mut buf).expect("read") {
            let stop = matches!(l, ReadLine::Unterminated { .. });
            out.push((l, buf.clone()));
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn splits_lines_and_reports_offsets() {
        let got = lines(b"ab\n\ncde\nfg", 100);
        assert_eq!(
            got,
            vec![
                (ReadLine::Complete { offset: 0, len: 2 }, b"ab".to_vec()),
                (ReadLine::Complete { offset: 3, len: 0 }, vec![]),
                (ReadLine::Complete { offset: 4, len: 3 }, b"cde".to_vec()),
                (ReadLine::Unterminated { offset: 8, len: 2 }, b"fg".to_vec()),
            ]
        );
    }

    #[test]
    fn oversized_lines_are_skipped_without_buffering() {
        let mut data = vec![b'x'; 10_000];
        data.extend_from_slice(b"\nok\n");
        let mut r = LineReader::new(io::BufReader::with_capacity(64, Cursor::new(data)), 0)
            .with_max_line(100);
        let mut buf = Vec::new();
        assert_eq!(
            r.next_line(&mut buf).expect("read"),
            Some(ReadLine::Oversized {
                offset: 0,
                len: 10_000
            })
        );
        assert!(buf.capacity() <= 64 * 1024);
        assert_eq!(
            r.next_line(&mut buf).expect("read"),
            Some(ReadLine::Complete {
                offset: 10_001,
                len: 2
            })
        );
        assert_eq!(buf, b"ok");
        assert_eq!(r.offset(), 10_004);
    }

    #[test]
    fn unterminated_tail_does_not_advance_offset() {
        let mut r = LineReader::new(Cursor::new(b"{\"a\":1}\n{\"b\"".to_vec()), 0);
        let mut buf = Vec::new();
        r.next_line(&mut buf).expect("read");
        assert_eq!(r.offset(), 8);
        assert_eq!(
            r.next_line(&mut buf).expect("read"),
            Some(ReadLine::Unterminated { offset: 8, len: 4 })
        );
        assert_eq!(r.offset(), 8);
    }
}
