//! Line attribution: for any file content (including an unsaved buffer), which
//! recorded agent change wrote each line.
//!
//! Two steps, so that the expensive one can be cached:
//!
//! 1. [`replay`] the file's recorded changes in time order into a model of the file
//!    as the agents last left it, each line tagged with the change that wrote it.
//!    Exact where the transcript allows: `structuredPatch` hunks are applied by line
//!    number and checked against the model; `originalFile` (the file as the tool saw
//!    it) resynchronises the model when someone else changed the file in between
//!    (without it, an overwrite whose patch does not fit takes only its patch's
//!    lines, the others keeping their tags);
//!    Edit strings are located in the text when there is no patch.
//! 2. [`Replay::map_onto`] the current content: a line diff between the model and the
//!    content keeps the tags of unchanged lines wherever they moved to, drops them for
//!    lines a person changed, and recovers moved blocks by content.
//!
//! Rules, the same everywhere (including the accuracy benchmark's ground truth),
//! following `git blame`:
//! - Re-indenting or re-spacing a line is authorship: the line is whoever changed
//!   it last. With [`Options::ignore_whitespace`] (`git blame -w`) lines compare with
//!   their whitespace collapsed and keep their author. Trailing whitespace and line
//!   endings (CRLF or LF) never count.
//! - A blank line is whoever wrote it, like any line.
//!
//! And one guard against the diff's guesses: a boilerplate line (`}`, `};`, `)`,
//! `end`, `fi`: punctuation and at most a block keyword) keeps its origin only in a
//! run of non-blank lines with that origin (blank lines between them aside) that
//! holds a line that is not boilerplate, or sits between lines other changes wrote
//! (the brace an earlier change left around a later one's lines, which `git blame`
//! keeps). Where the content drifted from what the agent last wrote, the diff
//! otherwise credits lone braces scattered through a person's code. (Blank lines are not held to it: measured, it cost more recall
//! than it gained precision.)

pub mod blame;
mod diff;
pub mod history;
pub mod paths;
pub mod symbols;

use observatory_transcript::FileChange;

pub use diff::normalize;
pub use history::{History, HistoryError, RecordedWrite};

/// Index of a change in the history passed to [`replay`].
pub type Origin = u32;

/// How lines compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Compare lines with their whitespace collapsed, like `git blame -w`: re-indenting
    /// or re-spacing a line keeps its author. Off, a line whose indentation or inner
    /// spacing changed is the changer's, like `git blame`. Trailing whitespace and line
    /// endings (CRLF or LF) never count either way: saving a file with CRLF, or an
    /// editor trimming trailing blanks, is no one's authorship.
    pub ignore_whitespace: bool,
}

#[derive(Debug, Clone)]
struct Line {
    /// The line as written, without trailing whitespace. Boxed rather than a `String`:
    /// the model is a vector spliced on every change, and a smaller line moves faster.
    text: Box<str>,
    /// The line with its whitespace collapsed (see [`normalize`]), when that is not
    /// just `text` without its indentation: most lines need no copy of their own.
    loose: Option<Box<str>>,
    origin: Option<Origin>,
}

impl Line {
    fn new(raw: &str, origin: Option<Origin>) -> Line {
        let text = raw.trim_end();
        let loose = (!diff::is_plain(text.trim_start())).then(|| normalize(text).into_boxed_str());
        Line {
            text: text.into(),
            loose,
            origin,
        }
    }

    /// The line as compared when locating a change's text: whitespace collapsed, so a
    /// change still lands where someone re-indented the lines around it.
    fn key(&self) -> &str {
        self.loose
            .as_deref()
            .unwrap_or_else(|| self.text.trim_start())
    }

    /// The line as compared when deciding who wrote it.
    fn id(&self, o: Options) -> &str {
        if o.ignore_whitespace {
            self.key()
        } else {
            &self.text
        }
    }
}

/// The file as the recorded changes left it.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    lines: Vec<Line>,
    options: Options,
    /// Changes that could not be placed (their base text was not found).
    pub unplaced: Vec<Origin>,
}

