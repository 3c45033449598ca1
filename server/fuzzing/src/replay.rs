//! Bytes → one file's recorded history → the attribution replay
//! (`replay_from_roots`) and `Replay::map_onto`, plus `symbols::after_change` of each
//! change. All of it is pure: no store is involved.

use arbitrary::{Arbitrary, Unstructured};
use observatory_attribution::symbols::after_change;
use observatory_attribution::{replay_from_roots, split_lines, Checkout};
use observatory_transcript::{FileChange, Hunk, TextEdit};
use serde::{Deserialize, Serialize};

/// A file's history and the content to attribute.
///
/// An input that starts with `{` and parses as this, in JSON, is taken as it is: the
/// seeds are real histories from the fixture transcripts in that form, so mutations
/// start from realistic patches. Any other input is decoded with `arbitrary`, which
/// reaches shapes JSON mutation rarely does (any `oldStart`, hunks whose lines are
/// in the model).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Case {
    pub changes: Vec<FileChange>,
    /// The checkout each change was made in (`replay_from_roots`); empty: all one.
    #[serde(default)]
    pub roots: Vec<(u32, bool)>,
    /// The file as it is now.
    #[serde(default)]
    pub content: String,
}

/// The replay target.
pub fn fuzz_replay(data: &[u8]) {
    run(&decode(data));
}

pub fn decode(data: &[u8]) -> Case {
    if data.first() == Some(&b'{') {
        if let Ok(case) = serde_json::from_slice(data) {
            return case;
        }
    }
    ArbCase::arbitrary_take_rest(Unstructured::new(data))
        .map(Case::from)
        .unwrap_or_default()
}

pub fn run(case: &Case) {
    let history: Vec<&FileChange> = case.changes.iter().collect();
    let roots: Vec<Checkout> = case
        .roots
        .iter()
        .map(|&(id, local)| Checkout { id, local })
        .collect();
    let replayed = replay_from_roots(&history, &roots);
    let in_history = |o: u32| (o as usize) < history.len();
    assert!(replayed.unplaced.iter().all(|&o| in_history(o)));
    assert!(replayed.tagged_lines() <= replayed.len());

    // Every change rebuilt as `changes_to_symbol` does; the file right after the last
    // one is the content most like the model, whose diff is mostly equal runs and
    // moved blocks.
    let mut contents = vec![case.content.clone()];
    let mut after_last = None;
    for change in &case.changes {
        after_last = after_change(change).map(|(after, _written)| after);
    }
    contents.extend(after_last);
    for content in &contents {
        let origins = replayed.map_onto(content);
        assert_eq!(origins.len(), split_lines(content).count());
        assert!(origins.iter().flatten().all(|&o| in_history(o)));
    }
}

// What `arbitrary` builds. Lines are mostly drawn from a small vocabulary so that
// edits, hunks and contents share lines with the model, as real histories do.

#[derive(Debug, Arbitrary)]
struct ArbCase {
    changes: Vec<ArbChange>,
    roots: Vec<(u8, bool)>,
    content: Text,
}

#[derive(Debug, Arbitrary)]
struct ArbChange {
    tool: Tool,
    edits: Vec<(Text, Text, bool)>,
    content: Option<Text>,
    original: Option<Text>,
    hunks: Vec<ArbHunk>,
    created: Option<bool>,
}

#[derive(Debug, Arbitrary)]
enum Tool {
    Edit,
    MultiEdit,
    Write,
    Read,
    Bash,
    NotebookEdit,
}

#[derive(Debug, Arbitrary)]
struct ArbHunk {
    old_start: Number,
    old_lines: Number,
    new_start: Number,
    new_lines: Number,
    lines: Vec<(Prefix, Piece)>,
}

/// Line numbers: mostly small enough to be in the file, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Number {
    Small(u8),
    Any(u64),
}

#[derive(Debug, Arbitrary)]
enum Prefix {
    Context,
    Removed,
    Added,
    NoNewline,
    /// The piece as it is: no prefix, or whatever it starts with.
    Bare,
}

#[derive(Debug, Arbitrary)]
enum Piece {
    Known(u8),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
struct Text {
    lines: Vec<Piece>,
    final_newline: bool,
    crlf: bool,
}

/// Lines that normalise alike or almost (whitespace, `\r`, Unicode spaces), look
/// like diff syntax, or equal the replay's fragment separator.
const VOCABULARY: &[&str] = &[
    "",
    "fn a() {",
    "}",
    "    return 1;",
    "return  1;",
    "\treturn 1;\r",
    "x",
    "let long_enough_to_move = 1;",
    "let long_enough_to_move = 2;",
    " ",
    "\u{3000}",
    "é",
    "a\u{2028}b",
    "+x",
    "-x",
    " x",
    "\\ No newline at end of file",
    "\u{1}gap",
];

impl Piece {
    fn text(&self) -> &str {
        match self {
            Piece::Known(i) => VOCABULARY[*i as usize % VOCABULARY.len()],
            Piece::Raw(s) => s,
        }
    }
}

impl Text {
    fn render(&self) -> String {
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut s = self
            .lines
            .iter()
            .map(Piece::text)
            .collect::<Vec<_>>()
            .join(end);
        if self.final_newline {
            s.push_str(end);
        }
        s
    }
}

impl Number {
    fn value(&self) -> u64 {
        match self {
            Number::Small(n) => u64::from(*n),
            Number::Any(n) => *n,
        }
    }
}

impl From<ArbCase> for Case {
    fn from(a: ArbCase) -> Self {
        Case {
            changes: a.changes.into_iter().map(FileChange::from).collect(),
            roots: a
                .roots
                .into_iter()
                .map(|(id, local)| (u32::from(id), local))
                .collect(),
            content: a.content.render(),
        }
    }
}

impl From<ArbChange> for FileChange {
    fn from(a: ArbChange) -> Self {
        let tool = match a.tool {
            Tool::Edit => "Edit",
            Tool::MultiEdit => "MultiEdit",
            Tool::Write => "Write",
            Tool::Read => "Read",
            Tool::Bash => "Bash",
            Tool::NotebookEdit => "NotebookEdit",
        };
        FileChange {
            tool: tool.to_owned(),
            path: "/p/a.rs".to_owned(),
            edits: a
                .edits
                .into_iter()
                .map(|(old, new, replace_all)| TextEdit {
                    old_string: old.render(),
                    new_string: new.render(),
                    replace_all,
                })
                .collect(),
            content: a.content.map(|t| t.render()),
            original: a.original.map(|t| t.render()),
            hunks: a
                .hunks
                .into_iter()
                .map(|h| Hunk {
                    old_start: h.old_start.value(),
                    old_lines: h.old_lines.value(),
                    new_start: h.new_start.value(),
                    new_lines: h.new_lines.value(),
                    lines: h
                        .lines
                        .iter()
                        .map(|(prefix, piece)| {
                            let p = match prefix {
                                Prefix::Context => " ",
                                Prefix::Removed => "-",
                                Prefix::Added => "+",
                                Prefix::NoNewline => "\\",
                                Prefix::Bare => "",
                            };
                            format!("{p}{}", piece.text())
                        })
                        .collect(),
                })
                .collect(),
            created: a.created,
            renamed_from: (tool == "Bash").then(|| "/p/old.rs".to_owned()),
            ..FileChange::default()
        }
    }
}
