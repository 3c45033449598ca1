//! The Claude Code transcript format: where transcripts live, how to read them as a
//! stream of lines, and what each line means.
//!
//! This crate knows nothing about storage. It turns bytes into [`Record`]s and tool
//! calls into [`FileChange`]s; the store decides what to keep.

pub mod changes;
pub mod discover;
pub mod markdown;
pub mod reader;
pub mod record;

pub use changes::{read_snapshot, FileChange, Hunk, TextEdit};
pub use discover::{claude_config_dirs, transcript_files, FileKind, TranscriptFile};
pub use reader::{LineReader, ReadLine};
pub use record::{
    parse_line, Block, CommandEcho, Message, ParseError, Record, Role, ToolUseResult, Usage,
};