impl Replay {
    /// Number of lines in the model.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The text of each line of the model whose text is known, without trailing
    /// whitespace: the file as the recorded changes left it.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|l| &*l.text != GAP)
            .map(|l| &*l.text)
    }

    /// Lines of the model that some change wrote.
    pub fn tagged_lines(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.origin.is_some() && &*l.text != GAP)
            .count()
    }

    /// Lines of the model written by the changes `keep` accepts.
    pub fn tagged_lines_by(&self, keep: impl Fn(Origin) -> bool) -> usize {
        self.tagged_lines_where(|o, _| keep(o))
    }

    /// Lines of the model whose change and text `keep` accepts.
    pub fn tagged_lines_where(&self, keep: impl Fn(Origin, &str) -> bool) -> usize {
        self.lines
            .iter()
            .filter(|l| &*l.text != GAP && l.origin.is_some_and(|o| keep(o, &l.text)))
            .count()
    }

    /// The origin of each line of `content`.
    pub fn map_onto(&self, content: &str) -> Vec<Option<Origin>> {
        let o = self.options;
        let current: Vec<String> = if o.ignore_whitespace {
            split_lines(content).map(normalize).collect()
        } else {
            Vec::new()
        };
        let cur: Vec<&str> = if o.ignore_whitespace {
            current.iter().map(String::as_str).collect()
        } else {
            split_lines(content).map(str::trim_end).collect()
        };
        let model: Vec<&str> = self.lines.iter().map(|l| l.id(o)).collect();
        let mut out: Vec<Option<Origin>> = align(&model, &cur, |m| self.lines[m].origin.is_some())
            .into_iter()
            .map(|m| m.and_then(|m| self.lines[m].origin))
            .collect();
        apply_neighbour_rule(&cur, &mut out);
        out
    }
}

/// For each line of `cur`, the line of `model` it is: unchanged in place (the diff),
/// or moved elsewhere. A block moved elsewhere shows up as a deletion plus an
/// insertion of the same lines: distinctive lines (`MIN_MOVED_LINE`) among the
/// `tagged` ones are found again by content, and the short ones ("}", blank) next to
/// them come back with them when they were next to them in the model too.
fn align(model: &[&str], cur: &[&str], tagged: impl Fn(usize) -> bool) -> Vec<Option<usize>> {
    let mut from: Vec<Option<usize>> = vec![None; cur.len()];
    // Model lines the diff dropped (by key), and content lines it added.
    let mut deleted: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    let mut gone = vec![false; model.len()];
    let mut is_new = vec![false; cur.len()];
    let mut inserted = Vec::new();
    for op in diff::ops(model, cur) {
        match op {
            diff::Op::Equal { old, new, len } => {
                for k in 0..len {
                    from[new + k] = Some(old + k);
                }
            }
            diff::Op::Replace {
                old,
                old_len,
                new,
                new_len,
            } => {
                for k in (0..old_len).rev() {
                    if tagged(old + k) {
                        deleted.entry(model[old + k]).or_default().push(old + k);
                        gone[old + k] = true;
                    }
                }
                is_new[new..new + new_len].fill(true);
                inserted.extend(new..new + new_len);
            }
        }
    }
    if deleted.is_empty() {
        return from;
    }
    for &i in &inserted {
        if cur[i].trim_start().len() >= MIN_MOVED_LINE {
            if let Some(m) = deleted.get_mut(cur[i]).and_then(Vec::pop) {
                gone[m] = false;
                from[i] = Some(m);
            }
        }
    }
    // Grow each recovered run forwards, then backwards, over lines that were next to
    // each other in the model too.
    let mut take = |j: usize, m: usize, from: &mut [Option<usize>]| {
        if is_new[j] && from[j].is_none() && gone[m] && model[m] == cur[j] {
            gone[m] = false;
            from[j] = Some(m);
        }
    };
    for i in 0..cur.len().saturating_sub(1) {
        if let Some(m) = from[i].filter(|&m| m + 1 < model.len()) {
            if is_new[i] {
                take(i + 1, m + 1, &mut from);
            }
        }
    }
    for i in (1..cur.len()).rev() {
        if let Some(m) = from[i].filter(|&m| m > 0) {
            if is_new[i] {
                take(i - 1, m - 1, &mut from);
            }
        }
    }
    from
}

/// Words that, alone on a line with punctuation, close or continue a block in some
/// language: any file has them everywhere, and a diff aligns them with whatever is
/// near.
const BOILERPLATE: &[&str] = &[
    "begin", "break", "continue", "do", "done", "else", "end", "endif", "esac", "fi", "finally",
    "pass", "return", "then", "try",
];

