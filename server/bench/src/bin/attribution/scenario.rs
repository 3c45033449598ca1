//! One simulated history of one file with known truth: agent changes written as real
//! transcript records, a person's changes in between (never recorded), and for every
//! line of the result the tool call that wrote it.
//!
//! What "wrote" means: `git blame`'s rules, with each agent tool call a commit and
//! everything else (a person, a shell command) an unrecorded author. The engine is
//! being changed to meet exactly these; they are written down in docs/benchmarks.md.
//! - An agent change writes the lines its `structuredPatch` adds: a line diff (Myers,
//!   like jsdiff) between the file before and after the call. Lines the call left as
//!   they were keep their author.
//! - A person's inserted, modified, restored (a revert) or typed-back lines are the
//!   person's: nobody's, for attribution.
//! - A block a person moves keeps its author.
//! - A line a person re-indents or re-spaces becomes the person's; under "ignore
//!   whitespace" (`git blame -w`) it keeps its author (`TLine::ws_owner`).
//! - A blank line belongs to whoever wrote it, like any other line.
//! - Lines a Bash command changed (`sed -i`, `cat >> <<EOF`) belong to nobody.
//! - The owning conversation of a call is the session the user talked to: a
//!   subagent's calls belong to its parent's session; a call copied by `--resume`
//!   belongs to the session that first made it.

use observatory_corpus::{patch_edit, Change};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use similar::{capture_diff_slices, Algorithm, DiffOp};
use std::ops::Range;

use crate::code::{self, pick, Lang};
use crate::obj;
use crate::record::{b62, hunks_json, snippet, Conversation, Outcome, SubLayout, J};

/// Situations a scenario can contain, for the per-kind breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Edit,
    MultiEdit,
    WriteCreate,
    WriteUpdate,
    Strings,
    ReplaceAll,
    SubLine,
    Failed,
    Sessions,
    SubagentInline,
    SubagentFlat,
    SubagentNested,
    Resume,
    ResumeRestamped,
    OtherCheckout,
    SubdirCwd,
    Insert,
    Delete,
    Modify,
    Move,
    Reformat,
    Crlf,
    Revert,
    TypeBack,
    Bash,
    Recreate,
    SameName,
    ForeignSamePath,
    Renamed,
    NoHuman,
}

pub const KINDS: [(Kind, &str); 30] = [
    (Kind::Edit, "Edit"),
    (Kind::MultiEdit, "MultiEdit"),
    (Kind::WriteCreate, "Write create"),
    (Kind::WriteUpdate, "Write update (overwrite)"),
    (Kind::Strings, "old-version records (string fallback)"),
    (Kind::ReplaceAll, "Edit replace_all"),
    (Kind::SubLine, "Edit of part of a line"),
    (Kind::Failed, "failed / rejected calls"),
    (Kind::Sessions, "several sessions"),
    (Kind::SubagentInline, "subagent, inline sidechain (1.0.x)"),
    (
        Kind::SubagentFlat,
        "subagent, agent-<id>.jsonl beside (2.0.x)",
    ),
    (
        Kind::SubagentNested,
        "subagent, <session>/subagents/ (2.1.x)",
    ),
    (Kind::Resume, "--resume copy (original sessionId)"),
    (
        Kind::ResumeRestamped,
        "--resume copy re-stamped with new sessionId",
    ),
    (Kind::OtherCheckout, "session in another checkout"),
    (Kind::SubdirCwd, "session started in a subdirectory"),
    (Kind::Insert, "person inserts lines"),
    (Kind::Delete, "person deletes lines"),
    (Kind::Modify, "person modifies lines"),
    (Kind::Move, "person moves a block"),
    (Kind::Reformat, "person re-indents / re-spaces"),
    (Kind::Crlf, "CRLF file (records LF or CRLF)"),
    (Kind::Revert, "person reverts an agent edit"),
    (Kind::TypeBack, "person deletes lines and types them back"),
    (Kind::Bash, "file changed through Bash (sed -i, cat >>)"),
    (Kind::Recreate, "file deleted, written again"),
    (Kind::SameName, "same file name elsewhere in project"),
    (Kind::ForeignSamePath, "other project, same relative path"),
    (Kind::Renamed, "person moves / renames the file (no record)"),
    (Kind::NoHuman, "no human edits at all"),
];

/// How a line came to be, for explaining errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum How {
    Original,
    Typed,
    Modified,
    Restored,
    /// Deleted and typed again, identical.
    TypedBack,
    /// Changed by a shell command an agent ran.
    Bash,
    Agent(&'static str),
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::Original => f.write_str("person's original line"),
            How::Typed => f.write_str("typed by a person"),
            How::Modified => f.write_str("modified by a person"),
            How::Restored => f.write_str("restored by a revert"),
            How::TypedBack => f.write_str("typed back by a person"),
            How::Bash => f.write_str("changed through Bash"),
            How::Agent(tool) => write!(f, "written by {tool}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TLine {
    pub text: String,
    pub owner: Option<u32>,
    /// The owner under "ignore whitespace" rules: a person's re-spacing keeps it.
    pub ws_owner: Option<u32>,
    pub how: How,
    pub moved: bool,
    pub respaced: bool,
}

impl TLine {
    fn new(text: String, owner: Option<u32>, how: How) -> TLine {
        TLine {
            text,
            owner,
            ws_owner: owner,
            how,
            moved: false,
            respaced: false,
        }
    }
}

/// A recorded tool call.
pub struct Call {
    pub id: String,
    /// The session id of the conversation that owns the call: the parent's for a
    /// subagent's call, the original's for a call `--resume` copied.
    pub session: String,
    /// Made by a subagent.
    pub subagent: bool,
    /// It changed the file being blamed (not another file, not another project's).
    pub ours: bool,
}

pub struct Scenario {
    pub index: usize,
    pub lang: Lang,
    /// The file's path below the project root.
    pub rel: String,
    /// Name of the local checkout directory.
    pub root_name: String,
    pub convs: Vec<Conversation>,
    pub calls: Vec<Call>,
    pub lines: Vec<TLine>,
    pub kinds: Vec<Kind>,
    /// What happened, in order (for `--scenario N`).
    pub log: Vec<String>,
    /// The file after each change, with who made it (the call's index, or `None` for
    /// a person or a shell command); `None` for the file deleted. Committed one by
    /// one, these are a git history whose `git blame` the truth should equal.
    pub history: Vec<(Option<Vec<String>>, Option<u32>)>,
    /// The file's moves by a person: from the change at this index of `history` on,
    /// the file is no longer at the first path but at the second (below the project
    /// root).
    pub renames: Vec<(usize, String, String)>,
    /// The project's other files, as its checkouts last had them (path below the
    /// project root, content): they are in the checkout beside the file.
    pub others: Vec<(String, String)>,
    crlf: bool,
}

impl Scenario {
    pub fn has(&self, k: Kind) -> bool {
        self.kinds.contains(&k)
    }

    pub fn content(&self) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.text);
            s.push_str(eol);
        }
        s
    }

    /// The true author of each line (`git blame` rules).
    pub fn truth(&self) -> Vec<Option<u32>> {
        self.lines.iter().map(|l| l.owner).collect()
    }

    /// The true author of each line ignoring whitespace (`git blame -w` rules).
    pub fn truth_ws(&self) -> Vec<Option<u32>> {
        self.lines.iter().map(|l| l.ws_owner).collect()
    }
}

/// A person's event or an agent's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Agent,
    Insert,
    Delete,
    Modify,
    Move,
    Reformat,
    Revert,
    Recreate,
    TypeBack,
    Bash,
    Resume,
}

