//! Transcript records in Claude Code's on-disk format: one conversation at a time,
//! with its uuid chain, message ids shared across the lines of one response, usage,
//! and the `toolUseResult` each writing tool leaves.
//!
//! Keys are written in the order Claude Code writes them (serde_json's `Value` would
//! sort them), through the small ordered [`J`] tree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat};
use rand::rngs::StdRng;
use rand::Rng;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::code::pick;

/// A JSON value whose objects keep their key order.
pub enum J {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Num(n) => s.serialize_u64(*n),
            J::Str(v) => s.serialize_str(v),
            J::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_owned())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}
impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Str(s.clone())
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<u64> for J {
    fn from(n: u64) -> J {
        J::Num(n)
    }
}
impl From<usize> for J {
    fn from(n: usize) -> J {
        J::Num(n as u64)
    }
}
impl<T: Into<J>> From<Option<T>> for J {
    fn from(v: Option<T>) -> J {
        v.map_or(J::Null, Into::into)
    }
}
impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}

/// An ordered JSON object: `obj! {"a": 1, "b": "x"}`.
#[macro_export]
macro_rules! obj {
    ($($k:literal : $v:expr),* $(,)?) => {
        $crate::record::J::Obj(vec![$(($k, $crate::record::J::from($v))),*])
    };
}

/// Structured patch hunks as Claude Code records them.
pub fn hunks_json(hunks: &[observatory_corpus::Hunk]) -> J {
    J::Arr(
        hunks
            .iter()
            .map(|h| {
                obj! {
                    "oldStart": h.old_start,
                    "oldLines": h.old_lines,
                    "newStart": h.new_start,
                    "newLines": h.new_lines,
                    "lines": J::Arr(h.lines.iter().map(J::from).collect()),
                }
            })
            .collect(),
    )
}

/// A random id in one of Claude Code's shapes.
pub fn uuid(rng: &mut StdRng) -> String {
    let h = |rng: &mut StdRng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
            .collect()
    };
    let variant = char::from(b"89ab"[rng.random_range(0..4)]);
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        h(rng, 8),
        h(rng, 4),
        h(rng, 3),
        h(rng, 3),
        h(rng, 12)
    )
}

pub fn b62(rng: &mut StdRng, prefix: &str, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = prefix.to_owned();
    s.extend((0..n).map(|_| char::from(A[rng.random_range(0..A.len())])));
    s
}

