//! One transcript line, parsed leniently.
//!
//! Claude Code adds record types and fields in every release and older releases wrote
//! fields with other shapes, so nothing here is strict: a field of an unexpected type
//! is treated as absent, unknown record types are reported as [`Record::Unknown`], and
//! only a line that is not a JSON object at all is an error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod message_json;
use message_json::RawMessage;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not a JSON object (found {0})")]
    NotAnObject(&'static str),
    #[error("record has no \"type\" field")]
    MissingType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }
}

// Token counts are sent as they are read: the protocol crate owns their shape.
pub use observatory_protocol::usage::Usage;

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Thinking(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    Image,
    /// A block type this parser does not know; its type name is kept.
    Other(String),
}

/// A user, assistant or system record: one node of the conversation tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub uuid: Option<String>,
    pub parent_uuid: Option<String>,
    /// Set on the first record after a compaction: the conversation continues from it.
    pub logical_parent_uuid: Option<String>,
    pub session_id: Option<String>,
    pub agent_id: Option<String>,
    pub role: Option<Role>,
    pub timestamp: Option<DateTime<Utc>>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
    pub version: Option<String>,
    pub entrypoint: Option<String>,
    pub subtype: Option<String>,
    pub is_sidechain: bool,
    pub is_meta: bool,
    pub is_compact_summary: bool,
    pub model: Option<String>,
    pub message_id: Option<String>,
    pub request_id: Option<String>,
    pub usage: Option<Usage>,
    pub blocks: Vec<Block>,
    /// Claude Code's structured description of a tool's outcome (user records only).
    pub tool_use_result: Option<ToolUseResult>,
}

/// Claude Code's `toolUseResult`, kept as its JSON text. Only the results of the
/// few tools whose changes are recorded (writes, reads) are ever looked into, and
/// parsing every one into a tree, to drop it again, was a fifth of reading a
/// transcript of many tool calls (#15).
#[derive(Debug, Clone)]
pub struct ToolUseResult(Box<serde_json::value::RawValue>);

impl ToolUseResult {
    /// The result as a JSON value.
    pub fn value(&self) -> Option<Value> {
        serde_json::from_str(self.0.get()).ok()
    }

    /// Whether it is a string that starts with "Error": how Claude Code records
    /// many failed calls.
    pub fn is_error_text(&self) -> bool {
        let json = self.0.get();
        json.starts_with('"')
            && serde_json::from_str::<String>(json).is_ok_and(|s| s.starts_with("Error"))
    }
}

impl PartialEq for ToolUseResult {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Message {
    pub fn role_or_user(&self) -> Role {
        self.role.unwrap_or(Role::User)
    }

    /// The record's text blocks, one per line (thinking is [`Message::thinking`]).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            if let Block::Text(t) = b {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
        out
    }

    /// The record's thinking blocks, separated by a blank line; `None` when it has
    /// none with text. Redacted thinking is parsed as an empty block: there is
    /// nothing to show of it, so it is left out rather than shown as a gap.
    pub fn thinking(&self) -> Option<String> {
        let blocks: Vec<&str> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Thinking(t) if !t.trim().is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect();
        (!blocks.is_empty()).then(|| blocks.join("\n\n"))
    }

    /// Whether a person typed this: a user record with text, not a tool result, not the
    /// summary Claude Code writes after compaction, not the echo of a command Claude
    /// Code answers itself; a slash command that hands the model a prompt is one
    /// ([`Message::prompt_command`]).
    pub fn is_prompt(&self) -> bool {
        if self.role != Some(Role::User) || self.is_meta || self.is_compact_summary {
            return false;
        }
        if self.prompt_command().is_some() {
            return true;
        }
        if self.is_sidechain && self.parent_uuid.is_none() {
            // A subagent's first "user" record is the task the parent agent wrote.
            return true;
        }
        let mut has_text = false;
        for b in &self.blocks {
            match b {
                Block::ToolResult { .. } => return false,
                Block::Text(t) => {
                    let t = t.trim_start();
                    if is_synthetic_user_text(t) {
                        return false;
                    }
                    has_text |= !t.is_empty();
                }
                _ => {}
            }
        }
        has_text
    }