/// A line that says nothing about who wrote it on its own: `}`, `};`, `)`, `*/`,
/// `end`, `fi`, `} else {`.
fn is_short(line: &str) -> bool {
    let mut words = line
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (None, _) => true,
        (Some(w), None) => BOILERPLATE.contains(&w),
        _ => false,
    }
}

/// A boilerplate line keeps its origin only next to a line that tells: it must sit in
/// a run of non-blank lines with that origin (blank lines between them aside) that
/// holds a line that is not boilerplate, or between lines other changes wrote. Where
/// the content drifted from what the agent last wrote, the diff otherwise credits
/// lone `}` and `end` lines scattered through a person's code.
fn apply_neighbour_rule(lines: &[&str], origins: &mut [Option<Origin>]) {
    let non_blank: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i].trim().is_empty())
        .collect();
    let mut start = 0;
    while start < non_blank.len() {
        let o = origins[non_blank[start]];
        let end = non_blank[start..]
            .iter()
            .position(|&i| origins[i] != o)
            .map_or(non_blank.len(), |n| start + n);
        let run = &non_blank[start..end];
        // Inside agents' code (changes' lines on both sides), a brace an earlier
        // change wrote is what the agents kept around their later changes, and `git
        // blame` keeps it there; the rule is for braces among a person's lines.
        let tagged = |i: Option<&usize>| i.is_some_and(|&i| origins[i].is_some());
        let among_agents =
            start > 0 && tagged(non_blank.get(start - 1)) && tagged(non_blank.get(end));
        if o.is_some() && !among_agents && run.iter().all(|&i| is_short(lines[i])) {
            for &i in run {
                origins[i] = None;
            }
        }
        start = end;
    }
}

/// Shortest line (without indentation) recovered as moved.
const MIN_MOVED_LINE: usize = 12;

/// Lines of `s` without their terminators (`\n` or `\r\n`).
pub fn split_lines(s: &str) -> impl Iterator<Item = &str> {
    s.split_terminator('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// Replays `history` (oldest first) into the file as the changes left it.
pub fn replay(history: &[&FileChange]) -> Replay {
    replay_from_roots(history, &[])
}

/// [`replay`] with options.
pub fn replay_with(history: &[&FileChange], options: Options) -> Replay {
    replay_from_roots_with(history, &[], options)
}

/// Which checkout a change was made in, for [`replay_from_roots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout {
    pub id: u32,
    /// Named like the checkout the file is in.
    pub local: bool,
}

/// [`replay`] of changes made from several checkouts (`roots[i]` for change `i`;
/// empty: all one). A Write that created the file in another checkout, while the
/// history already holds it, did not write the lines it has in common with it:
/// creating the file there says nothing about who wrote them (a fork, a copy, a
/// fresh clone). In the file's own checkout, a creation writes every line (the file
/// had been deleted).
pub fn replay_from_roots(history: &[&FileChange], roots: &[Checkout]) -> Replay {
    replay_from_roots_with(history, roots, Options::default())
}

/// [`replay_from_roots`] with options.
pub fn replay_from_roots_with(
    history: &[&FileChange],
    roots: &[Checkout],
    options: Options,
) -> Replay {
    let mut r = Replay {
        options,
        ..Replay::default()
    };
    let mut last: Option<u32> = None;
    let mut growth = history.iter().map(|c| recorded_bytes(c)).sum();
    for (i, change) in history.iter().enumerate() {
        let origin = i as Origin;
        let root = roots.get(i).copied();
        let elsewhere = root.is_some_and(|c| !c.local && last.is_some_and(|l| l != c.id));
        if !apply(
            &mut r.lines,
            change,
            origin,
            elsewhere,
            &mut growth,
            options,
        ) {
            r.unplaced.push(origin);
        }
        last = root.map(|c| c.id).or(last);
    }
    r
}

/// Bytes of text a change records. Every change but a replace_all adds at most its own
/// text to the model; a replace_all adds its new string wherever its old one occurs,
/// and one whose new string holds its old one compounds with the next: a hundred bytes
/// of transcript could grow the model without bound. Real ones add far less than the
/// history records, so all the replace_alls of a replay share that much growth.
pub(crate) fn recorded_bytes(c: &FileChange) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let edits: usize = c
        .edits
        .iter()
        .map(|e| e.old_string.len() + e.new_string.len())
        .sum();
    let hunks: usize = c.hunks.iter().flat_map(|h| &h.lines).map(String::len).sum();
    text(&c.content) + text(&c.original) + edits + hunks
}

