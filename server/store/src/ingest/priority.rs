//! Which transcripts a run reads first when someone is waiting for them.
//!
//! A first run over a year of transcripts takes minutes. The platform hears which
//! files the editors ask about (each open file is asked for its attribution), and
//! those files' conversations most likely ran in their checkout: Claude Code keeps a
//! session under `projects/<its working directory, every other character than a
//! letter or digit made '-'>/`. A run moves the transcripts of the project
//! directories named after a wanted file's directories (the file's own and each one
//! above it) to the front of what it has left to read.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Shared by whoever hears of wanted files and the run that reads transcripts.
#[derive(Debug, Default)]
pub struct IndexPriority {
    /// Project directory names whose transcripts go first.
    wanted: Mutex<HashSet<OsString>>,
    /// Bumped when a name is added, so a run re-orders only then.
    generation: AtomicU64,
}

/// Most names kept: an editor opens a few hundred files in a long session, each
/// adding its directories; beyond this the oldest reason to hurry is long gone.
const MAX_WANTED: usize = 4096;

impl IndexPriority {
    /// `path` (absolute) is open in an editor: its conversations are read next.
    pub fn want_file(&self, path: &Path) {
        if !path.is_absolute() {
            return;
        }
        let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if wanted.len() >= MAX_WANTED {
            wanted.clear();
        }
        let mut added = false;
        for dir in path.ancestors().skip(1) {
            if dir.parent().is_none() {
                break; // The root: every session ran below it.
            }
            for name in project_dir_names(dir) {
                added |= wanted.insert(name);
            }
        }
        if added {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Whether the transcript at `path` is in a wanted project directory.
    pub fn wants_transcript(&self, path: &Path) -> bool {
        let wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        !wanted.is_empty()
            && path
                .parent()
                .into_iter()
                .flat_map(Path::components)
                .any(|c| wanted.contains(c.as_os_str()))
    }
}

/// The names Claude Code has given the project directory of sessions run in `dir`:
/// releases since 2025 make every character but a letter or digit a '-'; earlier
/// ones only '/' (the ai-blame fixture's `-Users-cjm-repos-ai-blame.rs-tests-…`),
/// or '/' and '.'.
fn project_dir_names(dir: &Path) -> [OsString; 3] {
    let dir = dir.to_string_lossy();
    let encode = |dash: &dyn Fn(char) -> bool| -> OsString {
        dir.chars()
            .map(|c| if dash(c) { '-' } else { c })
            .collect::<String>()
            .into()
    };
    [
        encode(&|c| !c.is_ascii_alphanumeric()),
        encode(&|c| c == '/'),
        encode(&|c| c == '/' || c == '.'),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_wants_the_project_directories_of_its_checkout_and_above() {
        let p = IndexPriority::default();
        assert!(!p.wants_transcript(Path::new("/h/.claude/projects/-w-app/s.jsonl")));
        p.want_file(Path::new("/w/app/src/main.rs"));
        assert_eq!(p.generation(), 1);
        for wanted in [
            "/h/.claude/projects/-w-app/s.jsonl",
            "/h/.claude/projects/-w-app-src/s.jsonl",
            "/h/.claude/projects/-w-app/s/subagents/agent-1.jsonl",
            "/h/.claude/projects/-w/s.jsonl",
        ] {
            assert!(p.wants_transcript(Path::new(wanted)), "{wanted}");
        }
        for other in [
            "/h/.claude/projects/-w-application/s.jsonl",
            "/h/.claude/projects/-w-other/s.jsonl",
            // A session file named like the project is not a directory of it.
            "/h/.claude/projects/x/-w-app",
        ] {
            assert!(!p.wants_transcript(Path::new(other)), "{other}");
        }
        // Asking again changes nothing: a run need not re-order.
        p.want_file(Path::new("/w/app/src/lib.rs"));
        assert_eq!(p.generation(), 1);
    }

    #[test]
    fn names_are_encoded_as_each_claude_code_release_wrote_them() {
        let p = IndexPriority::default();
        p.want_file(Path::new("/home/me/my_app.v2/x.py"));
        for name in [
            "-home-me-my-app-v2",
            "-home-me-my_app.v2",
            "-home-me-my_app-v2",
        ] {
            assert!(
                p.wants_transcript(Path::new(&format!("/c/projects/{name}/s.jsonl"))),
                "{name}"
            );
        }
        let fixture = "-Users-cjm-repos-ai-blame.rs-tests-examples-simple";
        p.want_file(Path::new(
            "/Users/cjm/repos/ai-blame.rs/tests/examples/simple/main.py",
        ));
        assert!(p.wants_transcript(Path::new(&format!("/c/projects/{fixture}/s.jsonl"))));
    }
}
