//! Blame for a file: its recorded history (see [`History`]), matched by path, replayed
//! and mapped onto the content.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use observatory_transcript::FileChange;
use serde::Serialize;

use crate::history::{History, RecordedWrite, Result};
use crate::paths::{map_path, score, Match, PathMapping};
use crate::{Options, Origin, Replay};

/// The directory a file's path is taken relative to: the enclosing git checkout,
/// else the file's own directory.
pub fn workspace_root(file: &Path) -> PathBuf {
    let start = file.parent().unwrap_or(Path::new("/"));
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(start)
        .to_path_buf()
}

/// The recorded writes that are this file, oldest first.
pub fn history_of(
    history: &dyn History,
    file: &Path,
    root: &Path,
    mappings: &[PathMapping],
) -> Result<Vec<RecordedWrite>> {
    let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let local_abs = file.to_string_lossy();
    let local_rel = file.strip_prefix(root).ok().and_then(Path::to_str);
    let rel_depth = local_rel.map_or(1, |r| Path::new(r).components().count());
    let scored: Vec<(Match, RecordedWrite)> = history
        .writes_to_files_named(name)?
        .into_iter()
        .filter_map(|w| {
            let cwd = w.cwd.as_deref().map(|c| map_path(c, mappings));
            // The call's own path and the path in its result can differ (tools that
            // rewrite transcripts, symlinked checkouts); either may be the file.
            let best = [&w.path, &w.change.path]
                .into_iter()
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    score(
                        &map_path(p, mappings),
                        cwd.as_deref(),
                        &local_abs,
                        local_rel,
                    )
                })
                .max()?;
            Some((best, w))
        })
        .collect();
    let Some(top) = scored.iter().map(|(m, _)| *m).max() else {
        return Ok(Vec::new());
    };
    let keep = |m: Match| match top {
        // The same file seen from several machines or checkouts.
        Match::Exact | Match::Relative => m >= Match::Relative,
        // Guesses: only the best suffix, and at least as deep as the local path (up
        // to two components), so `src/lib.rs` does not match every `lib.rs`.
        Match::Suffix(n) => m == top && n >= rel_depth.min(2),
    };
    let mut writes: Vec<RecordedWrite> = scored
        .into_iter()
        .filter(|(m, _)| keep(*m))
        .map(|(_, w)| w)
        .collect();
    follow_renames(history, &mut writes, MAX_RENAMES)?;
    Ok(writes)
}

/// Most paths of a checkout considered as a file's name before a person moved it:
/// the most recently written, with the file's extension.
const MAX_MOVE_CANDIDATES: usize = 16;
/// Paths read from the store to find those candidates among.
const MAX_MOVE_PATHS: usize = 2000;
/// Least similarity between the file and what the agent left at a path now gone for
/// that path to be the file's earlier name: git's rename threshold.
const MIN_MOVE_SIMILARITY: f64 = 0.5;
/// Least lines in common, so that two small files of boilerplate are not a move.
const MIN_MOVE_LINES: usize = 3;