pub fn timestamp(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Claude Code's project folder name for a working directory.
pub fn encode_cwd(cwd: &str) -> String {
    cwd.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// What a tool call's result line carries.
pub struct Outcome {
    /// The `tool_result` block's text.
    pub text: String,
    pub is_error: bool,
    /// The block says `"is_error": false` (Bash results do).
    pub says_ok: bool,
    /// `toolUseResult`: an object in current versions, a string in old ones.
    pub result: J,
}

/// Where a subagent's records live: `<session>/subagents/agent-<id>.jsonl` (2.1.x),
/// `agent-<id>.jsonl` beside the sessions (2.0.x), or inside the parent's own file
/// as `isSidechain` records without an `agentId` (1.0.x).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubLayout {
    Nested,
    Legacy,
    Inline,
}

/// One transcript file being written.
pub struct Conversation {
    pub session_id: String,
    pub agent: Option<(String, SubLayout)>,
    pub cwd: String,
    pub version: &'static str,
    pub model: &'static str,
    pub branch: String,
    /// Writes results the way versions before `structuredPatch` did.
    pub old_style: bool,
    /// Where an inline (1.0.x) subagent's records are written: its parent's index.
    pub host: Option<usize>,
    /// Records, each with its time: inline subagents are merged into their parent's
    /// file by time, as Claude Code appended them.
    lines: Vec<(i64, String)>,
    tip: Option<String>,
    context_tokens: u64,
}

const MODELS: &[&str] = &[
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
];
const VERSIONS: &[&str] = &[
    "1.0.98", "1.0.111", "2.0.64", "2.0.76", "2.1.9", "2.1.31", "2.1.85",
];
const OLD_VERSIONS: &[&str] = &["0.2.125", "1.0.17", "1.0.33"];

impl Conversation {
    pub fn new(rng: &mut StdRng, cwd: &str, old_style: bool) -> Conversation {
        Conversation {
            session_id: uuid(rng),
            agent: None,
            cwd: cwd.to_owned(),
            version: pick(rng, if old_style { OLD_VERSIONS } else { VERSIONS }),
            model: pick(rng, MODELS),
            branch: pick(rng, &["main", "main", "feature/retry-policy", "fix/ledger"]).to_owned(),
            old_style,
            host: None,
            lines: Vec::new(),
            tip: None,
            context_tokens: rng.random_range(9_000..30_000),
        }
    }

    /// A subagent of conversation `parent_index` (`parent`), laid out as that
    /// version of Claude Code does.
    pub fn subagent(rng: &mut StdRng, parent: &Conversation, parent_index: usize) -> Conversation {
        let id: String = (0..7)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
            .collect();
        let layout = if parent.version.starts_with("2.1") {
            SubLayout::Nested
        } else if parent.version.starts_with("2.") {
            SubLayout::Legacy
        } else {
            SubLayout::Inline
        };
        Conversation {
            session_id: parent.session_id.clone(),
            agent: Some((id, layout)),
            cwd: parent.cwd.clone(),
            version: parent.version,
            model: pick(rng, MODELS),
            branch: parent.branch.clone(),
            old_style: parent.old_style,
            host: (layout == SubLayout::Inline).then_some(parent_index),
            lines: Vec::new(),
            tip: None,
            context_tokens: rng.random_range(2_000..9_000),
        }
    }

    /// `claude --resume` of `orig`: a new session whose file starts with a copy of
    /// every record so far (same uuids, message ids, tool-use ids and results).
    /// `restamp`: the copies carry the new session's id instead of the original's.
    pub fn resume(rng: &mut StdRng, orig: &Conversation, restamp: bool) -> Conversation {
        let session_id = uuid(rng);
        let (from, to) = (
            format!("\"sessionId\":\"{}\"", orig.session_id),
            format!("\"sessionId\":\"{session_id}\""),
        );
        let lines = orig
            .lines
            .iter()
            .map(|(ms, l)| {
                (
                    *ms,
                    if restamp {
                        l.replace(&from, &to)
                    } else {
                        l.clone()
                    },
                )
            })
            .collect();
        Conversation {
            session_id,
            agent: None,
            cwd: orig.cwd.clone(),
            version: orig.version,
            model: orig.model,
            branch: orig.branch.clone(),
            old_style: orig.old_style,
            host: None,
            lines,
            tip: orig.tip.clone(),
            context_tokens: orig.context_tokens,
        }
    }

    /// Whether results of Write leave out `originalFile` (1.0.x records only the
    /// patch).
    pub fn write_without_original(&self) -> bool {
        self.version.starts_with("1.")
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines (records) written so far.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// The file's path under a Claude config directory.
    pub fn path(&self, claude: &Path) -> PathBuf {
        let dir = claude.join("projects").join(encode_cwd(&self.cwd));
        match &self.agent {
            None | Some((_, SubLayout::Inline)) => dir.join(format!("{}.jsonl", self.session_id)),
            Some((id, SubLayout::Nested)) => dir
                .join(&self.session_id)
                .join("subagents")
                .join(format!("agent-{id}.jsonl")),
            Some((id, SubLayout::Legacy)) => dir.join(format!("agent-{id}.jsonl")),
        }
    }

    /// Writes the file, with the records of the inline subagents it hosts merged in
    /// by time (each conversation's own order kept).
    pub fn write(&self, claude: &Path, inline: &[&Conversation]) -> Result<PathBuf> {
        let path = self.path(claude);
        let dir = path.parent().context("transcript path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let mut merged: Vec<&(i64, String)> = self.lines.iter().collect();
        for sub in inline {
            let mut out = Vec::with_capacity(merged.len() + sub.lines.len());
            let (mut a, mut b) = (merged.into_iter().peekable(), sub.lines.iter().peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) if y.0 < x.0 => b.next(),
                    (Some(_), _) => a.next(),
                    (None, _) => b.next(),
                };
                match next {
                    Some(l) => out.push(l),
                    None => break,
                }
            }
            merged = out;
        }
        let mut text = String::new();
        for (_, l) in merged {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        Ok(path)
    }

    /// The fields every line starts with.
    fn envelope(&self) -> Vec<(&'static str, J)> {
        let mut f = vec![
            ("parentUuid", J::from(self.tip.clone())),
            ("isSidechain", J::Bool(self.agent.is_some())),
            ("userType", J::from("external")),
            ("cwd", J::from(&self.cwd)),
            ("sessionId", J::from(&self.session_id)),
            ("version", J::from(self.version)),
            ("gitBranch", J::from(&self.branch)),
        ];
        match &self.agent {
            Some((id, SubLayout::Nested | SubLayout::Legacy)) => f.push(("agentId", J::from(id))),
            Some((_, SubLayout::Inline)) | None => {}
        }
        f
    }

    fn push(&mut self, mut fields: Vec<(&'static str, J)>, uuid: String, ms: i64) -> Result<()> {
        fields.push(("uuid", J::from(&uuid)));
        fields.push(("timestamp", J::from(timestamp(ms))));
        self.lines.push((
            ms,
            serde_json::to_string(&J::Obj(fields)).context("serializing a record")?,
        ));
        self.tip = Some(uuid);
        Ok(())
    }

    /// A prompt the person typed.
    pub fn prompt(&mut self, rng: &mut StdRng, ms: i64, text: String) -> Result<()> {
        let mut f = self.envelope();
        f.push(("type", J::from("user")));
        f.push(("message", obj! {"role": "user", "content": text}));
        let id = uuid(rng);
        self.push(f, id, ms)
    }

    fn usage(&mut self, rng: &mut StdRng, output: u64) -> J {
        let created = rng.random_range(200..3_000);
        let read = self.context_tokens;
        self.context_tokens += created;
        obj! {
            "input_tokens": rng.random_range(3u64..20),
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "cache_creation": obj! {"ephemeral_5m_input_tokens": created, "ephemeral_1h_input_tokens": 0u64},
            "output_tokens": output,
            "service_tier": "standard",
        }
    }

    fn assistant(
        &mut self,
        rng: &mut StdRng,
        ms: i64,
        ids: &(String, String),
        block: J,
        stop: Option<&str>,
    ) -> Result<()> {
        let output = rng.random_range(1..900);
        let usage = self.usage(rng, output);
        let mut f = self.envelope();
        f.push((
            "message",
            obj! {
                "model": self.model,
                "id": &ids.0,
                "type": "message",
                "role": "assistant",
                "content": vec![block],
                "stop_reason": stop,
                "stop_sequence": J::Null,
                "usage": usage,
            },
        ));
        f.push(("requestId", J::from(&ids.1)));
        f.push(("type", J::from("assistant")));
        let id = uuid(rng);
        self.push(f, id, ms)
    }

    /// The assistant's reply text.
    pub fn say(&mut self, rng: &mut StdRng, ms: i64, text: String) -> Result<()> {
        let ids = (b62(rng, "msg_01", 22), b62(rng, "req_011C", 18));
        self.assistant(
            rng,
            ms,
            &ids,
            obj! {"type": "text", "text": text},
            Some("end_turn"),
        )
    }

    /// A tool call, after an optional line of text in the same response.
    pub fn tool_use(
        &mut self,
        rng: &mut StdRng,
        ms: i64,
        tool_use_id: &str,
        name: &str,
        input: J,
    ) -> Result<()> {
        let ids = (b62(rng, "msg_01", 22), b62(rng, "req_011C", 18));
        if rng.random_bool(0.4) {
            let text = format!("I'll use {name} for this.");
            self.assistant(
                rng,
                ms - 900,
                &ids,
                obj! {"type": "text", "text": text},
                None,
            )?;
        }
        let block = obj! {"type": "tool_use", "id": tool_use_id, "name": name, "input": input};
        self.assistant(rng, ms, &ids, block, Some("tool_use"))
    }

    /// The result line of a tool call.
    pub fn tool_result(
        &mut self,
        rng: &mut StdRng,
        ms: i64,
        tool_use_id: &str,
        outcome: Outcome,
    ) -> Result<()> {
        let content = if outcome.is_error {
            obj! {"type": "tool_result", "content": outcome.text, "is_error": true, "tool_use_id": tool_use_id}
        } else if outcome.says_ok {
            obj! {"tool_use_id": tool_use_id, "type": "tool_result", "content": outcome.text, "is_error": false}
        } else {
            obj! {"tool_use_id": tool_use_id, "type": "tool_result", "content": outcome.text}
        };
        let mut f = self.envelope();
        f.push(("type", J::from("user")));
        f.push(("message", obj! {"role": "user", "content": vec![content]}));
        let id = uuid(rng);
        f.push(("uuid", J::from(&id)));
        f.push(("timestamp", J::from(timestamp(ms))));
        f.push(("toolUseResult", outcome.result));
        self.lines.push((
            ms,
            serde_json::to_string(&J::Obj(f)).context("serializing a record")?,
        ));
        self.tip = Some(id);
        Ok(())
    }

    /// A tool call and its result a moment later.
    pub fn tool_call(
        &mut self,
        rng: &mut StdRng,
        ms: i64,
        tool_use_id: &str,
        name: &str,
        input: J,
        outcome: Outcome,
    ) -> Result<()> {
        self.tool_use(rng, ms, tool_use_id, name, input)?;
        let done = ms + rng.random_range(60..1_500);
        self.tool_result(rng, done, tool_use_id, outcome)
    }
}

/// `cat -n` of the lines around a change, as Edit and Write results show it.
pub fn snippet(path: &str, content: &str, at: usize) -> String {
    let mut s = format!(
        "The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:"
    );
    let from = at.saturating_sub(4);
    for (k, l) in content.lines().enumerate().skip(from).take(10) {
        let _ = write!(s, "\n{:>6}\u{2192}{l}", k + 1);
    }
    s
}