/// The file as an agent call finds it, and where the call is recorded.
struct Before {
    conv: usize,
    ms: i64,
    /// The file's path as the conversation names it.
    path: String,
    lines: Vec<String>,
    /// `lines` joined.
    text: String,
    /// The `originalFile` of the call: `text`, with CRLF endings when the file has
    /// them and this conversation's records keep them.
    orig: String,
}

/// A planned line-level change: replace `del` lines at `at` with `ins`.
struct Region {
    at: usize,
    del: usize,
    ins: Vec<String>,
}

struct Sim {
    rng: StdRng,
    lang: Lang,
    rel: String,
    lines: Vec<TLine>,
    calls: Vec<Call>,
    convs: Vec<Conversation>,
    /// The checkout each conversation's paths are under.
    roots: Vec<String>,
    /// Conversations that have written their opening prompt.
    started: Vec<bool>,
    /// The file as each conversation last read or wrote it.
    seen: Vec<Option<String>>,
    kinds: Vec<Kind>,
    log: Vec<String>,
    clock: i64,
    /// The file before the last agent change, while nothing else happened since.
    undo: Option<Vec<TLine>>,
    /// Other files the conversations write, by path.
    others: std::collections::HashMap<String, Vec<String>>,
    /// The conversation that continues each one (itself, or its `--resume`).
    redirect: Vec<usize>,
    /// The file is saved with CRLF endings.
    crlf: bool,
    /// Per conversation: its records keep the file's CRLF (`originalFile` and the
    /// patch lines end in `\r`); else they are LF, as the agent's strings are.
    crlf_records: Vec<bool>,
    /// See `Scenario::history`.
    history: Vec<(Option<Vec<String>>, Option<u32>)>,
    /// See `Scenario::renames`.
    renames: Vec<(usize, String, String)>,
}

const PROJECTS: &[&str] = &[
    "acme-api",
    "billing-service",
    "web-dashboard",
    "ingest-worker",
    "ml-pipeline",
];

fn join(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn split(s: &str) -> Vec<String> {
    s.split_terminator('\n').map(str::to_owned).collect()
}

fn indent_of(s: &str) -> &str {
    &s[..s.len() - s.trim_start().len()]
}

/// The ranges of consecutive non-blank lines.
fn paragraphs(lines: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        match (l.trim().is_empty(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, lines.len()));
    }
    out
}

/// The changed runs (as Myers finds them, like jsdiff) from `old` to `new`: for each,
/// the range of `old` replaced and the range of `new` replacing it, in order.
///
/// Runs are the gaps between the matched lines: similar's compacted ops can list
/// insertions and deletions out of order (with odd indexes) around a moved blank
/// line, while the matched lines themselves are always right.
fn line_changes(old: &[String], new: &[String]) -> Vec<(Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let (mut o, mut n) = (0, 0);
    let mut equal: Vec<(usize, usize, usize)> = capture_diff_slices(Algorithm::Myers, old, new)
        .into_iter()
        .filter_map(|op| match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => Some((old_index, new_index, len)),
            _ => None,
        })
        .collect();
    equal.sort_unstable();
    equal.push((old.len(), new.len(), 0));
    for (oi, ni, len) in equal {
        if oi > o || ni > n {
            out.push((o..oi, n..ni));
        }
        (o, n) = (oi + len, ni + len);
    }
    out
}

fn as_changes(new: &[String], runs: &[(Range<usize>, Range<usize>)]) -> Vec<Change> {
    runs.iter()
        .map(|(o, n)| Change {
            at: o.start,
            del: o.len(),
            ins: new[n.clone()].to_vec(),
        })
        .collect()
}

/// The `structuredPatch` hunks from `old` to `new`.
fn patch(old: &[String], new: &[String]) -> Vec<observatory_corpus::Hunk> {
    let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
    let runs = line_changes(old, new);
    patch_edit(&old_refs, &as_changes(new, &runs)).1
}

impl Sim {
    fn new(rng: StdRng, lang: Lang, rel: String, index: usize) -> Sim {
        Sim {
            rng,
            lang,
            rel,
            lines: Vec::new(),
            calls: Vec::new(),
            convs: Vec::new(),
            roots: Vec::new(),
            started: Vec::new(),
            seen: Vec::new(),
            kinds: Vec::new(),
            log: Vec::new(),
            clock: 1_761_955_200_000 + index as i64 * 3_600_000,
            undo: None,
            others: Default::default(),
            redirect: Vec::new(),
            crlf: false,
            crlf_records: Vec::new(),
            history: Vec::new(),
            renames: Vec::new(),
        }
    }

    fn into_scenario(self, index: usize, root_name: String, foreign: Option<usize>) -> Scenario {
        let crlf = self.crlf;
        // The other files of the project's own checkouts (not another project's).
        let mut others: Vec<(String, String)> = Vec::new();
        let own_roots: Vec<&String> = self
            .roots
            .iter()
            .enumerate()
            .filter(|(c, _)| Some(*c) != foreign)
            .map(|(_, r)| r)
            .collect();
        let mut paths: Vec<&String> = self.others.keys().collect();
        paths.sort();
        for path in paths {
            let rel = own_roots
                .iter()
                .find_map(|r| path.strip_prefix(r.as_str())?.strip_prefix('/'));
            if let Some(rel) = rel {
                if rel != self.rel && !others.iter().any(|(r, _)| r == rel) {
                    others.push((rel.to_owned(), join(&self.others[path])));
                }
            }
        }
        Scenario {
            index,
            lang: self.lang,
            rel: self.rel,
            root_name,
            convs: self.convs,
            calls: self.calls,
            lines: self.lines,
            kinds: self.kinds,
            log: self.log,
            history: self.history,
            renames: self.renames,
            others,
            crlf,
        }
    }

    /// Records the file as it is now, if it changed, credited to the one call whose
    /// lines appeared since the last record (none: a person's change).
    fn snapshot(&mut self) {
        let texts = self.texts();
        let last = self.history.last().and_then(|(t, _)| t.as_ref());
        if last == Some(&texts) {
            return;
        }
        let before: std::collections::HashSet<u32> =
            self.history.iter().filter_map(|(_, a)| *a).collect();
        let mut new: Vec<u32> = self
            .lines
            .iter()
            .filter_map(|l| l.owner)
            .filter(|o| !before.contains(o))
            .collect();
        new.sort_unstable();
        new.dedup();
        let author = match new.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        self.history.push((Some(texts), author));
    }

    /// Adds a conversation whose paths are under `root`; its index.
    fn add_conv(&mut self, conv: Conversation, root: String) -> usize {
        self.convs.push(conv);
        self.roots.push(root);
        self.started.push(false);
        self.seen.push(None);
        self.redirect.push(self.convs.len() - 1);
        let keep = self.crlf && self.rng.random_bool(0.5);
        self.crlf_records.push(keep);
        self.convs.len() - 1
    }

    /// The conversation now standing for `conv` (after any `--resume`).
    fn live(&self, mut conv: usize) -> usize {
        while self.redirect[conv] != conv {
            conv = self.redirect[conv];
        }
        conv
    }

    /// `claude --resume` of `conv`: a new file repeating its records; later work
    /// happens there.
    fn resume(&mut self, conv: usize) -> anyhow::Result<()> {
        let conv = self.live(conv);
        if !self.started[conv] || self.convs[conv].agent.is_some() {
            return Ok(());
        }
        let restamp = self.rng.random_bool(0.3);
        let r = Conversation::resume(&mut self.rng, &self.convs[conv], restamp);
        let root = self.roots[conv].clone();
        let new = self.add_conv(r, root);
        self.crlf_records[new] = self.crlf_records[conv];
        self.started[new] = true;
        self.seen[new] = self.seen[conv].clone();
        self.redirect[conv] = new;
        self.mark(if restamp {
            Kind::ResumeRestamped
        } else {
            Kind::Resume
        });
        self.log.push(format!(
            "session {conv} resumed as {new}{}",
            if restamp { " (copies re-stamped)" } else { "" }
        ));
        let ms = self.tick();
        let text = code::sentence(&mut self.rng, self.lang);
        self.convs[new].prompt(&mut self.rng, ms, text)
    }

