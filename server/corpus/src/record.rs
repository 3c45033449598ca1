//! The on-disk shapes of transcript records. Field names and order copy real
//! Claude Code output (see shared/fixtures/transcripts); serde derive keeps
//! declaration order, and the envelope is serialized by hand because 2.1.x moved
//! the session fields after `timestamp`.

use crate::patch::Hunk;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// Session-constant fields every conversational record repeats.
pub struct Head<'a> {
    pub cwd: &'a str,
    pub session_id: &'a str,
    pub version: &'a str,
    pub git_branch: &'a str,
    pub agent_id: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub sidechain: bool,
    /// 2.1.x layout: userType, entrypoint, cwd, ... follow `timestamp`.
    pub tail: bool,
}

pub enum Body<'a> {
    User { message: UserMessage<'a>, is_meta: bool, extra: Extra<'a> },
    Assistant { message: AssistantMessage<'a>, request_id: &'a str },
    Compact { logical_parent: Option<&'a str>, pre_tokens: u64 },
    Progress { tool_use_id: &'a str, hook: &'a str },
}

pub enum Extra<'a> {
    None,
    /// 2.0.x prompts carry the thinking settings and the (empty) todo list.
    Prompt,
    CompactSummary,
    Tool {
        result: &'a ToolUseResult,
        source: &'a str,
    },
}

pub struct Rec<'a> {
    pub head: Head<'a>,
    pub parent: Option<&'a str>,
    pub uuid: &'a str,
    pub ts: &'a str,
    pub body: Body<'a>,
}

fn session_fields<M: SerializeMap>(m: &mut M, h: &Head) -> Result<(), M::Error> {
    m.serialize_entry("userType", "external")?;
    if h.tail {
        m.serialize_entry("entrypoint", "cli")?;
    }
    m.serialize_entry("cwd", h.cwd)?;
    m.serialize_entry("sessionId", h.session_id)?;
    m.serialize_entry("version", h.version)?;
    m.serialize_entry("gitBranch", h.git_branch)
}

