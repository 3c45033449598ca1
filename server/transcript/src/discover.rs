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
    // Symbolic links are followed, but only where there is one: following them
    // everywhere made walkdir resolve each project directory's real path (a
    // `readlink` per component) and `stat` every entry, two thirds of a run over
    // 15k unchanged files.
    fn is_transcript(p: &Path) -> bool {
        p.extension().is_some_and(|x| x == "jsonl")
    }
    fn walk(dir: &Path, follow: bool, out: &mut Vec<TranscriptFile>) {
        for e in WalkDir::new(dir)
            .follow_links(follow)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.file_type().is_file() {
                if is_transcript(e.path()) {
                    out.push(classify(e.into_path()));
                }
            } else if e.path_is_symlink() && e.depth() > 0 {
                match std::fs::metadata(e.path()) {
                    Ok(m) if m.is_dir() => walk(e.path(), true, out),
                    Ok(m) if m.is_file() && is_transcript(e.path()) => {
                        out.push(classify(e.into_path()))
                    }
                    _ => {}
                }
            }
        }
    }
    // A year of sessions is thousands of directories, and reading them is most of
    // what a run that finds nothing new costs: the project directories are walked
    // by two threads.
    let mut dirs = Vec::new();
    let mut out = Vec::new();
    match std::fs::read_dir(&base) {
        Ok(entries) => {
            for e in entries.filter_map(Result::ok) {
                let path = e.path();
                // The entry's type as the directory lists it; a `stat` only for links.
                let (is_dir, is_file) = match e.file_type() {
                    Ok(t) if t.is_symlink() => (path.is_dir(), path.is_file()),
                    Ok(t) => (t.is_dir(), t.is_file()),
                    Err(_) => (path.is_dir(), path.is_file()),
                };
                if is_dir {
                    dirs.push(path);
                } else if is_file && is_transcript(&path) {
                    out.push(classify(path));
                }
            }
        }
        Err(_) => walk(&base, true, &mut out),
    }
    let second = dirs.split_off(dirs.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut found = Vec::new();
            for d in &second {
                walk(d, false, &mut found);
            }
            found
        });
        for d in &dirs {
            walk(d, false, &mut out);
        }
        match other.join() {
            Ok(found) => out.extend(found),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // By bytes: comparing paths component by component was a tenth of a run over
    // 15k unchanged files.
    out.sort_unstable_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
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
    fn transcripts_behind_symbolic_links_are_found_once_and_loops_end() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().expect("tmp");
        let (root, elsewhere) = (tmp.path().join("c"), tmp.path().join("elsewhere"));
        let projects = root.join("projects");
        for d in [
            projects.join("-w-a/s1/subagents"),
            elsewhere.join("linked-project"),
            elsewhere.join("agents"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let touch = |p: PathBuf| std::fs::write(p, "{}\n").expect("write");
        touch(projects.join("-w-a/s1.jsonl"));
        touch(projects.join("-w-a/notes.txt"));
        touch(projects.join("-w-a/s1/subagents/agent-1.jsonl"));
        touch(elsewhere.join("linked-project/s2.jsonl"));
        touch(elsewhere.join("s3.jsonl"));
        touch(elsewhere.join("agents/agent-2.jsonl"));
        // A project directory, a session file and a session's subagents folder, each
        // a link; and a link back up, which must not be walked forever.
        symlink(elsewhere.join("linked-project"), projects.join("-w-b")).expect("link");
        symlink(elsewhere.join("s3.jsonl"), projects.join("-w-a/s3.jsonl")).expect("link");
        std::fs::create_dir_all(projects.join("-w-a/s3")).expect("mkdir");
        symlink(elsewhere.join("agents"), projects.join("-w-a/s3/subagents")).expect("link");
        symlink(&projects, projects.join("-w-a/loop")).expect("link");
        let found: Vec<String> = transcript_files(&root)
            .into_iter()
            .map(|f| {
                f.path
                    .strip_prefix(&projects)
                    .expect("under projects")
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| !p.starts_with("-w-a/loop/"))
            .collect();
        assert_eq!(
            found,
            [
                "-w-a/s1.jsonl",
                "-w-a/s1/subagents/agent-1.jsonl",
                "-w-a/s3.jsonl",
                "-w-a/s3/subagents/agent-2.jsonl",
                "-w-b/s2.jsonl",
            ]
        );
        let agent = transcript_files(&root)
            .into_iter()
            .find(|f| f.path.ends_with("agent-2.jsonl"))
            .expect("linked subagent");
        assert_eq!(agent.kind, FileKind::Subagent);
        assert_eq!(agent.parent_session.as_deref(), Some("s3"));
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