    /// Text as conversation `conv` records the file: CRLF when it keeps them.
    fn rec_text(&self, conv: usize, text: &str) -> String {
        if self.crlf_records[conv] {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        }
    }

    /// Patch hunks as conversation `conv` records them (each line with the file's
    /// `\r` when it keeps CRLF).
    fn rec_hunks(&self, conv: usize, hunks: &[observatory_corpus::Hunk]) -> J {
        if !self.crlf_records[conv] {
            return hunks_json(hunks);
        }
        let mut hunks = hunks.to_vec();
        for h in &mut hunks {
            for l in &mut h.lines {
                l.push('\r');
            }
        }
        hunks_json(&hunks)
    }

    /// `parent` hands work to its subagent `sub`: the Task call, and the subagent's
    /// first prompt. Returns the Task's tool-use id.
    fn start_task(&mut self, parent: usize, sub: usize) -> anyhow::Result<String> {
        let parent = self.live(parent);
        let ms = self.tick();
        self.start_conv(parent, ms)?;
        let id = b62(&mut self.rng, "toolu_01", 22);
        let prompt = code::sentence(&mut self.rng, self.lang);
        let input = obj! {"description": "Refactor module", "prompt": &prompt, "subagent_type": "general-purpose"};
        self.convs[parent].tool_use(&mut self.rng, ms, &id, "Task", input)?;
        self.convs[sub].prompt(&mut self.rng, ms + 200, prompt)?;
        self.started[sub] = true;
        Ok(id)
    }

    /// The subagent is done: the Task's result in `parent`.
    fn finish_task(&mut self, parent: usize, id: &str) -> anyhow::Result<()> {
        let parent = self.live(parent);
        let ms = self.tick();
        let text = "Done: the module is refactored and tests pass.";
        // 1.0.x records the answer's blocks and totals; 2.x a status object.
        let result = if self.convs[parent].version.starts_with("1.") {
            obj! {"content": vec![obj! {"type": "text", "text": text}],
            "totalDurationMs": 48_211u64, "totalTokens": 31_877u64, "totalToolUseCount": 6u64}
        } else {
            obj! {"status": "completed", "prompt": "Refactor module",
            "totalDurationMs": 48_211u64, "totalTokens": 31_877u64, "totalToolUseCount": 6u64}
        };
        let outcome = Outcome {
            text: text.into(),
            is_error: false,
            says_ok: false,
            result,
        };
        self.convs[parent].tool_result(&mut self.rng, ms, id, outcome)
    }

    /// A person deletes the file and an agent writes it again: mostly the same code
    /// with a few parts rewritten, or new code.
    fn recreate(&mut self, conv: usize) -> anyhow::Result<()> {
        let mut content = self.texts();
        if self.rng.random_bool(0.4) || content.len() < 10 {
            let t = self.rng.random_range(40..=300);
            content = code::source_file(&mut self.rng, self.lang, t);
        } else {
            for _ in 0..self.rng.random_range(1..=3) {
                if let Some(r) = self.plan_region(&content) {
                    content.splice(r.at..r.at + r.del, r.ins);
                }
            }
        }
        self.log.push("person deletes the file".into());
        self.snapshot();
        self.history.push((None, None));
        self.lines.clear();
        self.mark(Kind::Recreate);
        self.create(conv, content)
    }

    /// A person moves the file to `rel` (below the project root); no record sees it.
    fn move_file(&mut self, rel: String) {
        // Not onto another file of the project.
        let taken = self.others.keys().any(|p| p.ends_with(&format!("/{rel}")));
        let rel = if taken { format!("moved/{rel}") } else { rel };
        self.log.push(format!("person moves {} to {rel}", self.rel));
        self.renames
            .push((self.history.len(), self.rel.clone(), rel.clone()));
        self.rel = rel;
        self.mark(Kind::Renamed);
    }