fn lines_of(s: &str, origin: Option<Origin>) -> Vec<Line> {
    split_lines(s).map(|l| Line::new(l, origin)).collect()
}

/// Brings the model in line with `base`, the file as a tool saw it: lines someone
/// else changed in between lose their tag.
fn resync(model: &mut Vec<Line>, base: &str, o: Options) {
    let raw: Vec<&str> = split_lines(base).collect();
    let (prefix, suffix) = common_ends(&raw, model, o);
    if prefix == raw.len() && prefix == model.len() {
        return;
    }
    // Someone else changed the file in between, and moving a block is not writing it:
    // unlike an agent's overwrite (whose patch counts a moved line as written), the
    // lines a person moved keep their tags. Only the lines between the unchanged ends
    // are rebuilt and aligned: on a large file changed in one place, nearly all of
    // them are left alone.
    let end = model.len() - suffix;
    let mut middle: Vec<Line> = raw[prefix..raw.len() - suffix]
        .iter()
        .map(|l| Line::new(l, None))
        .collect();
    let from = {
        let a: Vec<&str> = model[prefix..end].iter().map(|l| l.id(o)).collect();
        let b: Vec<&str> = middle.iter().map(|l| l.id(o)).collect();
        align(&a, &b, |m| model[prefix + m].origin.is_some())
    };
    for (l, m) in middle.iter_mut().zip(from) {
        if let Some(m) = m {
            l.origin = model[prefix + m].origin;
        }
    }
    if o.ignore_whitespace {
        // The unchanged ends compared without their whitespace: take the base's text,
        // as every other line is.
        let ends = (0..prefix).chain(end..model.len());
        let raw_ends = raw[..prefix].iter().chain(&raw[raw.len() - suffix..]);
        for (k, r) in ends.zip(raw_ends) {
            if &*model[k].text != r.trim_end() {
                model[k] = Line::new(r, model[k].origin);
            }
        }
    }
    model.splice(prefix..end, middle);
}

/// How many lines at the start and, after those, at the end of `raw` (a file's text)
/// are the model's as compared with `o`.
fn common_ends(raw: &[&str], model: &[Line], o: Options) -> (usize, usize) {
    let same = |r: &&str, l: &Line| {
        if !o.ignore_whitespace {
            r.trim_end() == &*l.text
        } else if l.key().is_empty() {
            r.trim().is_empty()
        } else {
            r.split_whitespace().eq(l.key().split(' '))
        }
    };
    let prefix = raw
        .iter()
        .zip(model)
        .take_while(|(r, l)| same(r, l))
        .count();
    let suffix = raw[prefix..]
        .iter()
        .rev()
        .zip(model[prefix..].iter().rev())
        .take_while(|(r, l)| same(r, l))
        .count();
    (prefix, suffix)
}

/// The model after a Write of `content` over it: `carry_over`, without building
/// (normalising, allocating) the lines the Write left alone at either end, which on
/// a large file rewritten in one place is nearly all of them.
fn overwrite(model: &mut Vec<Line>, content: &str, origin: Origin, o: Options) {
    let raw: Vec<&str> = split_lines(content).collect();
    let (prefix, suffix) = common_ends(&raw, model, o);
    let written: Vec<Line> = raw[prefix..raw.len() - suffix]
        .iter()
        .map(|l| Line::new(l, Some(origin)))
        .collect();
    let end = model.len() - suffix;
    let middle = carry_over(&model[prefix..end], written, o);
    model.splice(prefix..end, middle);
}

/// `after` with the tags of lines that `before` already had unchanged.
fn carry_over(before: &[Line], mut after: Vec<Line>, o: Options) -> Vec<Line> {
    let a: Vec<&str> = before.iter().map(|l| l.id(o)).collect();
    let b: Vec<&str> = after.iter().map(|l| l.id(o)).collect();
    for op in diff::ops(&a, &b) {
        if let diff::Op::Equal { old, new, len } = op {
            for k in 0..len {
                after[new + k].origin = before[old + k].origin;
            }
        }
    }
    after
}