/// The history of the file under an earlier name, when a person moved or renamed it
/// (in their editor, with `git mv`) where no transcript saw it: git blame follows such
/// a move, so the lines keep the calls that wrote them.
///
/// Looked for in each recorded form of the file's checkout (see `recorded_checkouts`)
/// where its history at this path does not start with its creation: no write to the
/// path at all, or a first write that found the file there (what it found is then
/// what the earlier name must resemble too). The candidates are the paths with the
/// file's extension that the agent wrote in the checkout and that are not in the
/// local one (which must be on this machine); the one whose content, as its history
/// left it, is most like the file (lines in common over the longer of the two, as git
/// measures a rename) is taken, at 50% or more.
fn moved_from(
    history: &dyn History,
    file: &Path,
    root: &Path,
    content: &str,
    writes: &[RecordedWrite],
    mappings: &[PathMapping],
    options: Options,
) -> Result<Vec<RecordedWrite>> {
    if writes.iter().any(|w| w.change.renamed_from.is_some()) {
        return Ok(Vec::new());
    }
    let Some(rel) = file.strip_prefix(root).ok().and_then(Path::to_str) else {
        return Ok(Vec::new());
    };
    // What is gone from the checkout can only be told on the machine it is on; a
    // platform elsewhere (a team's) sees none of it. And `/` is no checkout: every
    // path ever written is below it.
    if !root.is_dir() || root.parent().is_none() {
        return Ok(Vec::new());
    }
    let now = line_counts(content);
    let here = root.to_string_lossy();
    let mut best: Option<Move> = None;
    let mut tried = 0;
    for checkout in recorded_checkouts(history, root, rel, writes, mappings)? {
        let dir = checkout.dir();
        let written = history.paths_written_under(dir, MAX_MOVE_PATHS)?;
        let here_of = |path: &str| path.strip_prefix(dir).map(|rest| format!("{here}{rest}"));
        if let Recorded::Named(_) = &checkout {
            let present = written
                .iter()
                .filter(|p| here_of(p).is_some_and(|l| Path::new(&l).exists()))
                .count();
            // The moved file's old path is one that is gone.
            if present * 2 + 1 < written.len() {
                continue;
            }
        }
        // Each checkout on its own: the file's history at this path in it, what that
        // started from, and the paths it wrote that are not in the local checkout.
        let at = |w: &RecordedWrite, path: &str| w.path == path || w.change.path == path;
        let own = format!("{dir}/{rel}");
        let (reference, before) = match writes.iter().find(|w| at(w, &own)) {
            None => (None, None),
            Some(first) if first.change.created == Some(true) => continue,
            // An older record that does not say what the change found: the file as
            // it is now is all there is to compare with.
            Some(first) => (found_by(first).map(line_counts), first.at),
        };
        for path in written {
            let Some(local) = here_of(&path) else {
                continue;
            };
            let local = Path::new(&local);
            if tried >= MAX_MOVE_CANDIDATES {
                break;
            }
            if local == file || local.extension() != file.extension() || local.exists() {
                continue;
            }
            tried += 1;
            let Some(name) = local.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut earlier: Vec<RecordedWrite> = history
                .writes_to_files_named(name)?
                .into_iter()
                .filter(|w| at(w, &path))
                .filter(|w| before.is_none_or(|b| w.at <= Some(b)))
                .collect();
            follow_renames(history, &mut earlier, MAX_RENAMES)?;
            if earlier.is_empty() {
                continue;
            }
            let left = replay_history_with(&earlier, options);
            let left = line_counts_of(left.texts());
            // Like what the file was when its own history started, and like it now.
            let similarity = reference
                .as_ref()
                .map_or(1.0, |r| similarity(&left, r))
                .min(similarity(&left, &now));
            if similarity >= MIN_MOVE_SIMILARITY
                && best.as_ref().is_none_or(|b| similarity > b.similarity)
            {
                best = Some(Move {
                    similarity,
                    earlier,
                    old: local.to_path_buf(),
                    before,
                });
            }
        }
    }
    let Some(Move {
        earlier,
        old,
        before,
        ..
    }) = best
    else {
        return Ok(Vec::new());
    };
    // The earlier name's whole history, as blaming it here would find it: its writes
    // from the project's other checkouts too.
    let whole: Vec<RecordedWrite> = history_of(history, &old, root, mappings)?
        .into_iter()
        .filter(|w| before.is_none_or(|b| w.at <= Some(b)))
        .collect();
    Ok(if whole.len() > earlier.len() {
        whole
    } else {
        earlier
    })
}

/// The likeliest earlier name of a moved file found so far.
struct Move {
    similarity: f64,
    /// The recorded writes at that name, in the checkout it was found in.
    earlier: Vec<RecordedWrite>,
    /// Where that name is in the local checkout.
    old: std::path::PathBuf,
    /// When the file's own history at its new path starts.
    before: Option<DateTime<Utc>>,
}

/// The directories the file's checkout may have been recorded as: the local one,
/// where a mapping says it was, wherever a write to the file's relative path was made
/// (another project's file at the same path among them: `moved_from` judges each by
/// what it found there), and the directories named like it (another machine, a
/// checkout moved since).
fn recorded_checkouts(
    history: &dyn History,
    root: &Path,
    rel: &str,
    writes: &[RecordedWrite],
    mappings: &[PathMapping],
) -> Result<Vec<Recorded>> {
    let mut dirs: Vec<Recorded> = vec![Recorded::Known(root.to_string_lossy().into_owned())];
    for m in mappings {
        if let Ok(rest) = root.strip_prefix(m.to.trim_end_matches('/')) {
            let from = Path::new(m.from.trim_end_matches('/')).join(rest);
            dirs.push(Recorded::Known(from.to_string_lossy().into_owned()));
        }
    }
    let mut recorded: Vec<&str> = writes
        .iter()
        .flat_map(|w| [&w.path, &w.change.path])
        .filter_map(|p| p.strip_suffix(rel)?.strip_suffix('/'))
        .collect();
    recorded.sort_unstable();
    recorded.dedup();
    dirs.extend(recorded.into_iter().map(|d| Recorded::Known(d.to_owned())));
    if let Some(name) = root.file_name().and_then(|n| n.to_str()) {
        dirs.extend(
            history
                .checkouts_named(name)?
                .into_iter()
                .map(Recorded::Named),
        );
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| !d.dir().is_empty() && seen.insert(d.dir().to_owned()));
    Ok(dirs)
}

