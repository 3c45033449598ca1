//! Bytes → the parsing path of indexing: `LineReader`, `parse_line`, the changes of
//! writing tool calls (as ingest pairs calls with their results), and the Markdown
//! rendering of the records.

use std::collections::HashMap;
use std::io::BufReader;

use observatory_transcript::changes::{change_from, renames_in_command, touched_path};
use observatory_transcript::markdown::{render, Header};
use observatory_transcript::{parse_line, read_snapshot, FileChange, LineReader, ReadLine, Record};
use serde_json::Value;

/// The transcript target.
pub fn fuzz_transcript(data: &[u8]) {
    // Once as ingest reads (large buffer, default limit), once through a tiny buffer
    // and line limit so that lines split across refills and oversized lines are
    // exercised. Both must see the same lines at the same offsets.
    let lines = read_lines(
        data,
        256 * 1024,
        observatory_transcript::reader::DEFAULT_MAX_LINE,
    );
    let small = read_lines(data, 7, 64);
    // (An unterminated last line is taken only when it parses, and the small limit
    // may have dropped its bytes.)
    let spans = |v: &[Line]| {
        v.iter()
            .filter(|l| l.terminated)
            .map(|l| (l.offset, l.len))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        spans(&lines),
        spans(&small),
        "line boundaries depend on buffering"
    );

    let mut records = Vec::new();
    for line in &lines {
        match parse_line(&line.bytes) {
            Ok(r) => records.push(r),
            // Every skipped line gets a reason, which must render.
            Err(e) => drop(e.to_string()),
        }
    }
    for change in changes_in(&records) {
        // The store keeps changes as JSON; reading one back must give the same change.
        let json = serde_json::to_string(&change).expect("a change serialises");
        let back: FileChange = serde_json::from_str(&json).expect("a change deserialises");
        assert_eq!(back, change, "change JSON round trip");
    }
    let header = Header {
        title: "fuzz",
        session_id: "s",
        ..Header::default()
    };
    drop(render(&header, &records));
}

/// One line as the reader reported it.
struct Line {
    offset: u64,
    len: u64,
    terminated: bool,
    /// What ingest parses: the line's bytes (empty when oversized).
    bytes: Vec<u8>,
}

/// Reads `data` as ingest does, checking what the reader says against the bytes.
fn read_lines(data: &[u8], capacity: usize, max_line: usize) -> Vec<Line> {
    let mut reader =
        LineReader::new(BufReader::with_capacity(capacity, data), 0).with_max_line(max_line);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        let before = reader.offset();
        let Some(line) = reader
            .next_line(&mut buf)
            .expect("reading a slice cannot fail")
        else {
            assert_eq!(before as usize, data.len(), "end of input before its end");
            break;
        };
        assert!(buf.len() <= max_line, "a line over the limit was buffered");
        match line {
            ReadLine::Complete { offset, len } => {
                let (start, end) = (offset as usize, (offset + len) as usize);
                assert_eq!(offset, before);
                assert_eq!(buf, &data[start..end]);
                assert_eq!(data[end], b'\n');
                assert_eq!(reader.offset(), offset + len + 1);
                out.push(Line {
                    offset,
                    len,
                    terminated: true,
                    bytes: buf.clone(),
                });
            }
            ReadLine::Oversized { offset, len } => {
                let end = (offset + len) as usize;
                assert_eq!(offset, before);
                assert!(len as usize > max_line);
                assert_eq!(data[end], b'\n');
                assert!(!data[offset as usize..end].contains(&b'\n'));
                assert_eq!(reader.offset(), offset + len + 1);
                out.push(Line {
                    offset,
                    len,
                    terminated: true,
                    bytes: Vec::new(),
                });
            }
            ReadLine::Unterminated { offset, len } => {
                assert_eq!(offset, before);
                assert_eq!(reader.offset(), offset, "an unterminated line advanced");
                assert_eq!((offset + len) as usize, data.len());
                if len as usize <= max_line {
                    assert_eq!(buf, &data[offset as usize..]);
                }
                // As ingest: a complete record that only lacks its newline is taken.
                if parse_line(&buf).is_ok() {
                    reader.accept_unterminated(len);
                    assert_eq!(reader.offset() as usize, data.len());
                    out.push(Line {
                        offset,
                        len,
                        terminated: false,
                        bytes: buf.clone(),
                    });
                }
                break;
            }
        }
    }
    out
}

/// The file changes in `records`, as ingest builds them: a writing tool call's input
/// is held until its result (in a later record) says what happened; a whole-file
/// Read is a snapshot; a shell `mv` is a rename. Public for the seed generator.
pub fn changes_in(records: &[Record]) -> Vec<FileChange> {
    let mut pending: HashMap<&str, (&str, &Value)> = HashMap::new();
    let mut out = Vec::new();
    for rec in records {
        let Record::Message(m) = rec else { continue };
        // What indexing asks of every message.
        let _ = (m.is_prompt(), m.text(), m.role_or_user());
        let _ = m.usage.map(|u| u.total());
        for (id, name, input) in m.tool_uses() {
            let _ = touched_path(name, input);
            if name == "Bash" {
                let command = input
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.extend(renames_in_command(command, m.cwd.as_deref()));
            }
            pending.insert(id, (name, input));
        }
        // `toolUseResult` describes the record's only result; with several it is
        // ambiguous and ingest ignores it.
        let results = m.tool_results().count();
        let result = (results == 1)
            .then_some(m.tool_use_result.as_ref())
            .flatten()
            .and_then(observatory_transcript::ToolUseResult::value);
        let result = result.as_ref();
        for (id, content, _failed) in m.tool_results() {
            let Some((name, input)) = pending.get(id) else {
                continue;
            };
            let change = if *name == "Read" {
                read_snapshot(input, content, result)
            } else {
                change_from(name, input, result)
            };
            out.extend(change);
        }
    }
    out
}
