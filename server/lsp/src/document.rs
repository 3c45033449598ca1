//! Open documents: their text kept in step with the editor's incremental changes.

use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent};

/// How the client counts columns (negotiated at initialize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub version: i32,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("change at line {line}, character {character} is outside the document ({lines} lines)")]
pub struct OutOfRange {
    pub line: u32,
    pub character: u32,
    pub lines: usize,
}

impl Document {
    pub fn new(text: String, version: i32) -> Self {
        Document { text, version }
    }

    /// Applies the editor's changes in order. A change outside the document is
    /// refused whole (the text stays as it was), so a confused client cannot corrupt
    /// it; the next full sync repairs it.
    pub fn apply(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        enc: Encoding,
    ) -> Result<(), OutOfRange> {
        let mut text = self.text.clone();
        for c in changes {
            match c.range {
                None => text = c.text,
                Some(r) => {
                    let start = offset(&text, r.start, enc)?;
                    let end = offset(&text, r.end, enc)?.max(start);
                    text.replace_range(start..end, &c.text);
                }
            }
        }
        self.text = text;
        self.version = version;
        Ok(())
    }
}

/// Byte offset of `pos` in `text`. A character past the end of its line means the
/// line's end, as the specification says.
pub fn offset(text: &str, pos: Position, enc: Encoding) -> Result<usize, OutOfRange> {
    let mut line_start = 0;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => {
                return Err(OutOfRange {
                    line: pos.line,
                    character: pos.character,
                    lines: text.lines().count(),
                })
            }
        }
    }
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let mut units = 0u32;
    for (i, ch) in line.char_indices() {
        if units >= pos.character {
            return Ok(line_start + i);
        }
        units += match enc {
            Encoding::Utf8 => ch.len_utf8() as u32,
            Encoding::Utf16 => ch.len_utf16() as u32,
        };
    }
    Ok(line_start + line.len())
}

/// Length of line `line` of `text` in the client's units (for ranges to a line's end).
pub fn line_len(text: &str, line: usize, enc: Encoding) -> u32 {
    let l = text.lines().nth(line).unwrap_or_default();
    let l = l.strip_suffix('\r').unwrap_or(l);
    match enc {
        Encoding::Utf8 => l.len() as u32,
        Encoding::Utf16 => l.encode_utf16().count() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Range;

    fn change(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(sl, sc), Position::new(el, ec))),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn incremental_changes_count_utf16_units() {
        let mut d = Document::new("let s = \"é😀x\";\nfn a() {}\n".into(), 1);
        // 😀 is two UTF-16 units: column 12 is just after it.
        d.apply(vec![change(0, 12, 0, 13, "y")], 2, Encoding::Utf16)
            .unwrap();
        assert_eq!(d.text, "let s = \"é😀y\";\nfn a() {}\n");
        d.apply(
            vec![change(1, 0, 1, 0, "// new\n"), change(2, 3, 2, 4, "b")],
            3,
            Encoding::Utf16,
        )
        .unwrap();
        assert_eq!(d.text, "let s = \"é😀y\";\n// new\nfn b() {}\n");
        assert_eq!(d.version, 3);
    }

    #[test]
    fn a_change_outside_the_document_changes_nothing() {
        let mut d = Document::new("one\ntwo".into(), 1);
        let err = d
            .apply(
                vec![change(0, 0, 0, 1, "O"), change(9, 0, 9, 1, "x")],
                2,
                Encoding::Utf16,
            )
            .unwrap_err();
        assert_eq!(err.line, 9);
        assert_eq!(d.text, "one\ntwo");
        assert_eq!(d.version, 1);
        // Past the end of a line means its end.
        d.apply(vec![change(0, 99, 0, 99, "!")], 2, Encoding::Utf8)
            .unwrap();
        assert_eq!(d.text, "one!\ntwo");
    }
}