/// A recorded form of the file's checkout.
enum Recorded {
    /// The local checkout, mapped onto it, or where the file's path was written.
    Known(String),
    /// Only named like the local checkout: another project may be named so too
    /// (`app`, `backend`; two Django projects' settings.py are mostly the same lines),
    /// so it counts when the local checkout has about half the files it wrote or more.
    Named(String),
}

impl Recorded {
    fn dir(&self) -> &str {
        match self {
            Recorded::Known(d) | Recorded::Named(d) => d,
        }
    }
}

/// What a change that did not create the file found: its `originalFile`; in older
/// records, a whole-file Read, or an overwrite (which keeps most of what it replaced
/// when it updates a file).
fn found_by(first: &RecordedWrite) -> Option<&str> {
    let c = &first.change;
    match (&c.original, c.tool.as_str()) {
        (Some(original), _) => Some(original.as_str()),
        (None, "Read" | "Write") => c.content.as_deref(),
        _ => None,
    }
    .filter(|found| !found.is_empty())
}

/// How often each non-blank line occurs, whitespace around it left out.
fn line_counts(text: &str) -> std::collections::HashMap<&str, usize> {
    line_counts_of(crate::split_lines(text))
}

fn line_counts_of<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> std::collections::HashMap<&'a str, usize> {
    let mut count = std::collections::HashMap::new();
    for l in lines.map(str::trim).filter(|l| !l.is_empty()) {
        *count.entry(l).or_default() += 1;
    }
    count
}

/// Lines two files have in common over the longer one's; 0 below `MIN_MOVE_LINES`
/// in common.
fn similarity(
    a: &std::collections::HashMap<&str, usize>,
    b: &std::collections::HashMap<&str, usize>,
) -> f64 {
    let common: usize = a
        .iter()
        .map(|(t, n)| (*n).min(b.get(t).copied().unwrap_or(0)))
        .sum();
    let longer = a.values().sum::<usize>().max(b.values().sum::<usize>());
    if common < MIN_MOVE_LINES {
        return 0.0;
    }
    common as f64 / longer.max(1) as f64
}

/// Longest chain of shell moves followed back.
const MAX_RENAMES: usize = 8;

/// Prepends the history a file had under its earlier names (`mv old new`).
fn follow_renames(
    history: &dyn History,
    writes: &mut Vec<RecordedWrite>,
    depth: usize,
) -> Result<()> {
    let moves: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = writes
        .iter()
        .filter_map(|w| w.change.renamed_from.clone().map(|from| (from, w.at)))
        .collect();
    if depth == 0 || moves.is_empty() {
        return Ok(());
    }
    let mut earlier = Vec::new();
    for (from, at) in moves {
        let Some(name) = Path::new(&from).file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // The old path was recorded on the same machine as the move: compare exactly.
        earlier.extend(
            history
                .writes_to_files_named(name)?
                .into_iter()
                .filter(|w| w.path == from || w.change.path == from)
                .filter(|w| w.at <= at),
        );
    }
    follow_renames(history, &mut earlier, depth - 1)?;
    earlier.append(writes);
    earlier.sort_by_key(|w| w.at);
    earlier.dedup_by(|a, b| a.tool_use_id == b.tool_use_id);
    *writes = earlier;
    Ok(())
}

/// Attribution of one file's content.
#[derive(Debug, Clone, Serialize)]
pub struct Blame {
    /// The recorded changes considered, oldest first.
    pub writes: Vec<RecordedWrite>,
    /// For each line of the content, the index in `writes` of the change that wrote
    /// it.
    pub lines: Vec<Option<Origin>>,
    /// Changes whose text could not be located (attribution may miss their lines).
    pub unplaced: Vec<Origin>,
}

/// A run of consecutive lines written by the same change (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Run {
    pub start: usize,
    pub end: usize,
    pub write: Origin,
}