/// `growth`: how many bytes replace_alls may still add (see [`recorded_bytes`]).
fn apply(
    model: &mut Vec<Line>,
    change: &FileChange,
    origin: Origin,
    elsewhere: bool,
    growth: &mut usize,
    o: Options,
) -> bool {
    // A patch that fits the model needs no resynchronisation: a change someone made in
    // between, elsewhere in the file, is caught by the final diff anyway. Resyncing
    // costs a pass over the whole file, so it is done only when there is no patch or
    // it does not fit.
    // An overwrite records its patch too; applying it keeps the tags of the lines it
    // left alone without diffing the whole file.
    let patchable = match change.tool.as_str() {
        "Edit" | "MultiEdit" => true,
        "Write" => change.created != Some(true) && !model.is_empty(),
        _ => false,
    };
    if patchable && !change.hunks.is_empty() && apply_hunks(model, &change.hunks, origin, o) {
        return true;
    }
    if let Some(original) = &change.original {
        resync(model, original, o);
    }
    match change.tool.as_str() {
        "Write" => {
            // After a resync the patch may fit where it did not before, as for an Edit:
            // applying it spares diffing the whole file against the content.
            if patchable
                && !change.hunks.is_empty()
                && change.original.is_some()
                && apply_hunks(model, &change.hunks, origin, o)
            {
                return true;
            }
            let content = change.content.as_deref().unwrap_or_default();
            if model.is_empty() && change.created != Some(true) && !change.hunks.is_empty() {
                // An overwrite of a file whose earlier content no record holds (a
                // person's file, without `originalFile` in older records): its patch
                // says which lines it wrote; the rest were there before it.
                let mut lines = lines_of(content, None);
                if tag_added_lines(&mut lines, &change.hunks, origin) {
                    *model = lines;
                    return true;
                }
            }
            if !model.is_empty()
                && change.created != Some(true)
                && change.original.is_none()
                && !change.hunks.is_empty()
            {
                // An overwrite whose patch did not fit the model, without
                // `originalFile` (older records): someone changed the file in between.
                // Diffing the model against its content would credit it with every line
                // that person moved or typed; its patch says which lines it wrote, and
                // the others keep the tags they had, wherever they moved.
                let mut lines = lines_of(content, None);
                if tag_added_lines(&mut lines, &change.hunks, origin) {
                    let from = {
                        let a: Vec<&str> = model.iter().map(|l| l.id(o)).collect();
                        let b: Vec<&str> = lines.iter().map(|l| l.id(o)).collect();
                        align(&a, &b, |m| model[m].origin.is_some())
                    };
                    for (l, m) in lines.iter_mut().zip(from) {
                        if let (None, Some(m)) = (l.origin, m) {
                            l.origin = model[m].origin;
                        }
                    }
                    *model = lines;
                    return true;
                }
            }
            if model.is_empty() || (change.created == Some(true) && !elsewhere) {
                *model = lines_of(content, Some(origin));
            } else {
                // An overwrite that keeps lines did not write them.
                overwrite(model, content, origin, o);
            }
            true
        }
        "Edit" | "MultiEdit" => {
            // After a resync the patch may fit where it did not before.
            if !change.hunks.is_empty()
                && change.original.is_some()
                && apply_hunks(model, &change.hunks, origin, o)
            {
                return true;
            }
            let unplaced = apply_strings(model, change, origin, growth, o);
            if unplaced.is_empty() {
                return true;
            }
            // The file's earlier content is unknown (its history starts before the
            // transcripts) or diverged: keep what the edit wrote as fragments, which
            // the final diff finds in the content wherever they are.
            if unplaced.len() == change.edits.len() && !change.hunks.is_empty() {
                for h in &change.hunks {
                    append_fragment(
                        model,
                        h.lines.iter().filter_map(|l| match l.as_bytes().first() {
                            Some(b'+') => Some((l.get(1..).unwrap_or_default(), Some(origin))),
                            Some(b' ') => Some((l.get(1..).unwrap_or_default(), None)),
                            _ => None,
                        }),
                    );
                }
            } else {
                for &i in &unplaced {
                    // Lines the edit kept from its old string were not written by it.
                    let e = &change.edits[i];
                    let before: Vec<Line> = lines_of(&e.old_string, None);
                    let after = lines_of(&e.new_string, Some(origin));
                    let kept = carry_over_mask(&before, &after, o);
                    let texts: Vec<&str> = split_lines(&e.new_string).collect();
                    append_fragment(
                        model,
                        texts
                            .iter()
                            .zip(kept)
                            .map(|(t, k)| (*t, if k.is_some() { None } else { Some(origin) })),
                    );
                }
            }
            false
        }
        // A shell move: the content is unchanged, its history goes on under the new
        // name.
        "Bash" if change.renamed_from.is_some() => true,
        // An old-version Read: what the file held then (someone may have changed it
        // since the agent last did). It writes nothing.
        "Read" => {
            if let Some(seen) = &change.content {
                resync(model, seen, o);
            }
            true
        }
        // Notebook cells are JSON inside the file; they are not line-attributed.
        _ => false,
    }
}