    /// The slash command, as typed (`/orchestrator build a TODO app`), of a user record
    /// that runs one handing the model a prompt: `/init`, `/review`, a project's or a
    /// user's own command. The lines the agent then writes were asked for by it. `None`
    /// for other records and for commands Claude Code answers itself (`/model`,
    /// `/clear`), whose `<command-message>` is their bare name where the others' says
    /// what they do ("init is analyzing your codebase…", "review is running…").
    pub fn prompt_command(&self) -> Option<String> {
        if self.role != Some(Role::User) || self.is_meta {
            return None;
        }
        let [Block::Text(text)] = self.blocks.as_slice() else {
            return None;
        };
        let name = tag(text, "command-name")?.trim_start_matches('/');
        let doing = tag(text, "command-message")?.trim_start_matches('/');
        if name.is_empty() || doing.is_empty() || doing == name {
            return None;
        }
        match CommandEcho::of(text)? {
            CommandEcho::Typed(typed) => Some(typed),
            CommandEcho::Output(_) => None,
        }
    }

    /// What the person typed, for a prompt: its text, or the slash command as typed.
    pub fn prompt_text(&self) -> String {
        self.prompt_command().unwrap_or_else(|| self.text())
    }

    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }

    pub fn tool_results(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => Some((tool_use_id.as_str(), content.as_str(), *is_error)),
            _ => None,
        })
    }
}

/// What Claude Code writes into a user record when a slash command runs, as a reader
/// would want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandEcho {
    /// The command as typed: `/model opus`.
    Typed(String),
    /// Its output, without the terminal escape sequences it keeps; may be empty.
    Output(String),
}

impl CommandEcho {
    /// The command or output `text` holds (`<command-name>…`, `<local-command-stdout>…`);
    /// `None` for any other text.
    pub fn of(text: &str) -> Option<Self> {
        if let Some(name) = tag(text, "command-name") {
            let slash = if name.starts_with('/') { "" } else { "/" };
            let args = tag(text, "command-args").unwrap_or_default();
            return Some(Self::Typed(
                format!("{slash}{name} {args}").trim().to_owned(),
            ));
        }
        let output =
            tag(text, "local-command-stdout").or_else(|| tag(text, "local-command-stderr"))?;
        Some(Self::Output(strip_escapes(output).trim().to_owned()))
    }
}

/// The text of `name` in `<name>…</name>`, trimmed.
fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim())
}

/// `s` without terminal escape sequences (`ESC [ … letter`).
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// Text Claude Code writes into user records on the user's behalf.
fn is_synthetic_user_text(t: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "<command-name>",
        "<command-message>",
        "<local-command-stdout>",
        "<local-command-stderr>",
        "<system-reminder>",
        "Caveat: The messages below were generated by the user while running local commands",
        "[Request interrupted by user",
    ];
    PREFIXES.iter().any(|p| t.starts_with(p))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Message(Box<Message>),
    /// `summary` records name the conversation that ends at `leaf_uuid`.
    Summary {
        summary: String,
        leaf_uuid: Option<String>,
    },
    /// `custom-title` (the user's `/rename`) and `ai-title`.
    Title {
        title: String,
        custom: bool,
        session_id: Option<String>,
    },
    /// A known record type that carries nothing Observatory indexes
    /// (file-history-snapshot, progress, queue-operation, ...).
    Metadata {
        kind: String,
    },
    /// A record type this parser has never seen.
    Unknown {
        kind: String,
    },
}

/// Record types that are known and deliberately not indexed.
const METADATA_TYPES: &[&str] = &[
    "file-history-snapshot",
    "progress",
    "queue-operation",
    "last-prompt",
    "permission-mode",
    "pr-link",
    "attachment",
    "agent-name",
    "tag",
    "mode",
];

fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(matches!(Value::deserialize(d)?, Value::Bool(true)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRecord {
    #[serde(rename = "type", deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    uuid: Option<String>,
    #[serde(deserialize_with = "lenient")]
    parent_uuid: Option<String>,
    #[serde(deserialize_with = "lenient")]
    logical_parent_uuid: Option<String>,
    #[serde(deserialize_with = "lenient")]
    session_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    agent_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    timestamp: Option<String>,
    #[serde(deserialize_with = "lenient")]
    cwd: Option<String>,
    #[serde(deserialize_with = "lenient")]
    git_branch: Option<String>,
    #[serde(deserialize_with = "lenient")]
    version: Option<String>,
    #[serde(deserialize_with = "lenient")]
    entrypoint: Option<String>,
    #[serde(deserialize_with = "lenient")]
    subtype: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    is_sidechain: bool,
    #[serde(deserialize_with = "lenient_bool")]
    is_meta: bool,
    #[serde(deserialize_with = "lenient_bool")]
    is_compact_summary: bool,
    #[serde(deserialize_with = "lenient")]
    request_id: Option<String>,
    message: Option<RawMessage>,
    tool_use_result: Option<Box<serde_json::value::RawValue>>,
    /// `system` records carry their text here.
    content: Option<Value>,
    #[serde(deserialize_with = "lenient")]
    summary: Option<String>,
    #[serde(deserialize_with = "lenient")]
    leaf_uuid: Option<String>,
    #[serde(deserialize_with = "lenient")]
    custom_title: Option<String>,
    #[serde(deserialize_with = "lenient")]
    ai_title: Option<String>,
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<Record, ParseError> {
    let trimmed = trim_ascii(line);
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    if trimmed[0] != b'{' {
        // Distinguish "valid JSON but not an object" from garbage for a clearer warning.
        return Err(match serde_json::from_slice::<Value>(trimmed) {
            Ok(v) => ParseError::NotAnObject(json_kind(&v)),
            Err(e) => ParseError::Json(e.to_string()),
        });
    }
    let raw: RawRecord =
        serde_json::from_slice(trimmed).map_err(|e| ParseError::Json(e.to_string()))?;
    let kind = raw.kind.clone();
    match kind.as_deref() {
        Some("user") | Some("assistant") | Some("system") => Ok(Record::Message(Box::new(
            message_from_raw(raw, kind.as_deref()),
        ))),
        Some("summary") => Ok(Record::Summary {
            summary: raw.summary.unwrap_or_default(),
            leaf_uuid: raw.leaf_uuid,
        }),
        Some("custom-title") | Some("ai-title") => {
            let custom = kind.as_deref() == Some("custom-title");
            let title = if custom {
                raw.custom_title
            } else {
                raw.ai_title
            };
            Ok(Record::Title {
                title: title.unwrap_or_default(),
                custom,
                session_id: raw.session_id,
            })
        }
        Some(k) if METADATA_TYPES.contains(&k) => Ok(Record::Metadata { kind: k.to_owned() }),
        Some(k) => Ok(Record::Unknown { kind: k.to_owned() }),
        // The oldest usage-only records (seen in ccusage's fixtures) have no type but
        // carry an assistant message with usage: keep them so token totals are right.
        None if raw.message.is_some() => Ok(Record::Message(Box::new(message_from_raw(
            raw,
            Some("assistant"),
        )))),
        None => Err(ParseError::MissingType),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn message_from_raw(raw: RawRecord, kind: Option<&str>) -> Message {
    let role = match kind {
        Some("user") => Some(Role::User),
        Some("assistant") => Some(Role::Assistant),
        Some("system") => Some(Role::System),
        _ => None,
    };
    let mut m = Message {
        uuid: raw.uuid,
        parent_uuid: raw.parent_uuid,
        logical_parent_uuid: raw.logical_parent_uuid,
        session_id: raw.session_id,
        agent_id: raw.agent_id,
        role,
        timestamp: raw.timestamp.as_deref().and_then(parse_timestamp),
        cwd: raw.cwd.filter(|c| !c.is_empty()),
        git_branch: raw.git_branch.filter(|b| !b.is_empty()),
        version: raw.version,
        entrypoint: raw.entrypoint,
        subtype: raw.subtype,
        is_sidechain: raw.is_sidechain,
        is_meta: raw.is_meta,
        is_compact_summary: raw.is_compact_summary,
        request_id: raw.request_id,
        tool_use_result: raw.tool_use_result.map(ToolUseResult),
        ..Message::default()
    };
    if let Some(msg) = raw.message {
        m.model = msg.model;
        m.message_id = msg.id;
        m.usage = msg.usage;
        m.blocks = msg.blocks;
    }
    if role == Some(Role::System) {
        if let Some(Value::String(s)) = raw.content {
            m.blocks.push(Block::Text(s));
        }
    }
    m
}

fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The message parts as they were read before `message_json`: through a
    /// `serde_json::Value`, the plain definition the visitors must agree with.
    mod reference {
        use super::super::{Block, Usage};
        use serde_json::Value;

        /// Model, message id, usage and blocks.
        pub type Parts = (Option<String>, Option<String>, Option<Usage>, Vec<Block>);

        pub fn message(line: &str) -> Option<Parts> {
            let v: Value = serde_json::from_str(line).ok()?;
            let mut msg = match v.get("message") {
                Some(Value::Object(msg)) => msg.clone(),
                _ => serde_json::Map::new(),
            };
            let model = take_str(&mut msg, "model");
            let id = take_str(&mut msg, "id");
            let usage = msg.get("usage").and_then(parse_usage);
            let mut blocks = match msg.remove("content") {
                Some(Value::String(s)) => vec![Block::Text(s)],
                Some(Value::Array(items)) => items.into_iter().map(parse_block).collect(),
                _ => Vec::new(),
            };
            // A system record's text is its own `content`, not its message's.
            if let (Some("system"), Some(Value::String(s))) = (v["type"].as_str(), v.get("content"))
            {
                blocks.push(Block::Text(s.clone()));
            }
            Some((model, id, usage, blocks))
        }

        fn json_kind(v: &Value) -> &'static str {
            super::super::json_kind(v)
        }

        fn parse_usage(v: &Value) -> Option<Usage> {
            let o = v.as_object()?;
            let n = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
            Some(Usage {
                input_tokens: n("input_tokens"),
                output_tokens: n("output_tokens"),
                cache_creation_input_tokens: n("cache_creation_input_tokens"),
                cache_read_input_tokens: n("cache_read_input_tokens"),
            })
        }

        /// Field `k` of `o` if it is a string, moved out.
        fn take_str(o: &mut serde_json::Map<String, Value>, k: &str) -> Option<String> {
            match o.remove(k) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            }
        }

        fn str_field(o: &mut serde_json::Map<String, Value>, k: &str) -> String {
            take_str(o, k).unwrap_or_default()
        }

        fn parse_block(v: Value) -> Block {
            let o = &mut match v {
                Value::Object(o) => o,
                Value::String(s) => return Block::Text(s),
                other => return Block::Other(json_kind(&other).to_owned()),
            };
            match take_str(o, "type").as_deref().unwrap_or_default() {
                "text" => Block::Text(str_field(o, "text")),
                "thinking" => Block::Thinking(str_field(o, "thinking")),
                "redacted_thinking" => Block::Thinking(String::new()),
                "tool_use" | "server_tool_use" => Block::ToolUse {
                    id: str_field(o, "id"),
                    name: str_field(o, "name"),
                    input: o.remove("input").unwrap_or(Value::Null),
                },
                "tool_result" => Block::ToolResult {
                    tool_use_id: str_field(o, "tool_use_id"),
                    content: tool_result_text(o.remove("content")),
                    is_error: matches!(o.get("is_error"), Some(Value::Bool(true))),
                },
                "image" => Block::Image,
                other => Block::Other(other.to_owned()),
            }
        }

        /// A tool result's content is a string or a list of text/image blocks.
        fn tool_result_text(v: Option<Value>) -> String {
            match v {
                Some(Value::String(s)) => s,
                Some(Value::Array(items)) => {
                    let mut out = String::new();
                    for item in items {
                        let text = match item {
                            Value::String(s) => Some(s),
                            Value::Object(mut o) => take_str(&mut o, "text"),
                            _ => None,
                        };
                        if let Some(t) = text {
                            if out.is_empty() {
                                out = t;
                            } else {
                                out.push('\n');
                                out.push_str(&t);
                            }
                        }
                    }
                    out
                }
                _ => String::new(),
            }
        }
    }

    /// The real fixture transcripts: each file's path and text.
    fn fixture_transcripts() -> Vec<(std::path::PathBuf, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/transcripts");
        walkdir::WalkDir::new(&dir)
            .into_iter()
            .map(|entry| entry.expect("fixture directory").into_path())
            .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
            .map(|path| {
                let text =
                    String::from_utf8_lossy(&std::fs::read(&path).expect("fixture")).into_owned();
                (path, text)
            })
            .collect()
    }

    /// The parts of `m` the reference reads.
    fn parts(m: Message) -> reference::Parts {
        (m.model, m.message_id, m.usage, m.blocks)
    }

    /// Every line of the real fixture transcripts reads as it did through a tree.
    #[test]
    fn messages_of_real_transcripts_read_as_through_a_tree() {
        let mut lines = 0;
        for (path, text) in fixture_transcripts() {
            for line in text.lines() {
                let Ok(Record::Message(m)) = parse_line(line.as_bytes()) else {
                    continue;
                };
                let want = reference::message(line).expect("a line that parsed");
                assert_eq!(parts(*m), want, "{}: {line:.300}", path.display());
                lines += 1;
            }
        }
        assert!(lines > 1_000, "only {lines} fixture lines with a message");
    }

    /// The fixture messages with one value of their `message` swapped for a value of
    /// each other JSON type, as a damaged or future transcript might have it: every
    /// variant reads as it does through a tree.
    #[test]
    fn mistyped_message_parts_read_as_through_a_tree() {
        /// The `n`th value of `v`, counted depth first from `v` itself.
        fn nth_node(v: &mut Value, n: usize) -> Option<&mut Value> {
            find(v, n, &mut 0)
        }
        fn find<'a>(v: &'a mut Value, n: usize, i: &mut usize) -> Option<&'a mut Value> {
            if *i == n {
                return Some(v);
            }
            *i += 1;
            match v {
                Value::Array(items) => items.iter_mut().find_map(|c| find(c, n, i)),
                Value::Object(o) => o.values_mut().find_map(|c| find(c, n, i)),
                _ => None,
            }
        }
        let replacements = [
            json!(null),
            json!(7),
            json!(-3),
            json!(1.5),
            json!(true),
            json!("s"),
            json!([]),
            json!([1, "t", {"text": "u"}]),
            json!({}),
            json!({"type": "text", "text": 2}),
        ];
        let mut variants = 0;
        for (_, text) in fixture_transcripts() {
            for line in text.lines().filter(|l| l.len() < 4_000).step_by(3) {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if !v.get("message").is_some_and(Value::is_object) {
                    continue;
                }
                for n in 0..24 {
                    for r in &replacements {
                        let mut v = v.clone();
                        let Some(msg) = v.get_mut("message") else {
                            continue;
                        };
                        let Some(node) = nth_node(msg, n) else {
                            break;
                        };
                        *node = r.clone();
                        let line = v.to_string();
                        let Ok(Record::Message(m)) = parse_line(line.as_bytes()) else {
                            continue;
                        };
                        assert_eq!(
                            parts(*m),
                            reference::message(&line).expect("parsed"),
                            "{line:.300}"
                        );
                        variants += 1;
                    }
                }
            }
        }
        assert!(variants > 10_000, "only {variants} variants");
    }

    /// A key given twice counts as its last value, as in a tree.
    #[test]
    fn a_key_given_twice_is_its_last_value() {
        for line in [
            r#"{"type":"assistant","message":{"model":"a","model":"b","content":"x","content":[{"type":"text","text":"y"}]}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","type":"text","text":"one","text":"two","input":1,"input":{"k":2}}]}}"#,
            r#"{"type":"assistant","message":{"usage":{"input_tokens":1,"input_tokens":"x","output_tokens":4},"usage":{"output_tokens":5}}}"#,
        ] {
            assert_eq!(
                parts(msg(line)),
                reference::message(line).expect("parsed"),
                "{line}"
            );
        }
        assert_eq!(
            msg(r#"{"type":"assistant","message":{"model":"a","model":"b"}}"#)
                .model
                .as_deref(),
            Some("b")
        );
    }

    fn msg(line: &str) -> Message {
        match parse_line(line.as_bytes()) {
            Ok(Record::Message(m)) => *m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn tool_use_results_are_kept_as_json_and_read_on_demand() {
        let with = |result: &str| {
            msg(&format!(
                r#"{{"type":"user","uuid":"u","message":{{"role":"user","content":[]}},"toolUseResult":{result}}}"#
            ))
            .tool_use_result
        };
        let failed = with(r#""Error: file not found""#).expect("a result");
        assert!(failed.is_error_text());
        assert_eq!(failed.value(), Some(Value::from("Error: file not found")));
        // Escapes are read as JSON, not matched as text.
        assert!(with(r#""\u0045rror: escaped""#)
            .expect("a result")
            .is_error_text());
        assert!(!with(r#""no Error here""#)
            .expect("a result")
            .is_error_text());
        let edit = with(r#"{"filePath":"/p/a.py","structuredPatch":[]}"#).expect("a result");
        assert!(!edit.is_error_text());
        assert_eq!(
            edit.value()
                .and_then(|v| v["filePath"].as_str().map(str::to_owned)),
            Some("/p/a.py".to_owned())
        );
        assert_eq!(with("null"), None);
    }

    #[test]
    fn non_objects_and_garbage_are_errors() {
        assert_eq!(parse_line(b"42"), Err(ParseError::NotAnObject("a number")));
        assert_eq!(parse_line(b"[1]"), Err(ParseError::NotAnObject("an array")));
        assert_eq!(parse_line(b"  "), Err(ParseError::Empty));
        assert!(matches!(
            parse_line(b"{\"type\":"),
            Err(ParseError::Json(_))
        ));
        assert_eq!(parse_line(b"{\"silly\":1}"), Err(ParseError::MissingType));
    }

    #[test]
    fn mistyped_fields_are_absent_not_fatal() {
        let m = msg(r#"{"type":"user","uuid":"u1","message":"error","timestamp":5}"#);
        assert_eq!(m.uuid.as_deref(), Some("u1"));
        assert!(m.blocks.is_empty());
        assert!(m.timestamp.is_none());
    }

    #[test]
    fn assistant_blocks_usage_and_ids() {
        let m = msg(
            r#"{"type":"assistant","uuid":"a","requestId":"r1","message":{"id":"m1","model":"claude-x","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"/a"}}],"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":5}}}"#,
        );
        assert_eq!(m.request_id.as_deref(), Some("r1"));
        assert_eq!(m.message_id.as_deref(), Some("m1"));
        assert_eq!(m.usage.map(|u| u.total()), Some(12));
        assert_eq!(m.tool_uses().count(), 1);
        assert_eq!(m.text(), "hi");
    }

    #[test]
    fn thinking_is_apart_from_text_and_redacted_blocks_are_left_out() {
        let m = msg(
            r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"first"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"answer"},{"type":"thinking","thinking":"second"}]}}"#,
        );
        assert_eq!(m.text(), "answer");
        assert_eq!(m.thinking().as_deref(), Some("first\n\nsecond"));
        let redacted = msg(
            r#"{"type":"assistant","message":{"content":[{"type":"redacted_thinking","data":"x"},{"type":"text","text":"hi"}]}}"#,
        );
        assert_eq!(redacted.thinking(), None);
        assert_eq!(
            msg(r#"{"type":"user","message":{"content":"hi"}}"#).thinking(),
            None
        );
    }

    #[test]
    fn usage_near_u64_max_totals_without_overflow() {
        // Token counts come from the transcript as they are: a damaged line can hold
        // any u64.
        let m = msg(
            r#"{"type":"assistant","message":{"usage":{"input_tokens":18446744073709551615,"output_tokens":2,"cache_read_input_tokens":18446744073709551615}}}"#,
        );
        assert_eq!(m.usage.map(|u| u.total()), Some(u64::MAX));
    }

    #[test]
    fn prompts_exclude_tool_results_and_command_echoes() {
        assert!(msg(r#"{"type":"user","message":{"content":"fix it"}}"#).is_prompt());
        assert!(!msg(
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"x","content":"ok"}]}}"#
        )
        .is_prompt());
        assert!(!msg(
            r#"{"type":"user","message":{"content":"<command-name>/clear</command-name>"}}"#
        )
        .is_prompt());
        assert!(!msg(r#"{"type":"user","isMeta":true,"message":{"content":"x"}}"#).is_prompt());
    }

    #[test]
    fn a_slash_command_that_asks_the_model_is_a_prompt() {
        // As Claude Code 1.0 to 2.1 write them (the fixtures of claude-code-viewer and
        // sniffly): a command handing the model a prompt says what it does.
        let custom = msg(
            r#"{"type":"user","message":{"role":"user","content":"<command-message>orchestrator is running…</command-message>\n<command-name>/orchestrator</command-name>\n<command-args>create TODO app by Next.js</command-args>"}}"#,
        );
        assert!(custom.is_prompt());
        assert_eq!(
            custom.prompt_text(),
            "/orchestrator create TODO app by Next.js"
        );
        let init = msg(
            r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"<command-message>init is analyzing your codebase…</command-message>\n<command-name>init</command-name>"}]}}"#,
        );
        assert_eq!(init.prompt_command().as_deref(), Some("/init"));
        // Commands Claude Code answers itself name themselves alone.
        let model = msg(
            r#"{"type":"user","message":{"content":"<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>opus</command-args>"}}"#,
        );
        assert!(!model.is_prompt());
        assert_eq!(model.prompt_text(), model.text());
        // The prompt a command expands to is Claude Code's, not the person's.
        assert!(!msg(
            r#"{"type":"user","isMeta":true,"message":{"content":"<command-message>init is analyzing your codebase…</command-message><command-name>/init</command-name>"}}"#
        )
        .is_prompt());
    }

    #[test]
    fn titles_summaries_and_unknown_types() {
        assert_eq!(
            parse_line(br#"{"type":"custom-title","customTitle":"Fix auth","sessionId":"s"}"#),
            Ok(Record::Title {
                title: "Fix auth".into(),
                custom: true,
                session_id: Some("s".into())
            })
        );
        assert_eq!(
            parse_line(br#"{"type":"summary","summary":"S","leafUuid":"l"}"#),
            Ok(Record::Summary {
                summary: "S".into(),
                leaf_uuid: Some("l".into())
            })
        );
        assert_eq!(
            parse_line(br#"{"type":"brand-new-thing"}"#),
            Ok(Record::Unknown {
                kind: "brand-new-thing".into()
            })
        );
    }
}