impl Serialize for Rec<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.head;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("parentUuid", &self.parent)?;
        if let Body::Compact { logical_parent, .. } = &self.body {
            m.serialize_entry("logicalParentUuid", logical_parent)?;
        }
        m.serialize_entry("isSidechain", &h.sidechain)?;
        if !h.tail {
            session_fields(&mut m, h)?;
        }
        if let Some(a) = h.agent_id {
            m.serialize_entry("agentId", a)?;
        }
        if let (false, Some(slug)) = (h.tail, h.slug) {
            m.serialize_entry("slug", slug)?;
        }
        match &self.body {
            Body::User { message, is_meta, extra } => {
                m.serialize_entry("type", "user")?;
                m.serialize_entry("message", message)?;
                if *is_meta {
                    m.serialize_entry("isMeta", &true)?;
                }
                if let Extra::CompactSummary = extra {
                    m.serialize_entry("isVisibleInTranscriptOnly", &true)?;
                    m.serialize_entry("isCompactSummary", &true)?;
                }
                m.serialize_entry("uuid", self.uuid)?;
                m.serialize_entry("timestamp", self.ts)?;
                match extra {
                    Extra::Prompt if !h.tail => {
                        let meta = ThinkingMetadata { level: "high", disabled: false, triggers: [] };
                        m.serialize_entry("thinkingMetadata", &meta)?;
                        m.serialize_entry("todos", &[(); 0])?;
                    }
                    Extra::Tool { result, source } => {
                        m.serialize_entry("toolUseResult", result)?;
                        if h.tail {
                            m.serialize_entry("sourceToolAssistantUUID", source)?;
                        }
                    }
                    _ => {}
                }
            }
            Body::Assistant { message, request_id } => {
                m.serialize_entry("message", message)?;
                m.serialize_entry("requestId", request_id)?;
                m.serialize_entry("type", "assistant")?;
                m.serialize_entry("uuid", self.uuid)?;
                m.serialize_entry("timestamp", self.ts)?;
            }
            Body::Compact { pre_tokens, .. } => {
                m.serialize_entry("type", "system")?;
                m.serialize_entry("subtype", "compact_boundary")?;
                m.serialize_entry("content", "Conversation compacted")?;
                m.serialize_entry("isMeta", &false)?;
                m.serialize_entry("timestamp", self.ts)?;
                m.serialize_entry("uuid", self.uuid)?;
                m.serialize_entry("level", "info")?;
                let meta = CompactMetadata { trigger: "auto", pre_tokens: *pre_tokens };
                m.serialize_entry("compactMetadata", &meta)?;
            }
            Body::Progress { tool_use_id, hook } => {
                m.serialize_entry("type", "progress")?;
                let data = HookProgress {
                    kind: "hook_progress",
                    hook_event: "PostToolUse",
                    hook_name: hook,
                    command: "$CLAUDE_PROJECT_DIR/.claude/hooks/format.sh",
                };
                m.serialize_entry("data", &data)?;
                m.serialize_entry("parentToolUseID", tool_use_id)?;
                m.serialize_entry("toolUseID", tool_use_id)?;
                m.serialize_entry("uuid", self.uuid)?;
                m.serialize_entry("timestamp", self.ts)?;
            }
        }
        if h.tail {
            session_fields(&mut m, h)?;
            if let Some(slug) = h.slug {
                m.serialize_entry("slug", slug)?;
            }
        }
        m.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingMetadata {
    level: &'static str,
    disabled: bool,
    triggers: [(); 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompactMetadata {
    trigger: &'static str,
    pre_tokens: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HookProgress<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    hook_event: &'static str,
    hook_name: &'a str,
    command: &'static str,
}

#[derive(Serialize)]
pub struct UserMessage<'a> {
    pub role: &'static str,
    pub content: UserContent<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum UserContent<'a> {
    Text(&'a str),
    Result([ResultBlock<'a>; 1]),
}

/// A `tool_result` block; failed calls use the field order real errors have.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ResultBlock<'a> {
    Ok {
        tool_use_id: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
        content: &'a ResultContent,
    },
    Err {
        #[serde(rename = "type")]
        kind: &'static str,
        content: &'a ResultContent,
        is_error: bool,
        tool_use_id: &'a str,
    },
}

#[derive(Serialize, Clone)]
#[serde(untagged)]
pub enum ResultContent {
    Text(String),
    Blocks(Vec<TextBlock>),
}

#[derive(Serialize, Clone)]
pub struct TextBlock {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

#[derive(Serialize)]
pub struct AssistantMessage<'a> {
    pub model: &'a str,
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub content: [Block<'a>; 1],
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'static str>,
    pub usage: &'a Usage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block<'a> {
    Thinking { thinking: &'a str, signature: &'a str },
    Text { text: &'a str },
    ToolUse { id: &'a str, name: &'a str, input: &'a Input },
}

#[derive(Serialize, Clone)]
pub struct Usage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation: CacheCreation,
    pub output_tokens: u64,
    pub service_tier: &'static str,
}

#[derive(Serialize, Clone)]
pub struct CacheCreation {
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

#[derive(Serialize, Clone)]
pub struct EditOp {
    pub old_string: String,
    pub new_string: String,
    pub replace_all: bool,
}

#[derive(Serialize, Clone)]
pub struct Todo {
    pub content: String,
    pub status: &'static str,
    #[serde(rename = "activeForm")]
    pub active_form: String,
}

/// Tool inputs as the model sends them.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Input {
    Read {
        file_path: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    Edit {
        file_path: String,
        old_string: String,
        new_string: String,
    },
    MultiEdit {
        file_path: String,
        edits: Vec<EditOp>,
    },
    Write {
        file_path: String,
        content: String,
    },
    Bash {
        command: String,
        description: String,
    },
    Grep {
        pattern: String,
        path: String,
        output_mode: &'static str,
        #[serde(rename = "-n", skip_serializing_if = "Option::is_none")]
        line_numbers: Option<bool>,
    },
    Glob {
        pattern: String,
    },
    TodoWrite {
        todos: Vec<Todo>,
    },
    Task {
        description: String,
        prompt: String,
        subagent_type: &'static str,
    },
    NotebookEdit {
        notebook_path: String,
        cell_id: String,
        new_source: String,
        cell_type: &'static str,
        edit_mode: &'static str,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub file_path: String,
    pub content: String,
    pub num_lines: usize,
    pub start_line: usize,
    pub total_lines: usize,
}

/// The `toolUseResult` object beside each tool result, one shape per tool.
#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum ToolUseResult {
    Edit {
        file_path: String,
        old_string: String,
        new_string: String,
        original_file: String,
        structured_patch: Vec<Hunk>,
        user_modified: bool,
        replace_all: bool,
    },
    MultiEdit {
        file_path: String,
        edits: Vec<EditOp>,
        original_file_contents: String,
        structured_patch: Vec<Hunk>,
        user_modified: bool,
    },
    Write {
        #[serde(rename = "type")]
        kind: &'static str,
        file_path: String,
        content: String,
        structured_patch: Vec<Hunk>,
        original_file: Option<String>,
    },
    Read {
        #[serde(rename = "type")]
        kind: &'static str,
        file: FileView,
    },
    Bash {
        stdout: String,
        stderr: String,
        interrupted: bool,
        is_image: bool,
    },
    GrepContent {
        mode: &'static str,
        num_files: usize,
        filenames: Vec<String>,
        content: String,
        num_lines: usize,
    },
    GrepFiles {
        mode: &'static str,
        filenames: Vec<String>,
        num_files: usize,
    },
    Glob {
        filenames: Vec<String>,
        duration_ms: u64,
        num_files: usize,
        truncated: bool,
    },
    Todo {
        old_todos: Vec<Todo>,
        new_todos: Vec<Todo>,
    },
    Task {
        status: &'static str,
        prompt: String,
        agent_id: String,
        content: Vec<TextBlock>,
        total_duration_ms: u64,
        total_tokens: u64,
        total_tool_use_count: u64,
        usage: Usage,
    },
    /// NotebookEdit results keep the snake_case names of its input.
    #[serde(rename_all = "snake_case")]
    Notebook {
        new_source: String,
        cell_id: String,
        cell_type: &'static str,
        language: &'static str,
        edit_mode: &'static str,
        error: &'static str,
    },
    Error(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message_id: &'a str,
    pub snapshot: SnapshotBody<'a>,
    pub is_snapshot_update: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotBody<'a> {
    pub message_id: &'a str,
    #[serde(serialize_with = "as_map")]
    pub tracked_file_backups: &'a [(String, Backup)],
    pub timestamp: &'a str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub backup_file_name: Option<String>,
    pub version: u32,
    pub backup_time: String,
}

/// Backups are kept in first-edit order, as Claude Code writes them.
fn as_map<S: Serializer>(v: &&[(String, Backup)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, b)| (k, b)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: &'a str,
    pub leaf_uuid: &'a str,
}

/// A record type older parsers do not know (added in 2.0.x); readers must skip it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueOperation<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub operation: &'static str,
    pub timestamp: &'a str,
    pub session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
}