/// Tags with `origin` the lines of `lines` (the content after the change) that the
/// `hunks` add. False, leaving some tagged, when a hunk's lines are not where it says
/// in `lines` (a patch that does not describe this content).
fn tag_added_lines(
    lines: &mut [Line],
    hunks: &[observatory_transcript::Hunk],
    origin: Origin,
) -> bool {
    for h in hunks {
        let mut at = (h.new_start as usize).saturating_sub(1);
        for l in &h.lines {
            let (kind, text) = match l.as_bytes().first() {
                Some(b'+') => (true, l.get(1..).unwrap_or_default()),
                Some(b' ') => (false, l.get(1..).unwrap_or_default()),
                _ => continue,
            };
            match lines.get_mut(at) {
                Some(line) if &*line.text == text.trim_end() => {
                    if kind {
                        line.origin = Some(origin);
                    }
                }
                _ => return false,
            }
            at += 1;
        }
    }
    true
}

/// Applies `structuredPatch` hunks by line number, checking their context and removed
/// lines against the model (searching nearby when the model drifted).
fn apply_hunks(
    model: &mut Vec<Line>,
    hunks: &[observatory_transcript::Hunk],
    origin: Origin,
    o: Options,
) -> bool {
    // Locate every hunk first (nothing changes if one does not fit), then splice from
    // the last to the first so earlier positions stay valid. Splicing in place keeps a
    // 10,000-line file with hundreds of edits cheap.
    let mut placed = Vec::with_capacity(hunks.len());
    let mut pos = 0usize;
    for h in hunks {
        let old: Vec<String> = h
            .lines
            .iter()
            .filter(|l| !l.starts_with('+') && !l.starts_with('\\'))
            .map(|l| normalize(l.get(1..).unwrap_or_default()))
            .collect();
        // `oldStart` is whatever the transcript says; past `usize` it is past any file.
        let want = usize::try_from(h.old_start)
            .unwrap_or(usize::MAX)
            .saturating_sub(1)
            .max(pos);
        let Some(at) = find_block(model, &old, want, pos) else {
            return false;
        };
        pos = at + old.len();
        placed.push((at, old.len(), h));
    }
    for (at, old_len, h) in placed.into_iter().rev() {
        let mut k = at;
        let mut new_lines = Vec::with_capacity(h.lines.len());
        for l in &h.lines {
            let text = l.get(1..).unwrap_or_default();
            match l.as_bytes().first() {
                Some(b'+') => new_lines.push(Line::new(text, Some(origin))),
                Some(b'-') => k += 1,
                Some(b'\\') => {}
                _ => {
                    // A context line the model holds with other whitespace: someone
                    // re-indented it since (the patch shows the file as the agent
                    // found it), which makes it theirs unless whitespace is ignored.
                    let mut line = model[k].clone();
                    if !o.ignore_whitespace && &*line.text != text.trim_end() {
                        line = Line::new(text, None);
                    }
                    new_lines.push(line);
                    k += 1;
                }
            }
        }
        model.splice(at..at + old_len, new_lines);
    }
    true
}

/// Where `block` occurs in `model`, at `want` or the nearest position at or after
/// `min`.
fn find_block(model: &[Line], block: &[String], want: usize, min: usize) -> Option<usize> {
    // `want` can be anywhere up to `usize::MAX` (see `apply_hunks`): no arithmetic on
    // it may overflow.
    let fits = |at: usize| {
        at.checked_add(block.len())
            .is_some_and(|end| end <= model.len())
            && block
                .iter()
                .enumerate()
                .all(|(k, b)| model[at + k].key() == *b)
    };
    if fits(want) {
        return Some(want);
    }
    let last = model.len().saturating_sub(block.len());
    (1..=model.len()).find_map(|d| {
        let up = want.checked_sub(d).filter(|&a| a >= min && fits(a));
        let down = want.checked_add(d).filter(|&a| a <= last && fits(a));
        up.or(down)
    })
}