    fn texts(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.text.clone()).collect()
    }

    fn mark(&mut self, k: Kind) {
        if !self.kinds.contains(&k) {
            self.kinds.push(k);
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += self.rng.random_range(20_000..1_200_000);
        self.clock
    }

    fn path_for(&self, conv: usize) -> String {
        format!("{}/{}", self.roots[conv], self.rel)
    }

    /// Makes `new` the file's content as written by call `owner` (`None`: a person),
    /// keeping the authors of the lines it left alone. Returns the patch hunks.
    fn commit(
        &mut self,
        new: Vec<String>,
        owner: Option<u32>,
        how: How,
    ) -> Vec<observatory_corpus::Hunk> {
        let old = self.texts();
        let changes = line_changes(&old, &new);
        let mut out: Vec<TLine> = Vec::with_capacity(new.len());
        let mut pos = 0;
        for (o, n) in &changes {
            out.extend(self.lines[pos..o.start].iter().cloned());
            for t in &new[n.clone()] {
                out.push(TLine::new(t.clone(), owner, how));
            }
            pos = o.end;
        }
        out.extend(self.lines[pos..].iter().cloned());
        let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
        let (text, hunks) = patch_edit(&old_refs, &as_changes(&new, &changes));
        debug_assert_eq!(text, join(&new));
        self.lines = out;
        hunks
    }

    // ---- agent changes -------------------------------------------------------

    /// A line-level change an agent would make to `lines`.
    fn plan_region(&mut self, lines: &[String]) -> Option<Region> {
        let lang = self.lang;
        let paras = paragraphs(lines);
        let roll = self.rng.random_range(0..100);
        if lines.is_empty() || paras.is_empty() {
            return None;
        }
        if roll < 12 {
            // Change a token of one line.
            for _ in 0..20 {
                let i = self.rng.random_range(0..lines.len());
                if let Some(t) = code::tweak_line(&mut self.rng, lang, &lines[i]) {
                    return Some(Region {
                        at: i,
                        del: 1,
                        ins: vec![t],
                    });
                }
            }
            None
        } else if roll < 50 {
            // Rewrite a few statements of a body.
            for _ in 0..20 {
                let i = self.rng.random_range(0..lines.len());
                if lines[i].trim().is_empty() || indent_of(&lines[i]).is_empty() {
                    continue;
                }
                let run = lines[i..]
                    .iter()
                    .take_while(|l| !l.trim().is_empty())
                    .count();
                let del = self.rng.random_range(1..=run.min(4));
                let indent = indent_of(&lines[i]).to_owned();
                let mut ins = Vec::new();
                for _ in 0..self.rng.random_range(1..5) {
                    ins.extend(code::statement(&mut self.rng, lang, &indent, 1));
                }
                if self.rng.random_bool(0.3) {
                    // Keep the last line and add before it.
                    ins.push(lines[i + del - 1].clone());
                }
                return Some(Region { at: i, del, ins });
            }
            None
        } else if roll < 75 {
            // A new function after a paragraph, at the level of the block it closes
            // (a method after a method) or of the paragraph itself.
            let (s, e) = paras[self.rng.random_range(0..paras.len())];
            let last = &lines[e - 1];
            let indent = if last.trim() == "}" {
                indent_of(last)
            } else {
                indent_of(&lines[s])
            }
            .to_owned();
            let mut ins = vec![String::new()];
            if lang == Lang::Python && indent.is_empty() {
                ins.push(String::new());
            }
            ins.extend(code::function(&mut self.rng, lang, &indent));
            Some(Region { at: e, del: 0, ins })
        } else if roll < 88 {
            // Delete a few lines.
            let (s, e) = paras[self.rng.random_range(0..paras.len())];
            let at = self.rng.random_range(s..e);
            let del = self.rng.random_range(1..=(e - at).min(5));
            Some(Region {
                at,
                del,
                ins: Vec::new(),
            })
        } else {
            // Replace a whole paragraph with a new function.
            let (s, e) = paras[self.rng.random_range(0..paras.len())];
            let indent = indent_of(&lines[s]).to_owned();
            Some(Region {
                at: s,
                del: e - s,
                ins: code::function(&mut self.rng, lang, &indent),
            })
        }
    }

    /// The `old_string` / `new_string` of an Edit doing `r`, with context added until
    /// `old_string` occurs once in the file.
    fn strings_for(&mut self, lines: &[String], r: &Region) -> Option<(String, String)> {
        let content = join(lines);
        // Part of a line, when only part of one line changes.
        if r.del == 1
            && r.ins.len() == 1
            && lines[r.at].is_ascii()
            && r.ins[0].is_ascii()
            && self.rng.random_bool(0.6)
        {
            let (a, b) = (lines[r.at].as_bytes(), r.ins[0].as_bytes());
            let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let s = a[p..]
                .iter()
                .rev()
                .zip(b[p..].iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            let (mut lo, mut hi) = (p, a.len() - s);
            // Widen to whole words, as an agent quotes them.
            while lo > 0 && a[lo - 1].is_ascii_alphanumeric() {
                lo -= 1;
            }
            while hi < a.len() && a[hi].is_ascii_alphanumeric() {
                hi += 1;
            }
            let hi_b = b.len() - (a.len() - hi);
            let (old, new) = (&lines[r.at][lo..hi], &r.ins[0][lo..hi_b]);
            if old.trim().len() >= 6 && content.matches(old).count() == 1 {
                self.mark(Kind::SubLine);
                return Some((old.to_owned(), new.to_owned()));
            }
        }
        let (mut s, mut e) = (r.at, r.at + r.del);
        let (mut pre, mut post) = (Vec::new(), Vec::new());
        if r.del == 0 || r.ins.is_empty() || self.rng.random_bool(0.3) {
            // Anchor insertions and deletions on a neighbour.
            if s > 0 {
                s -= 1;
                pre.push(lines[s].clone());
            } else if e < lines.len() {
                post.push(lines[e].clone());
                e += 1;
            }
        }
        let trailing = e < lines.len() && self.rng.random_bool(0.3);
        let build = |pre: &[String], post: &[String], s: usize, e: usize| {
            let mut old = lines[s..e].join("\n");
            let mut new = pre
                .iter()
                .chain(&r.ins)
                .chain(post)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            if trailing {
                old.push('\n');
                new.push('\n');
            }
            (old, new)
        };
        loop {
            let (old, new) = build(&pre, &post, s, e);
            if !old.trim().is_empty() && content.matches(&old).count() == 1 {
                return Some((old, new));
            }
            if s > 0 && (e == lines.len() || self.rng.random_bool(0.5)) {
                s -= 1;
                pre.insert(0, lines[s].clone());
            } else if e < lines.len() {
                post.push(lines[e].clone());
                e += 1;
            } else {
                return None;
            }
        }
    }

    /// An identifier used more than once, renamed everywhere.
    fn plan_rename(&mut self, content: &str) -> Option<(String, String)> {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for w in content.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if w.len() >= 9 && (w.contains('_') || w.chars().any(|c| c.is_ascii_uppercase())) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let cands: Vec<&str> = counts
            .into_iter()
            .filter(|(_, n)| (2..=6).contains(n))
            .map(|(w, _)| w)
            .collect();
        if cands.is_empty() {
            return None;
        }
        let old = pick(&mut self.rng, &cands).to_owned();
        let new = code::new_name(&mut self.rng, self.lang);
        (new != old && !content.contains(&new)).then_some((old, new))
    }

    fn start_conv(&mut self, conv: usize, ms: i64) -> anyhow::Result<()> {
        // A subagent gets one prompt, the Task's (`start_task`); a session gets a new
        // prompt now and then.
        let again = self.convs[conv].agent.is_none() && self.rng.random_bool(0.3);
        if !self.started[conv] || again {
            let text = code::sentence(&mut self.rng, self.lang);
            self.convs[conv].prompt(&mut self.rng, ms - 8_000, text)?;
            self.started[conv] = true;
        }
        Ok(())
    }

    fn new_call(&mut self, conv: usize, ours: bool) -> u32 {
        let id = b62(&mut self.rng, "toolu_01", 22);
        let c = &self.convs[conv];
        self.calls.push(Call {
            id,
            ours,
            session: c.session_id.clone(),
            subagent: c.agent.is_some(),
        });
        (self.calls.len() - 1) as u32
    }

    /// An agent's Edit, MultiEdit, Write or failed call on the file; whether it
    /// changed the file.
    fn agent(&mut self, conv: usize) -> anyhow::Result<bool> {
        let conv = self.live(conv);
        let ms = self.tick();
        self.start_conv(conv, ms)?;
        if self.convs[conv].old_style {
            self.mark(Kind::Strings);
        }
        let lines = self.texts();
        let text = join(&lines);
        let at = Before {
            conv,
            ms,
            path: self.path_for(conv),
            orig: self.rec_text(conv, &text),
            text,
            lines,
        };
        if self.convs[conv].old_style && self.seen[conv].as_deref() != Some(at.text.as_str()) {
            self.read(&at)?;
        }
        let snapshot = self.lines.clone();
        let wrote = match self.rng.random_range(0..100) {
            0..6 => {
                self.failed(&at)?;
                false
            }
            6..10 => match self.plan_rename(&at.text) {
                Some(rename) => self.rename(&at, rename)?,
                None => self.edit(&at, false)?,
            },
            10..66 => self.edit(&at, false)?,
            66..78 => self.edit(&at, true)?,
            _ => self.overwrite(&at)?,
        };
        if wrote {
            self.undo = Some(snapshot);
        }
        self.seen[conv] = Some(join(&self.texts()));
        Ok(wrote)
    }

    /// A whole-file Read, as Claude Code makes the agent do before it changes a file
    /// it has not seen as it is now. Old versions record only the `cat -n` text.
    fn read(&mut self, at: &Before) -> anyhow::Result<()> {
        let call = self.new_call(at.conv, false);
        self.log.push(format!("agent Read [{call}]"));
        let mut text = String::new();
        for (k, l) in at.lines.iter().enumerate() {
            if k > 0 {
                text.push('\n');
            }
            text.push_str(&format!("{:>6}\t{l}", k + 1));
        }
        let input = obj! {"file_path": &at.path};
        let outcome = Outcome {
            text: text.clone(),
            is_error: false,
            says_ok: false,
            result: J::Str(text),
        };
        let id = self.calls[call as usize].id.clone();
        self.convs[at.conv].tool_call(&mut self.rng, at.ms - 2_000, &id, "Read", input, outcome)?;
        Ok(())
    }

    fn how(&self, conv: usize, tool: &'static str, fallback: &'static str) -> How {
        How::Agent(if self.convs[conv].old_style {
            fallback
        } else {
            tool
        })
    }

    /// An Edit with `replace_all` renaming an identifier.
    fn rename(&mut self, at: &Before, (old, new): (String, String)) -> anyhow::Result<bool> {
        let after = at.text.replace(&old, &new);
        self.mark(Kind::ReplaceAll);
        self.mark(Kind::Edit);
        let call = self.new_call(at.conv, true);
        let how = self.how(at.conv, "Edit replace_all", "Edit replace_all (strings)");
        let hunks = self.commit(split(&after), Some(call), how);
        let patch = self.rec_hunks(at.conv, &hunks);
        self.log
            .push(format!("agent Edit replace_all {old} -> {new} [{call}]"));
        let path = &at.path;
        let input =
            obj! {"file_path": path, "old_string": &old, "new_string": &new, "replace_all": true};
        let result = obj! {"filePath": path, "oldString": &old, "newString": &new, "originalFile": &at.orig,
        "structuredPatch": patch, "userModified": false, "replaceAll": true};
        let text = snippet(path, &after, first_change(&hunks));
        self.emit(at.conv, at.ms, call, "Edit", input, result, text)?;
        Ok(true)
    }

    /// An Edit, or a MultiEdit of two to four edits applied one after another.
    fn edit(&mut self, at: &Before, multi: bool) -> anyhow::Result<bool> {
        let n = if multi {
            self.rng.random_range(2..=4)
        } else {
            1
        };
        let mut cur = at.lines.clone();
        let mut edits = Vec::new();
        for _ in 0..n * 3 {
            if edits.len() == n {
                break;
            }
            let Some(r) = self.plan_region(&cur) else {
                continue;
            };
            let Some((old, new)) = self.strings_for(&cur, &r) else {
                continue;
            };
            let next = join(&cur).replacen(&old, &new, 1);
            cur = split(&next);
            edits.push((old, new));
        }
        if edits.is_empty() || (multi && edits.len() < 2) {
            return Ok(false);
        }
        let call = self.new_call(at.conv, true);
        let tool = if multi { "MultiEdit" } else { "Edit" };
        self.mark(if multi { Kind::MultiEdit } else { Kind::Edit });
        let how = if multi {
            self.how(at.conv, "MultiEdit", "MultiEdit (strings)")
        } else {
            self.how(at.conv, "Edit", "Edit (strings)")
        };
        let after = join(&cur);
        let hunks = self.commit(cur, Some(call), how);
        let patch = self.rec_hunks(at.conv, &hunks);
        self.log
            .push(format!("agent {tool} x{} [{call}]", edits.len()));
        let path = &at.path;
        let ej = |(o, n): &(String, String)| obj! {"old_string": o, "new_string": n, "replace_all": false};
        let (input, result, text) = if multi {
            let input = obj! {"file_path": path, "edits": edits.iter().map(ej).collect::<Vec<_>>()};
            let result = obj! {"filePath": path, "edits": edits.iter().map(ej).collect::<Vec<_>>(),
            "originalFileContents": &at.orig, "structuredPatch": patch, "userModified": false};
            let mut text = format!("Applied {} edits to {path}:", edits.len());
            let cut = |s: &str| s.chars().take(50).collect::<String>();
            for (k, (o, n)) in edits.iter().enumerate() {
                text.push_str(&format!(
                    "\n{}. Replaced \"{}...\" with \"{}...\"",
                    k + 1,
                    cut(o),
                    cut(n)
                ));
            }
            (input, result, text)
        } else {
            let (o, n) = &edits[0];
            let input = obj! {"file_path": path, "old_string": o, "new_string": n};
            let result = obj! {"filePath": path, "oldString": o, "newString": n, "originalFile": &at.orig,
            "structuredPatch": patch, "userModified": false, "replaceAll": false};
            (input, result, snippet(path, &after, first_change(&hunks)))
        };
        self.emit(at.conv, at.ms, call, tool, input, result, text)?;
        Ok(true)
    }

    /// A Write of the whole file again with a few parts rewritten.
    fn overwrite(&mut self, at: &Before) -> anyhow::Result<bool> {
        let mut cur = at.lines.clone();
        for _ in 0..self.rng.random_range(1..=4) {
            if let Some(r) = self.plan_region(&cur) {
                cur.splice(r.at..r.at + r.del, r.ins);
            }
        }
        let call = self.new_call(at.conv, true);
        self.mark(Kind::WriteUpdate);
        let content = join(&cur);
        let how = self.how(at.conv, "Write update", "Write update (strings)");
        let hunks = self.commit(cur, Some(call), how);
        let patch = self.rec_hunks(at.conv, &hunks);
        self.log.push(format!("agent Write update [{call}]"));
        let path = &at.path;
        let input = obj! {"file_path": path, "content": &content};
        let result = if self.convs[at.conv].write_without_original() {
            obj! {"type": "update", "filePath": path, "content": &content, "structuredPatch": patch}
        } else {
            obj! {"type": "update", "filePath": path, "content": &content,
            "structuredPatch": patch, "originalFile": &at.orig}
        };
        let text = snippet(path, &content, first_change(&hunks));
        self.emit(at.conv, at.ms, call, "Write", input, result, text)?;
        Ok(true)
    }

    /// A Write that creates the file (it did not exist).
    fn create(&mut self, conv: usize, content: Vec<String>) -> anyhow::Result<()> {
        let conv = self.live(conv);
        let ms = self.tick();
        self.start_conv(conv, ms)?;
        let path = self.path_for(conv);
        let call = self.new_call(conv, true);
        self.mark(Kind::WriteCreate);
        if self.convs[conv].old_style {
            self.mark(Kind::Strings);
        }
        let text = join(&content);
        self.seen[conv] = Some(text.clone());
        self.lines = content
            .into_iter()
            .map(|t| TLine::new(t, Some(call), How::Agent("Write create")))
            .collect();
        self.log.push(format!("agent Write create [{call}]"));
        let input = obj! {"file_path": &path, "content": &text};
        let result = if self.convs[conv].write_without_original() {
            obj! {"type": "create", "filePath": &path, "content": &text, "structuredPatch": J::Arr(vec![])}
        } else {
            obj! {"type": "create", "filePath": &path, "content": &text,
            "structuredPatch": J::Arr(vec![]), "originalFile": J::Null}
        };
        self.emit(
            conv,
            ms,
            call,
            "Write",
            input,
            result,
            format!("File created successfully at: {path}"),
        )?;
        self.undo = None;
        Ok(())
    }

    /// An Edit that fails (its string is not in the file) or that the person rejects.
    fn failed(&mut self, at: &Before) -> anyhow::Result<()> {
        let lines = &at.lines;
        let Some(r) = self.plan_region(lines) else {
            return Ok(());
        };
        let Some((mut old, new)) = self.strings_for(lines, &r) else {
            return Ok(());
        };
        let stale = self.rng.random_bool(0.5);
        let outcome = if stale {
            // The agent quotes the code as it remembers it, not as it is now.
            let first = old.lines().next().unwrap_or_default().to_owned();
            let remembered = code::tweak_line(&mut self.rng, self.lang, &first)
                .unwrap_or_else(|| format!("{first};"));
            old = old.replacen(&first, &remembered, 1);
            if at.text.contains(&old) {
                return Ok(());
            }
            Outcome {
                text: format!(
                    "<tool_use_error>String to replace not found in file.\nString: {old}</tool_use_error>"
                ),
                is_error: true,
                says_ok: false,
                result: J::Str(format!(
                    "Error: String to replace not found in file.\nString: {old}"
                )),
            }
        } else {
            Outcome {
                text: "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to tell you how to proceed.".into(),
                is_error: true,
                says_ok: false,
                result: J::from("User rejected tool use"),
            }
        };
        let call = self.new_call(at.conv, true);
        self.mark(Kind::Failed);
        self.log.push(format!(
            "agent Edit {} [{call}]",
            if stale { "failed" } else { "rejected" }
        ));
        let input = obj! {"file_path": &at.path, "old_string": &old, "new_string": &new};
        let id = self.calls[call as usize].id.clone();
        self.convs[at.conv].tool_call(&mut self.rng, at.ms, &id, "Edit", input, outcome)?;
        Ok(())
    }

    /// Writes call `call` to conversation `conv`; old-version conversations record a
    /// string instead of the structured result.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        conv: usize,
        ms: i64,
        call: u32,
        tool: &str,
        input: J,
        result: J,
        text: String,
    ) -> anyhow::Result<()> {
        let result = if self.convs[conv].old_style {
            J::Str(match text.split_once(" Here's the result") {
                Some((head, _)) => head.to_owned(),
                None => text.lines().next().unwrap_or_default().to_owned(),
            })
        } else {
            result
        };
        let outcome = Outcome {
            text,
            is_error: false,
            says_ok: false,
            result,
        };
        let id = self.calls[call as usize].id.clone();
        self.convs[conv].tool_call(&mut self.rng, ms, &id, tool, input, outcome)?;
        if self.rng.random_bool(0.3) {
            let say = format!("Done: {} is updated.", self.rel);
            self.convs[conv].say(&mut self.rng, ms + 3_000, say)?;
        }
        Ok(())
    }

    /// A call on some other file (another name, or the same name elsewhere).
    /// A call on some other file (another name, or the same name elsewhere): created
    /// the first time, rewritten in part after that.
    fn other_file(&mut self, conv: usize, path: String, twin: bool) -> anyhow::Result<()> {
        let conv = self.live(conv);
        let ms = self.tick();
        self.start_conv(conv, ms)?;
        let call = self.new_call(conv, false);
        let before = self.others.get(&path).cloned();
        let after = match &before {
            Some(old) => {
                let mut cur = old.clone();
                for _ in 0..self.rng.random_range(1..=3) {
                    if let Some(r) = self.plan_region(&cur) {
                        cur.splice(r.at..r.at + r.del, r.ins);
                    }
                }
                cur
            }
            None if twin && self.rng.random_bool(0.3) && !self.lines.is_empty() => {
                // Much of the same code, like a vendored copy or a fork.
                self.texts()
            }
            None => {
                let target = self.rng.random_range(30..150);
                code::source_file(&mut self.rng, self.lang, target)
            }
        };
        let content = join(&after);
        self.others.insert(path.clone(), after.clone());
        let input = obj! {"file_path": &path, "content": &content};
        let (result, text) = match before {
            Some(old) => {
                self.log.push(format!("agent Write update {path} [{call}]"));
                let hunks = patch(&old, &after);
                let original = join(&old);
                let text = snippet(&path, &content, first_change(&hunks));
                (
                    obj! {"type": "update", "filePath": &path, "content": &content,
                    "structuredPatch": hunks_json(&hunks), "originalFile": original},
                    text,
                )
            }
            None => {
                self.log.push(format!("agent Write create {path} [{call}]"));
                (
                    obj! {"type": "create", "filePath": &path, "content": &content,
                    "structuredPatch": J::Arr(vec![]), "originalFile": J::Null},
                    format!("File created successfully at: {path}"),
                )
            }
        };
        self.emit(conv, ms, call, "Write", input, result, text)
    }

    /// An agent changes the file through Bash: `sed -i` renaming an identifier, or
    /// `cat >> file <<'EOF'` appending a function. No Edit or Write record: the lines
    /// it changed belong to nobody. Whether it changed the file.
    fn bash(&mut self, conv: usize) -> anyhow::Result<bool> {
        let conv = self.live(conv);
        let text = join(&self.texts());
        let path = self.path_for(conv);
        // Agents name the file relative to their working directory when they can.
        let cwd = format!("{}/", self.convs[conv].cwd);
        let shown = path.strip_prefix(&cwd).unwrap_or(&path).to_owned();
        let rename = if self.rng.random_bool(0.5) {
            self.plan_rename(&text)
        } else {
            None
        };
        let (command, description) = match rename {
            Some((old, new)) => {
                for l in &mut self.lines {
                    if l.text.contains(&old) {
                        l.text = l.text.replace(&old, &new);
                        l.owner = None;
                        l.ws_owner = None;
                        l.how = How::Bash;
                        l.respaced = false;
                    }
                }
                (
                    format!("sed -i 's/{old}/{new}/g' {shown}"),
                    format!("Rename {old} to {new}"),
                )
            }
            None => {
                let mut add = vec![String::new()];
                add.extend(code::function(&mut self.rng, self.lang, ""));
                self.lines
                    .extend(add.iter().map(|t| TLine::new(t.clone(), None, How::Bash)));
                (
                    format!("cat >> {shown} <<'EOF'\n{}\nEOF", add.join("\n")),
                    "Append the helper".to_owned(),
                )
            }
        };
        let ms = self.tick();
        self.start_conv(conv, ms)?;
        let call = self.new_call(conv, false);
        self.log.push(format!("agent Bash on the file [{call}]"));
        self.mark(Kind::Bash);
        let id = self.calls[call as usize].id.clone();
        let input = obj! {"command": &command, "description": description};
        let outcome = Outcome {
            text: String::new(),
            is_error: false,
            says_ok: true,
            result: obj! {"stdout": "", "stderr": "", "interrupted": false, "isImage": false},
        };
        self.convs[conv].tool_call(&mut self.rng, ms, &id, "Bash", input, outcome)?;
        // Claude Code makes the agent read a file changed since its last read.
        self.seen[conv] = None;
        self.undo = None;
        Ok(true)
    }

    // ---- a person's changes --------------------------------------------------

    fn human(&mut self, step: Step) -> bool {
        let n = self.lines.len();
        if n < 4 {
            return false;
        }
        let lang = self.lang;
        match step {
            Step::Insert => {
                let at = self.rng.random_range(0..=n);
                let near = self.lines[at.min(n - 1)].text.clone();
                let indent = indent_of(&near).to_owned();
                let new = if self.rng.random_bool(0.2) {
                    let mut f = vec![String::new()];
                    f.extend(code::function(&mut self.rng, lang, &indent));
                    f
                } else if self.rng.random_bool(0.2) && !near.trim().is_empty() {
                    // Copy a line and change it.
                    match code::tweak_line(&mut self.rng, lang, &near) {
                        Some(t) => vec![t],
                        None => return false,
                    }
                } else {
                    code::human_lines(&mut self.rng, lang, &indent)
                };
                self.log
                    .push(format!("person inserts {} lines at {}", new.len(), at + 1));
                self.lines.splice(
                    at..at,
                    new.into_iter().map(|t| TLine::new(t, None, How::Typed)),
                );
                self.mark(Kind::Insert);
            }
            Step::Delete => {
                let at = self.rng.random_range(0..n - 1);
                let len = self.rng.random_range(1..=6).min(n - at - 1);
                self.lines.drain(at..at + len);
                self.log
                    .push(format!("person deletes lines {}..{}", at + 1, at + len));
                self.mark(Kind::Delete);
            }
            Step::Modify => {
                let agent: Vec<usize> = (0..n).filter(|&i| self.lines[i].owner.is_some()).collect();
                let mut done = 0;
                for _ in 0..self.rng.random_range(1..=3) * 4 {
                    let i = if !agent.is_empty() && self.rng.random_bool(0.7) {
                        agent[self.rng.random_range(0..agent.len())]
                    } else {
                        self.rng.random_range(0..n)
                    };
                    let old = self.lines[i].text.clone();
                    let Some(t) = code::tweak_line(&mut self.rng, lang, &old) else {
                        continue;
                    };
                    if observatory_attribution::normalize(&t)
                        == observatory_attribution::normalize(&old)
                    {
                        continue;
                    }
                    self.lines[i] = TLine::new(t, None, How::Modified);
                    self.log.push(format!("person modifies line {}", i + 1));
                    done += 1;
                    if done == 3 {
                        break;
                    }
                }
                if done == 0 {
                    return false;
                }
                self.mark(Kind::Modify);
            }
            Step::Move => {
                let texts = self.texts();
                let paras = paragraphs(&texts);
                let (from, len) = if paras.len() >= 3 && self.rng.random_bool(0.7) {
                    let (s, e) = paras[self.rng.random_range(0..paras.len())];
                    // With the blank line after it.
                    (s, (e + 1).min(n) - s)
                } else {
                    let s = self.rng.random_range(0..n - 3);
                    (s, self.rng.random_range(3..=12).min(n - s))
                };
                let block: Vec<TLine> = self.lines.drain(from..from + len).collect();
                let rest = self.texts();
                let targets: Vec<usize> = paragraphs(&rest)
                    .into_iter()
                    .map(|(s, _)| s)
                    .filter(|&s| s != from)
                    .collect();
                let to = if targets.is_empty() || self.rng.random_bool(0.2) {
                    self.rng.random_range(0..=self.lines.len())
                } else {
                    targets[self.rng.random_range(0..targets.len())]
                };
                self.log.push(format!(
                    "person moves lines {}..{} to {}",
                    from + 1,
                    from + len,
                    to + 1
                ));
                self.lines.splice(
                    to..to,
                    block.into_iter().map(|mut l| {
                        l.moved = true;
                        l
                    }),
                );
                self.mark(Kind::Move);
            }
            Step::Reformat => {
                let at = self.rng.random_range(0..n);
                let len = self.rng.random_range(3..=25).min(n - at);
                for i in at..at + len {
                    if self.rng.random_bool(0.8) {
                        let t = code::respace(&mut self.rng, lang, &self.lines[i].text);
                        if t.trim_end() == self.lines[i].text.trim_end() {
                            // Only trailing blanks: they never count (the engine's
                            // rule, see observatory-attribution), the line keeps its
                            // author.
                            self.lines[i].text = t;
                        } else if t != self.lines[i].text {
                            // `git blame` gives the line to the person; `-w` keeps
                            // `ws_owner`.
                            self.lines[i].text = t;
                            self.lines[i].owner = None;
                            self.lines[i].respaced = true;
                        }
                    }
                }
                self.log
                    .push(format!("person re-spaces lines {}..{}", at + 1, at + len));
                self.mark(Kind::Reformat);
            }
            Step::Revert => {
                let Some(before) = self.undo.take() else {
                    return false;
                };
                let new: Vec<String> = before.iter().map(|l| l.text.clone()).collect();
                self.commit(new, None, How::Restored);
                self.log.push("person reverts the last agent change".into());
                self.mark(Kind::Revert);
            }
            Step::TypeBack => {
                // Deleted, then typed again exactly: the content is the same, the
                // author is the person (as `git blame` would say after the commit).
                let agent: Vec<usize> = (0..n).filter(|&i| self.lines[i].owner.is_some()).collect();
                if agent.is_empty() {
                    return false;
                }
                let at = agent[self.rng.random_range(0..agent.len())];
                let len = self.rng.random_range(1..=4).min(n - at);
                for l in &mut self.lines[at..at + len] {
                    l.owner = None;
                    l.ws_owner = None;
                    l.how = How::TypedBack;
                    l.moved = false;
                    l.respaced = false;
                }
                self.log.push(format!(
                    "person deletes lines {}..{} and types them back",
                    at + 1,
                    at + len
                ));
                self.mark(Kind::TypeBack);
            }
            Step::Agent | Step::Recreate | Step::Bash | Step::Resume => return false,
        }
        self.undo = None;
        true
    }
}

