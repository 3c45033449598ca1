//! Matching a local file to the paths recorded in transcripts.
//!
//! Transcripts hold absolute paths from the machine and checkout where the agent ran.
//! A recorded path matches a local file when, in order of preference:
//! 1. it is the same absolute path (after the configured path mappings);
//! 2. its path relative to the conversation's project root (`cwd`) equals the local
//!    file's path relative to the local workspace root (a moved checkout, another
//!    machine, a teammate's transcripts);
//! 3. failing both, it shares the longest common suffix of path components with the
//!    local path (at least the file name).

use std::path::{Component, Path};

/// A prefix rewrite applied to recorded paths before matching
/// (`/home/ci/build` → `/Users/me/src/app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMapping {
    pub from: String,
    pub to: String,
}

/// How well a recorded path matches; higher is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Suffix(usize),
    Relative,
    Exact,
}

fn components(p: &str) -> Vec<&str> {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect()
}

/// Applies the first mapping whose `from` is a prefix of `path` (on a component
/// boundary).
pub fn map_path(path: &str, mappings: &[PathMapping]) -> String {
    for m in mappings {
        let from = m.from.trim_end_matches('/');
        if let Some(rest) = path.strip_prefix(from) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{}{rest}", m.to.trim_end_matches('/'));
            }
        }
    }
    path.to_owned()
}

/// How `recorded` (made while the agent ran in `cwd`) matches the local file at
/// `local_abs`, which is `local_rel` below the local workspace root.
pub fn score(
    recorded: &str,
    cwd: Option<&str>,
    local_abs: &str,
    local_rel: Option<&str>,
) -> Option<Match> {
    if recorded == local_abs {
        return Some(Match::Exact);
    }
    if let (Some(cwd), Some(rel)) = (cwd, local_rel) {
        // The recorded path is `<project>/<rel>`, below the conversation's directory,
        // which is the project or a directory inside it.
        let (rec, rel, cwd) = (components(recorded), components(rel), components(cwd));
        if let Some(n) = rec.len().checked_sub(rel.len()) {
            let project = &rec[..n];
            if rec[n..] == rel[..] && cwd.starts_with(project) && rec.starts_with(&cwd) {
                return Some(Match::Relative);
            }
        }
    }
    let a = components(recorded);
    let b = components(local_abs);
    let common = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (common > 0).then_some(Match::Suffix(common))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_relative_and_suffix() {
        let local = "/work/simple/src/app.py";
        assert_eq!(
            score(local, None, local, Some("src/app.py")),
            Some(Match::Exact)
        );
        assert_eq!(
            score(
                "/Users/x/repo/src/app.py",
                Some("/Users/x/repo"),
                local,
                Some("src/app.py")
            ),
            Some(Match::Relative)
        );
        assert_eq!(
            score(
                "/elsewhere/src/app.py",
                Some("/elsewhere/other"),
                local,
                Some("src/app.py")
            ),
            Some(Match::Suffix(2))
        );
        assert_eq!(score("/a/b/other.py", None, local, None), None);
        assert!(Match::Exact > Match::Relative && Match::Relative > Match::Suffix(9));
    }

    #[test]
    fn mappings_rewrite_on_component_boundaries() {
        let m = [PathMapping {
            from: "/home/ci/build/".into(),
            to: "/Users/me/app".into(),
        }];
        assert_eq!(
            map_path("/home/ci/build/src/a.rs", &m),
            "/Users/me/app/src/a.rs"
        );
        assert_eq!(
            map_path("/home/ci/builder/a.rs", &m),
            "/home/ci/builder/a.rs"
        );
    }
}