/// Never equal to a normalised line: separates fragments so that the diff does not
/// join them into one block.
const GAP: &str = "\u{1}gap";

fn append_fragment<'a>(
    model: &mut Vec<Line>,
    lines: impl Iterator<Item = (&'a str, Option<Origin>)>,
) {
    model.push(Line::new(GAP, None));
    model.extend(lines.map(|(text, origin)| Line::new(text, origin)));
    model.push(Line::new(GAP, None));
}

/// Lines on each side of a string edit's match compared with it (see `apply_strings`).
const EDIT_CONTEXT: usize = 8;

/// Applies Edit / MultiEdit strings by finding them in the model's text. Returns the
/// indices of the edits that could not be located.
///
/// A string is looked for as written first (trailing whitespace aside), so the lines
/// it leaves keep their exact text; failing that, with whitespace collapsed, which
/// finds it where someone re-indented the file since and then writes its lines with
/// their whitespace collapsed too.
fn apply_strings(
    model: &mut Vec<Line>,
    change: &FileChange,
    origin: Origin,
    growth: &mut usize,
    o: Options,
) -> Vec<usize> {
    let mut unplaced = Vec::new();
    for (i, edit) in change.edits.iter().enumerate() {
        if edit.old_string.is_empty() {
            if model.is_empty() {
                *model = lines_of(&edit.new_string, Some(origin));
            } else {
                unplaced.push(i);
            }
            continue;
        }
        // A string of only whitespace cannot be located in lines compared without
        // their trailing whitespace, and collapsed it would match between every
        // character.
        if edit.old_string.trim().is_empty() {
            unplaced.push(i);
            continue;
        }
        let exact = (trim_block(&edit.old_string), trim_block(&edit.new_string));
        let loose = || {
            (
                normalize_block(&edit.old_string),
                normalize_block(&edit.new_string),
            )
        };
        if edit.replace_all {
            let (mut by, mut text) = (Text::Exact, join(model, Text::Exact));
            let (old, new) = if text.contains(exact.0.as_str()) {
                exact
            } else {
                (by, text) = (Text::Loose, join(model, Text::Loose));
                loose()
            };
            let found = text.matches(old.as_str()).count();
            let grows = found.saturating_mul(new.len().saturating_sub(old.len()));
            if found == 0 || grows > *growth {
                unplaced.push(i);
                continue;
            }
            *growth -= grows;
            let new_text = text.replace(&old, &new);
            // Lines that were already there keep their tag (or stay a person's); the
            // rest were written by this edit.
            let after = lines_of(&new_text, Some(origin));
            *model = keep_unchanged(model, after, by, o);
            continue;
        }
        let (by, m, new) = match find_in_model(model, &exact.0, Text::Exact) {
            Some(m) => (Text::Exact, m, exact.1),
            None => {
                let (old, new) = loose();
                match find_in_model(model, &old, Text::Loose) {
                    Some(m) => (Text::Loose, m, new),
                    None => {
                        unplaced.push(i);
                        continue;
                    }
                }
            }
        };
        // Only the lines the match spans change: rebuild those and splice them in, so
        // an edit costs about its own size rather than the file's.
        let prefix = model.get(m.first).map_or("", |l| &by.of(l)[..m.start]);
        let (suffix, upto) = match model.get(m.last) {
            Some(l) => (format!("{}\n", &by.of(l)[m.end..]), m.last + 1),
            None => (String::new(), model.len()),
        };
        let region = format!("{prefix}{new}{suffix}");
        // Compared with a few lines around it, as `git diff` compares the file: an
        // insertion beside lines it repeats (the blank lines between two functions)
        // is placed after them, where git blame places it, not where the edit's
        // strings happened to put them.
        let (from, to) = (
            m.first.saturating_sub(EDIT_CONTEXT),
            (upto + EDIT_CONTEXT).min(model.len()),
        );
        // Every line of the window is the edit's until the diff finds it unchanged.
        let ours = |l: &Line| Line {
            origin: Some(origin),
            ..l.clone()
        };
        let mut replacement: Vec<Line> = model[from..m.first].iter().map(ours).collect();
        replacement.extend(lines_of(&region, Some(origin)));
        replacement.extend(model[upto..to].iter().map(ours));
        let replacement = keep_unchanged(&model[from..to], replacement, by, o);
        model.splice(from..to, replacement);
    }
    unplaced
}