fn first_change(hunks: &[observatory_corpus::Hunk]) -> usize {
    hunks.first().map_or(0, |h| {
        h.old_start.saturating_sub(1) + h.lines.iter().take_while(|l| l.starts_with(' ')).count()
    })
}

/// Relative paths many projects share: in a whole store, every project's README.md
/// or src/main.rs is a candidate for every other's. The content follows the path's
/// language where the generator has it; Markdown, Go and JSON paths get one of the
/// generated languages (blame is line-based and does not read the language).
const COMMON: &[(&str, Option<Lang>)] = &[
    ("README.md", None),
    ("CHANGELOG.md", None),
    ("docs/architecture.md", None),
    ("src/main.rs", Some(Lang::Rust)),
    ("src/lib.rs", Some(Lang::Rust)),
    ("src/config.rs", Some(Lang::Rust)),
    ("app/services.py", Some(Lang::Python)),
    ("app/__init__.py", Some(Lang::Python)),
    ("main.py", Some(Lang::Python)),
    ("cmd/server/main.go", None),
    ("package.json", None),
    ("src/index.ts", Some(Lang::Ts)),
];

/// Builds scenario `index` of the run seeded with `seed`.
pub fn generate(seed: u64, index: usize) -> anyhow::Result<Scenario> {
    let mut rng =
        StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let any = [Lang::Rust, Lang::Python, Lang::Ts];
    let noun = code::fill(&mut rng, Lang::Rust, "@n");
    let (rel, lang, common) = if rng.random_bool(0.7) {
        let (rel, lang) = pick(&mut rng, COMMON);
        let lang = lang.unwrap_or_else(|| pick(&mut rng, &any));
        (rel.to_owned(), lang, true)
    } else {
        let lang = pick(&mut rng, &any);
        let rel = format!(
            "src/{noun}_{}.{}",
            code::fill(&mut rng, lang, "@v"),
            lang.ext()
        );
        (rel, lang, false)
    };
    // Every scenario is its own project: in a whole store the projects differ by
    // name and directory, not by the file's relative path.
    let project = format!("{}-{index}", pick(&mut rng, PROJECTS));
    let main_root = format!(
        "{}/{project}",
        pick(
            &mut rng,
            &["/Users/dev", "/Users/dev/src", "/home/dev/code"]
        )
    );
    let other_root = match rng.random_range(0..3) {
        0 => format!("/home/ci/build/{project}"),
        1 => format!("/Users/dev/worktrees/{project}-retry-policy"),
        _ => format!("/Users/sam/src/github.com/acme/{project}"),
    };
    let root_name = if rng.random_bool(0.8) {
        project.clone()
    } else {
        format!("checkout-{index}")
    };
    let mut sim = Sim::new(rng, lang, rel, index);
    // The file on disk has CRLF endings throughout; each conversation's records keep
    // them or not (`add_conv`).
    sim.crlf = sim.rng.random_bool(0.08);
    if sim.crlf {
        sim.mark(Kind::Crlf);
    }

    // Conversations: one to three sessions, perhaps one from another checkout, one
    // started in a subdirectory, one from an old version; perhaps a subagent.
    let sessions = match sim.rng.random_range(0..100) {
        0..55 => 1,
        55..85 => 2,
        _ => 3,
    };
    let old_style_all = sim.rng.random_bool(0.08);
    for k in 0..sessions {
        let mut root = main_root.clone();
        let mut cwd = main_root.clone();
        if k > 0 && sim.rng.random_bool(0.3) {
            root = other_root.clone();
            cwd = other_root.clone();
            sim.mark(Kind::OtherCheckout);
        }
        if sim.rng.random_bool(0.05) && sim.rel.contains('/') {
            let dir = sim.rel.split('/').next().unwrap_or_default();
            cwd = format!("{root}/{dir}");
            sim.mark(Kind::SubdirCwd);
        }
        let old_style = old_style_all || (k > 0 && sim.rng.random_bool(0.15));
        let conv = Conversation::new(&mut sim.rng, &cwd, old_style);
        sim.add_conv(conv, root);
    }
    if sessions > 1 {
        sim.mark(Kind::Sessions);
    }
    let subagent = sim.rng.random_bool(0.25).then(|| {
        let parent = sim.rng.random_range(0..sessions);
        let sub = Conversation::subagent(&mut sim.rng, &sim.convs[parent], parent);
        let root = sim.roots[parent].clone();
        (parent, sim.add_conv(sub, root))
    });
    // A project elsewhere on the machine with a file at the same relative path.
    let foreign = (common && sim.rng.random_bool(0.3)).then(|| {
        let cwd = format!(
            "/Users/dev/{}-{index}",
            pick(&mut sim.rng, &["playground", "old-prototype", "client-sdk"])
        );
        let conv = Conversation::new(&mut sim.rng, &cwd, false);
        sim.mark(Kind::ForeignSamePath);
        sim.add_conv(conv, cwd)
    });

    // The file as it starts: a person's, or created by the first agent call.
    let target = sim.rng.random_range(40..=400);
    let initial = code::source_file(&mut sim.rng, lang, target);
    if sim.rng.random_bool(0.5) {
        sim.lines = initial
            .into_iter()
            .map(|t| TLine::new(t, None, How::Original))
            .collect();
        sim.log.push("file starts as a person's".into());
    } else {
        sim.create(0, initial)?;
    }

    sim.snapshot();
    let events = sim.rng.random_range(3..=30);
    // A person moves or renames the file once, in one scenario of eight, where no
    // transcript sees it (in an editor, with `git mv`); git blame follows the move.
    // Drawn from a stream of its own, so that every other scenario stays as it was.
    let mut mover =
        StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let move_at = mover
        .random_bool(0.125)
        .then(|| mover.random_range(1..events.max(2)));
    let first_rel = sim.rel.clone();
    let mut conv = 0usize;
    let mut sub_left = 0usize;
    let mut task: Option<String> = None;
    let mut human_events = 0;
    let mut agent_events = 0;
    let mut resumed = false;
    for e in 0..events {
        if move_at == Some(e) && !sim.lines.is_empty() {
            let to = moved_path(&mut mover, &sim.rel, lang);
            sim.move_file(to);
        }
        let step = if e + 1 == events && agent_events == 0 {
            Step::Agent
        } else {
            match sim.rng.random_range(0..100) {
                0..52 => Step::Agent,
                52..60 => Step::Insert,
                60..65 => Step::Delete,
                65..73 => Step::Modify,
                73..78 => Step::Move,
                78..83 => Step::Reformat,
                83..87 => Step::Revert,
                87..89 => Step::TypeBack,
                89..93 => Step::Bash,
                93..97 => Step::Resume,
                _ => Step::Recreate,
            }
        };
        match step {
            Step::Agent => {
                if sub_left == 0 {
                    if let Some((parent, sub)) = subagent {
                        if !sim.started[sub] && sim.rng.random_bool(0.4) {
                            // A run of one to three calls by the subagent.
                            sub_left = sim.rng.random_range(1..=3);
                            task = Some(sim.start_task(parent, sub)?);
                            conv = sub;
                        }
                    }
                    if sub_left == 0 && sessions > 1 && sim.rng.random_bool(0.35) {
                        conv = sim.rng.random_range(0..sessions);
                    }
                }
                if sim.agent(conv)? && sub_left > 0 {
                    if let Some(k) = sim.convs[conv].agent.as_ref().map(|a| a.1) {
                        sim.mark(match k {
                            SubLayout::Inline => Kind::SubagentInline,
                            SubLayout::Legacy => Kind::SubagentFlat,
                            SubLayout::Nested => Kind::SubagentNested,
                        });
                    }
                }
                agent_events += 1;
                if sub_left > 0 {
                    sub_left -= 1;
                    if sub_left == 0 {
                        let (parent, _) = subagent.unwrap_or((0, 0));
                        let id = task.take().unwrap_or_default();
                        sim.finish_task(parent, &id)?;
                        conv = parent;
                    }
                }
            }
            Step::Recreate => {
                if sub_left > 0 {
                    continue;
                }
                sim.recreate(conv)?;
                human_events += 1;
                agent_events += 1;
            }
            Step::Bash => {
                if sub_left == 0 && sim.lines.len() >= 4 && sim.bash(conv)? {
                    human_events += 1;
                }
            }
            Step::Resume => {
                // One resume per scenario, of a session whose subagent (if any) has
                // nothing left to do: a subagent's records carry its parent's id.
                let busy = subagent.is_some_and(|(p, s)| p == conv && !sim.started[s]);
                if sub_left == 0 && !resumed && !busy && conv < sessions {
                    sim.resume(conv)?;
                    resumed = true;
                }
            }
            s => {
                if sim.human(s) {
                    human_events += 1;
                }
            }
        }
        sim.snapshot();
        // Now and then the same sessions write other files too.
        if sub_left == 0 && sim.rng.random_bool(0.15) {
            let c = sim.rng.random_range(0..sessions);
            let name = format!(
                "src/{}_{}.{}",
                code::fill(&mut sim.rng, lang, "@n"),
                e,
                lang.ext()
            );
            let path = format!("{}/{name}", sim.roots[c]);
            sim.other_file(c, path, false)?;
        }
        if let Some(f) = foreign {
            if sim.rng.random_bool(0.25) {
                let path = format!("{}/{first_rel}", sim.roots[f]);
                sim.other_file(f, path, true)?;
            }
        }
    }
    if sim.rng.random_bool(0.2) {
        // The same file name in another directory of the project.
        let file = sim.rel.rsplit('/').next().unwrap_or_default().to_owned();
        let dir = pick(
            &mut sim.rng,
            &["tests/fixtures", "vendor/legacy", "examples/demo"],
        );
        let path = format!("{}/{dir}/{file}", sim.roots[0]);
        sim.other_file(0, path, true)?;
        sim.mark(Kind::SameName);
    }
    if human_events == 0 {
        sim.mark(Kind::NoHuman);
    }
    for c in 0..sim.convs.len() {
        if sim.started[c] && sim.redirect[c] == c && sim.rng.random_bool(0.5) {
            let ms = sim.tick();
            sim.convs[c].say(&mut sim.rng, ms, "All done.".into())?;
        }
    }
    Ok(sim.into_scenario(index, root_name, foreign))
}