impl Blame {
    pub fn runs(&self) -> Vec<Run> {
        let mut out: Vec<Run> = Vec::new();
        for (i, o) in self.lines.iter().enumerate() {
            let Some(o) = *o else { continue };
            match out.last_mut() {
                Some(r) if r.write == o && r.end == i => r.end = i + 1,
                _ => out.push(Run {
                    start: i + 1,
                    end: i + 1,
                    write: o,
                }),
            }
        }
        out
    }

    pub fn attributed_lines(&self) -> usize {
        self.lines.iter().filter(|l| l.is_some()).count()
    }
}

/// Replays a history; reusable across edits of the same buffer.
pub fn replay_history(writes: &[RecordedWrite]) -> Replay {
    replay_history_with(writes, Options::default())
}

/// [`replay_history`] with options.
pub fn replay_history_with(writes: &[RecordedWrite], options: Options) -> Replay {
    let changes: Vec<&FileChange> = writes.iter().map(|w| &w.change).collect();
    crate::replay_with(&changes, options)
}

/// Least share of a project's written lines still in the content for its history
/// to be taken as this file's, when several projects' histories match the path and
/// none is known to be the file's own.
const MIN_SURVIVAL: f64 = 0.5;
/// The same for a root that is not the file's own checkout when one is known: another
/// checkout, or an unrelated project with a file at the same relative path.
const MIN_SURVIVAL_UNNAMED: f64 = 0.8;
/// Least share of the lines of the file another checkout's first change found that
/// are still in the content, for that checkout to be carrying on the file's history.
const MIN_SHARED: f64 = 0.5;

/// Blames `content` as the content of `file`, whitespace significant (see
/// [`blame_with`]).
pub fn blame(
    history: &dyn History,
    file: &Path,
    root: &Path,
    content: &str,
    mappings: &[PathMapping],
) -> Result<Blame> {
    blame_with(history, file, root, content, mappings, Options::default())
}

