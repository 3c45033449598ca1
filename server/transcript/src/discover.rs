//! Where Claude Code keeps transcripts.
//!
//! `CLAUDE_CONFIG_DIR` (a comma-separated list is allowed) replaces the defaults; the
//! defaults are `~/.config/claude` (newer releases) and `~/.claude`. Transcripts live
//! under `<config>/projects/` in three layouts: `<project>/<session>.jsonl`, the older
//! `<project>/agent-<id>.jsonl` beside it, and `<project>/<session>/subagents/**.jsonl`.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Session,
    /// `agent-*.jsonl` beside the sessions (before subagents had their own folder).
    LegacyAgent,
    /// `<session>/subagents/**.jsonl`.
    Subagent,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Session => "session",
            FileKind::LegacyAgent => "agent",
            FileKind::Subagent => "subagent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptFile {
    pub path: PathBuf,
    pub kind: FileKind,
    /// For subagent files, the session folder they sit in.
    pub parent_session: Option<String>,
}

/// Claude Code's configuration directories, in the order it would use them.
/// Directories that do not exist are left out.
pub fn claude_config_dirs() -> Vec<PathBuf> {
    let env = std::env::var("CLAUDE_CONFIG_DIR").ok();
    let home = dirs::home_dir();
    config_dirs_from(env.as_deref(), home.as_deref())
        .into_iter()
        .filter(|d| d.is_dir())
        .collect()
}

fn config_dirs_from(env: Option<&str>, home: Option<&Path>) -> Vec<PathBuf> {
    if let Some(list) = env.filter(|v| !v.trim().is_empty()) {
        return list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let Some(home) = home else { return Vec::new() };
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    vec![xdg.join("claude"), home.join(".claude")]
}

/// Every transcript under `root`. `root` may be a config directory (with `projects/`
/// inside) or a projects directory itself. Sorted by path so runs are reproducible.
pub fn transcript_files(root: &Path) -> Vec<TranscriptFile> {
    let projects = root.join("projects");
    let base = if projects.is_dir() {
        projects
    } else {
        root.to_path_buf()
    };
    let walk = |dir: &Path, out: &mut Vec<TranscriptFile>| {
        out.extend(
            WalkDir::new(dir)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .map(|e| classify(e.into_path())),
        );
    };
    // A year of sessions is thousands of directories, and reading them is most of
    // what a run that finds nothing new costs: the project directories are walked
    // by two threads.
    let mut dirs = Vec::new();
    let mut out = Vec::new();
    match std::fs::read_dir(&base) {
        Ok(entries) => {
            for e in entries.filter_map(Result::ok) {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.is_file() && path.extension().is_some_and(|x| x == "jsonl") {
                    out.push(classify(path));
                }
            }
        }
        Err(_) => walk(&base, &mut out),
    }
    let second = dirs.split_off(dirs.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut found = Vec::new();
            for d in &second {
                walk(d, &mut found);
            }
            found
        });
        for d in &dirs {
            walk(d, &mut out);
        }
        match other.join() {
            Ok(found) => out.extend(found),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Classifies one transcript path by its layout.
pub fn classify(path: PathBuf) -> TranscriptFile {
    let components: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect::<Vec<_>>();
    let sub = components.iter().rposition(|c| *c == "subagents");
    if let Some(i) = sub {
        let parent = i.checked_sub(1).map(|p| components[p].to_owned());
        return TranscriptFile {
            path,
            kind: FileKind::Subagent,
            parent_session: parent,
        };
    }
    let is_agent = path
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.starts_with("agent-"));
    TranscriptFile {
        path,
        kind: if is_agent {
            FileKind::LegacyAgent
        } else {
            FileKind::Session
        },
        parent_session: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_list_replaces_defaults() {
        let dirs = config_dirs_from(Some("/a, /b ,"), Some(Path::new("/home/u")));
        assert_eq!(dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        let defaults = config_dirs_from(None, Some(Path::new("/home/u")));
        assert!(defaults.contains(&PathBuf::from("/home/u/.claude")));
    }

    #[test]
    fn layouts_are_classified() {
        let t = classify(PathBuf::from("/c/projects/p/s1/subagents/agent-a1.jsonl"));
        assert_eq!(t.kind, FileKind::Subagent);
        assert_eq!(t.parent_session.as_deref(), Some("s1"));
        assert_eq!(
            classify(PathBuf::from("/c/projects/p/agent-ab.jsonl")).kind,
            FileKind::LegacyAgent
        );
        assert_eq!(
            classify(PathBuf::from("/c/projects/p/0a.jsonl")).kind,
            FileKind::Session
        );
    }

    #[test]
    fn finds_files_in_all_layouts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("projects/-x");
        std::fs::create_dir_all(p.join("s1/subagents")).expect("mkdir");
        for f in [
            "s1.jsonl",
            "agent-1.jsonl",
            "s1/subagents/agent-2.jsonl",
            "notes.txt",
        ] {
            std::fs::write(p.join(f), "").expect("write");
        }
        let files = transcript_files(dir.path());
        assert_eq!(files.len(), 3);
    }
}