/// Which text of the model's lines a string edit was located in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    /// As written (trailing whitespace aside).
    Exact,
    /// Whitespace collapsed.
    Loose,
}

impl Text {
    fn of(self, l: &Line) -> &str {
        match self {
            Text::Exact => &l.text,
            Text::Loose => l.key(),
        }
    }
}

/// `after` (a string edit's result) with the lines it left as they were taken back
/// from `before`, tag and all. Rebuilt from collapsed text (`by` is
/// [`Text::Loose`]), the edit's lines have lost their whitespace: those it left are
/// then matched with whitespace collapsed and keep the model's exact text.
fn keep_unchanged(before: &[Line], mut after: Vec<Line>, by: Text, o: Options) -> Vec<Line> {
    let compare = match by {
        Text::Exact => o,
        Text::Loose => Options {
            ignore_whitespace: true,
        },
    };
    let mask = carry_over_mask(before, &after, compare);
    for (l, kept) in after.iter_mut().zip(mask) {
        if let Some(k) = kept {
            *l = before[k].clone();
        }
    }
    after
}

/// Where a (possibly multi-line) string first occurs in the model's text: from byte
/// `start` of line `first` to byte `end` of line `last` (`last` may be one past the
/// end when the string ends with the file's last newline).
struct Match {
    first: usize,
    start: usize,
    last: usize,
    end: usize,
}

/// The same answer as searching the model's lines (their text `by`) joined with
/// newlines, without building that text for every edit.
fn find_in_model(model: &[Line], needle: &str, by: Text) -> Option<Match> {
    let parts: Vec<&str> = needle.split('\n').collect();
    if let [only] = parts.as_slice() {
        if model.is_empty() && only.is_empty() {
            return Some(Match {
                first: 0,
                start: 0,
                last: 0,
                end: 0,
            });
        }
        return model.iter().enumerate().find_map(|(i, l)| {
            by.of(l).find(only).map(|p| Match {
                first: i,
                start: p,
                last: i,
                end: p + only.len(),
            })
        });
    }
    let k = parts.len() - 1;
    let (head, middle, tail) = (parts[0], &parts[1..k], parts[k]);
    for i in 0..model.len() {
        if i + k > model.len() {
            break;
        }
        let key = by.of(&model[i]);
        if !key.ends_with(head)
            || !middle
                .iter()
                .enumerate()
                .all(|(j, p)| by.of(&model[i + 1 + j]) == *p)
        {
            continue;
        }
        let last = i + k;
        let found = match model.get(last) {
            Some(l) => by.of(l).starts_with(tail),
            None => tail.is_empty(),
        };
        if found {
            return Some(Match {
                first: i,
                start: key.len() - head.len(),
                last,
                end: tail.len(),
            });
        }
    }
    None
}

/// For each line of `after`, the index of the unchanged line of `before` it
/// corresponds to, `None` for a new line.
fn carry_over_mask(before: &[Line], after: &[Line], o: Options) -> Vec<Option<usize>> {
    let a: Vec<&str> = before.iter().map(|l| l.id(o)).collect();
    let b: Vec<&str> = after.iter().map(|l| l.id(o)).collect();
    let mut out = vec![None; after.len()];
    for op in diff::ops(&a, &b) {
        if let diff::Op::Equal { old, new, len } = op {
            for k in 0..len {
                out[new + k] = Some(old + k);
            }
        }
    }
    out
}

/// A multi-line string normalised line by line, to be found in [`join`]'s loose text.
fn normalize_block(s: &str) -> String {
    s.split('\n').map(normalize).collect::<Vec<_>>().join("\n")
}

/// A multi-line string without each line's trailing whitespace (and `\r`), to be
/// found in [`join`]'s exact text.
fn trim_block(s: &str) -> String {
    s.split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model's text, each line as `by` gives it.
fn join(model: &[Line], by: Text) -> String {
    let mut s = String::new();
    for l in model {
        s.push_str(by.of(l));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests;