/// Blames `content` as the content of `file`.
///
/// When the matching writes come from several project roots (another checkout, a
/// teammate, or an unrelated project with a file at the same relative path), the
/// file's own history comes first: the roots that are its checkout (a write to the
/// same absolute path, or a root named like the local checkout) are replayed
/// together and attribute what they can. A real store holds hundreds of projects with
/// a README.md or src/main.rs at the same relative path, and mixing their Writes into
/// the file's history wipes the true attribution; so other roots count only if at
/// least 80% of the lines they wrote are still in the content, and then only explain
/// the lines the own history leaves unattributed, never take one from it.
///
/// Without a known own root, each root's history is replayed on its own and counts
/// if at least half of the lines it wrote are still in the content (or it is the root
/// that explains the content best); the histories that count are then replayed
/// together, in time order. A root whose first change created the file is judged by
/// what it wrote after that, when it wrote anything: another project's copy of the
/// file has the content's lines from its creation but not its own changes since.
pub fn blame_with(
    history: &dyn History,
    file: &Path,
    root: &Path,
    content: &str,
    mappings: &[PathMapping],
    options: Options,
) -> Result<Blame> {
    let mut writes = history_of(history, file, root, mappings)?;
    let earlier = moved_from(history, file, root, content, &writes, mappings, options)?;
    if !earlier.is_empty() {
        // The file's history is known now: files that only share the end of its path
        // (`vendor/legacy/x.ts` for `src/legacy/x.ts`) are guesses no longer needed.
        if let Some(rel) = file.strip_prefix(root).ok().and_then(Path::to_str) {
            let tail = format!("/{rel}");
            writes.retain(|w| w.path.ends_with(&tail) || w.change.path.ends_with(&tail));
        }
        writes.extend(earlier);
        writes.sort_by_key(|w| w.at);
        writes.dedup_by(|a, b| a.tool_use_id == b.tool_use_id);
    }
    let checkouts = checkouts_of(&writes, file.strip_prefix(root).ok(), mappings);
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, checkout) in checkouts.iter().enumerate() {
        groups.entry(checkout).or_default().push(i);
    }
    if groups.len() <= 1 {
        let replayed = replay_history_with(&writes, options);
        return Ok(Blame {
            lines: replayed.map_onto(content),
            unplaced: replayed.unplaced.clone(),
            writes,
        });
    }
    // A root named like the local checkout is the likeliest to be this project, and
    // one that wrote to the very path of the file is it.
    let local_name = root.file_name().and_then(|n| n.to_str());
    let named = |cwd: &str| {
        local_name.is_some_and(|n| Path::new(cwd).iter().any(|c| c.to_str() == Some(n)))
    };
    let local_abs = file.to_string_lossy();
    let exact = |w: &RecordedWrite| {
        [&w.path, &w.change.path]
            .into_iter()
            .any(|p| map_path(p, mappings) == local_abs)
    };
    let home: Vec<bool> = groups
        .iter()
        .map(|(cwd, members)| named(cwd) || members.iter().any(|&i| exact(&writes[i])))
        .collect();
    let any_own = home.iter().any(|&o| o);
    // Another checkout of the same project (a teammate's, a moved one) carries the
    // file's history on: its first change edited this file, so the file it found
    // shares most of its lines with the content. Another project's file at the same
    // path was created there, or was another file. The first take part in the own
    // history; the others only fill in.
    // The content's lines, and how often each occurs.
    let content_texts: Vec<&str> = crate::split_lines(content).map(str::trim_end).collect();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for t in &content_texts {
        *seen.entry(*t).or_default() += 1;
    }
    let continues = |members: &[usize]| {
        let Some(first) = members.first().map(|&i| &writes[i].change) else {
            return false;
        };
        // What the change found: `originalFile`; without it (older records), the
        // Read before it, the file an overwrite replaced, or the strings an edit
        // replaced.
        let old_strings: String;
        let found = match (&first.original, first.tool.as_str()) {
            (Some(original), _) => original.as_str(),
            (None, "Read") => first.content.as_deref().unwrap_or_default(),
            (None, "Write") if first.created != Some(true) => {
                first.content.as_deref().unwrap_or_default()
            }
            (None, "Edit" | "MultiEdit") => {
                old_strings = first
                    .edits
                    .iter()
                    .map(|e| e.old_string.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                &old_strings
            }
            _ => "",
        };
        let lines: Vec<&str> = crate::split_lines(found)
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        let shared = lines.iter().filter(|l| seen.contains_key(*l)).count();
        !lines.is_empty() && shared as f64 >= MIN_SHARED * lines.len() as f64
    };
    let own: Vec<bool> = groups
        .values()
        .zip(&home)
        .map(|(members, &h)| h || (any_own && continues(members)))
        .collect();
    // Which other roots' histories are this file's too: replay each alone and see how
    // much of what it wrote is still there: all of it, and (see below) what it wrote
    // after creating the file. Blank lines and lines the content holds more than once
    // ("### Fixed", "}") are left out of both counts: any project writes them, and in
    // a CHANGELOG.md or README.md they made unrelated histories look half there.
    let telling = |text: &str| {
        let text = text.trim_end();
        !text.trim_start().is_empty() && seen.get(text).copied().unwrap_or(0) <= 1
    };
    let (strict, whole): (Vec<f64>, Vec<f64>) = groups
        .values()
        .zip(&own)
        .map(|(members, &is_own)| {
            if is_own {
                return (1.0, 1.0);
            }
            let changes: Vec<&FileChange> = members.iter().map(|&i| &writes[i].change).collect();
            let replayed = crate::replay_with(&changes, options);
            let origins = replayed.map_onto(content);
            let claimed_by = |keep: &dyn Fn(Origin) -> bool| {
                origins
                    .iter()
                    .zip(&content_texts)
                    .filter(|(o, t)| o.is_some_and(keep) && telling(t))
                    .count()
            };
            let written_by = |keep: &dyn Fn(Origin) -> bool| {
                replayed.tagged_lines_where(|o, t| keep(o) && telling(t))
            };
            let whole = claimed_by(&|_| true) as f64 / written_by(&|_| true).max(1) as f64;
            // A root that started by creating the file and went on changing it: judged
            // by its changes after the creation. Another project's copy of the file (a
            // fork, a vendored twin) has the content's lines from its creation, yet
            // none of what it did to them since; the file's own history keeps those.
            let created = |o: Origin| changes[o as usize].created == Some(true);
            let later = written_by(&|o| !created(o));
            if later > 0 && changes.first().is_some_and(|c| c.created == Some(true)) {
                let claimed = claimed_by(&|o| !created(o));
                return (claimed as f64 / later as f64, whole);
            }
            (whole, whole)
        })
        .unzip();
    // The file's own history looks the same when a person undid what its agent did
    // after creating the file (reverted it, or deleted and wrote the file again): when
    // no root explains the content by the strict measure, that suspicion of being a
    // copy is dropped, rather than handing the file to whichever unrelated project
    // shares a few generic lines with it.
    let lenient = !any_own && strict.iter().all(|&s| s < MIN_SURVIVAL);
    let survival = if lenient { whole } else { strict };
    let best = survival.iter().copied().fold(0.0_f64, f64::max);
    let counts = |is_own: bool, s: f64| {
        if any_own {
            is_own || s >= MIN_SURVIVAL_UNNAMED
        } else {
            s >= MIN_SURVIVAL || s >= best
        }
    };
    let root_of: std::collections::HashMap<&str, u32> = groups
        .keys()
        .enumerate()
        .map(|(n, cwd)| (*cwd, n as u32))
        .collect();
    // One history per selection, in time order, so changes made from different
    // checkouts build on each other as they did on disk.
    let run = |pick: &dyn Fn(bool, f64) -> bool| -> (Vec<Option<Origin>>, Vec<Origin>) {
        let mut kept: Vec<usize> = groups
            .values()
            .zip(own.iter().zip(&survival))
            .filter(|(_, (&is_own, &s))| pick(is_own, s))
            .flat_map(|(members, _)| members.iter().copied())
            .collect();
        kept.sort_unstable();
        let changes: Vec<&FileChange> = kept.iter().map(|&i| &writes[i].change).collect();
        let roots: Vec<crate::Checkout> = kept
            .iter()
            .map(|&i| {
                let cwd = checkouts[i].as_str();
                crate::Checkout {
                    id: root_of.get(cwd).copied().unwrap_or_default(),
                    // Without a checkout known to be the file's, none is its own: a
                    // creation after another checkout's changes is taken as a copy.
                    local: any_own && own_of(&groups, &home, cwd),
                }
            })
            .collect();
        let replayed = crate::replay_from_roots_with(&changes, &roots, options);
        let to_global = |o: Origin| kept[o as usize] as Origin;
        (
            replayed
                .map_onto(content)
                .into_iter()
                .map(|o| o.map(to_global))
                .collect(),
            replayed.unplaced.iter().map(|&o| to_global(o)).collect(),
        )
    };
    let (mut lines, mut unplaced) = run(&counts);
    if any_own && own.iter().zip(&survival).any(|(&o, &s)| !o && counts(o, s)) {
        // The own history alone decides every line it can; the others only fill in.
        let (own_lines, own_unplaced) = run(&|is_own, _| is_own);
        for (line, mine) in lines.iter_mut().zip(own_lines) {
            if mine.is_some() {
                *line = mine;
            }
        }
        unplaced.retain(|o| !own_unplaced.contains(o));
        unplaced.extend(own_unplaced);
        unplaced.sort_unstable();
        unplaced.dedup();
    }
    Ok(Blame {
        lines,
        unplaced,
        writes,
    })
}