/// Where a person moves the file: into a directory below its own, or to another name
/// beside it (the extension kept).
fn moved_path(rng: &mut StdRng, rel: &str, lang: Lang) -> String {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let moved = if rng.random_bool(0.5) {
        format!(
            "{}/{file}",
            pick(rng, &["core", "legacy", "internal", "shared"])
        )
    } else {
        let noun = code::fill(rng, lang, "@n");
        match file.rsplit_once('.') {
            Some((stem, ext)) if stem != noun => format!("{noun}.{ext}"),
            Some((_, ext)) => format!("{noun}_old.{ext}"),
            None => format!("{file}_{noun}"),
        }
    };
    if dir.is_empty() {
        moved
    } else {
        format!("{dir}/{moved}")
    }
}

/// One long history for the speed table: a file of about `lines` lines created by
/// an agent, then changed by `writes - 1` more successful agent calls in one
/// session, with a person's change before every tenth.
pub fn long_history(seed: u64, lines: usize, writes: usize) -> anyhow::Result<Scenario> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Agent changes add about eight lines each on balance.
    let start = lines.saturating_sub(writes * 8).max(lines / 2);
    let initial = code::source_file(&mut rng, Lang::Rust, start);
    let mut sim = Sim::new(rng, Lang::Rust, "src/lib.rs".into(), 0);
    let root = "/Users/dev/acme-api".to_owned();
    let conv = Conversation::new(&mut sim.rng, &root, false);
    sim.add_conv(conv, root);
    sim.create(0, initial)?;
    let (mut done, mut human_at) = (1, 0);
    while done < writes {
        if done % 10 == 0 && human_at != done {
            human_at = done;
            let step = pick(
                &mut sim.rng,
                &[
                    Step::Insert,
                    Step::Delete,
                    Step::Modify,
                    Step::Move,
                    Step::Reformat,
                ],
            );
            sim.human(step);
        }
        if sim.agent(0)? {
            done += 1;
        }
    }
    Ok(sim.into_scenario(0, "acme-api".into(), None))
}