/// The checkout each write was made in: the path it wrote less the file's path in
/// the local checkout (`/w/app` for `/w/app/src/x.rs` when the file is `src/x.rs`),
/// so that a session started in a subdirectory of a checkout is that checkout (taken
/// for another, its re-creation of a deleted file was read as a copy). A write to
/// another path (an earlier name of the file) is in the checkout its session's other
/// writes were in, else in its session's directory.
fn checkouts_of(
    writes: &[RecordedWrite],
    local_rel: Option<&Path>,
    mappings: &[PathMapping],
) -> Vec<String> {
    let rel = local_rel
        .and_then(Path::to_str)
        .filter(|r| !r.is_empty() && !r.starts_with('/'));
    let derived: Vec<Option<String>> = writes
        .iter()
        .map(|w| {
            let rel = rel?;
            [&w.path, &w.change.path].into_iter().find_map(|p| {
                let p = map_path(p, mappings);
                let dir = p.strip_suffix(rel)?.strip_suffix('/')?;
                (!dir.is_empty()).then(|| dir.to_owned())
            })
        })
        .collect();
    let by_session: std::collections::HashMap<&str, &str> = writes
        .iter()
        .zip(&derived)
        .filter_map(|(w, d)| Some((w.cwd.as_deref()?, d.as_deref()?)))
        .collect();
    writes
        .iter()
        .zip(derived.iter())
        .map(|(w, d)| {
            let cwd = w.cwd.as_deref().unwrap_or_default();
            d.clone()
                .or_else(|| by_session.get(cwd).map(|c| (*c).to_owned()))
                .unwrap_or_else(|| cwd.to_owned())
        })
        .collect()
}

/// Whether the root `cwd` is one of the file's own (`own` is in `groups`' order).
fn own_of(groups: &std::collections::BTreeMap<&str, Vec<usize>>, own: &[bool], cwd: &str) -> bool {
    groups
        .keys()
        .position(|k| *k == cwd)
        .and_then(|n| own.get(n).copied())
        .unwrap_or(false)
}
