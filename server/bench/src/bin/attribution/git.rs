//! The simulator's truth against real `git blame`: each scenario's history is
//! committed to a git repository, change by change (each agent call a commit of its
//! own, each person's change one by "person"), and `git blame` of the final file is
//! compared line by line with the truth the simulator keeps, and with what the
//! engine answers. The truth is meant to follow git blame's rules; this says how
//! closely it does, and how the engine scores if git itself is the judge.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::accuracy::{self, pct, Tally};
use crate::scenario::{self, Scenario};

/// Runs `git` in `dir`; its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .with_context(|| format!("running git {args:?} (is git installed?)"))?;
    if !out.status.success() {
        bail!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Commits `s.history` into a new repository in `dir`, one commit per change, and
/// each of the person's moves of the file (`git mv`) as a commit of its own.
fn commit_history(s: &Scenario, dir: &Path) -> Result<()> {
    git(dir, &["init", "-q"])?;
    let mut rel = s
        .renames
        .first()
        .map_or(s.rel.clone(), |(_, from, _)| from.clone());
    let mut commits = 0;
    let mut commit = |author: Option<u32>| -> Result<()> {
        let who = match author {
            Some(call) => format!("call-{call} <call-{call}@sim>"),
            None => "person <person@sim>".to_owned(),
        };
        // Author dates in the order of the changes, a second apart.
        let date = format!("{} +0000", 1_700_000_000 + commits);
        commits += 1;
        git(dir, &["add", "-A"])?;
        git(
            dir,
            &[
                "-c",
                "user.name=sim",
                "-c",
                "user.email=sim@sim",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "change",
                &format!("--author={who}"),
                &format!("--date={date}"),
            ],
        )?;
        Ok(())
    };
    for n in 0..=s.history.len() {
        for (_, _, to) in s.renames.iter().filter(|(at, _, _)| *at == n) {
            if let Some(parent) = dir.join(to).parent() {
                std::fs::create_dir_all(parent)?;
            }
            if dir.join(&rel).exists() {
                git(dir, &["mv", &rel, to])?;
                commit(None)?;
            }
            rel = to.clone();
        }
        let Some((state, author)) = s.history.get(n) else {
            break;
        };
        let file = dir.join(&rel);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match state {
            Some(lines) => {
                let mut text = lines.join("\n");
                text.push('\n');
                std::fs::write(&file, text)?;
            }
            None => std::fs::remove_file(&file)?,
        }
        commit(*author)?;
    }
    Ok(())
}

/// `git blame -M` of `rel` in `dir` (moved lines keep their author, as in the truth's
/// rules): for each line, the call that wrote it (`None`: a person). With
/// `ignore_whitespace`, also `-w`.
fn git_blame(dir: &Path, rel: &str, ignore_whitespace: bool) -> Result<Vec<Option<u32>>> {
    let mut args = vec!["blame", "--line-porcelain", "-M"];
    if ignore_whitespace {
        args.push("-w");
    }
    args.extend(["--", rel]);
    let out = git(dir, &args)?;
    Ok(out
        .lines()
        .filter_map(|l| l.strip_prefix("author "))
        .map(|a| a.strip_prefix("call-").and_then(|c| c.parse().ok()))
        .collect())
}

/// Compares the truth with `git blame` on `n` scenarios of `seed`, and scores the
/// engine (each scenario in its own store) against git's answer.
pub fn check(seed: u64, n: usize) -> Result<()> {
    let mut lines = 0;
    let mut differ = 0;
    let mut differ_ws = 0;
    let mut scenarios_differing = 0;
    let mut causes: BTreeMap<String, usize> = BTreeMap::new();
    let mut engine_vs_git = Tally::default();
    let mut engine_vs_truth = Tally::default();
    for index in 0..n {
        let s = scenario::generate(seed, index)?;
        let repo = tempfile::tempdir()?;
        commit_history(&s, repo.path())?;
        let blamed = git_blame(repo.path(), &s.rel, false)?;
        let blamed_ws = git_blame(repo.path(), &s.rel, true)?;
        let truth = s.truth();
        if blamed.len() != truth.len() {
            bail!(
                "scenario {index}: git blame gave {} lines for {}",
                blamed.len(),
                truth.len()
            );
        }
        lines += truth.len();
        let mut any = false;
        for (i, (git, want)) in blamed.iter().zip(&truth).enumerate() {
            if git != want {
                differ += 1;
                any = true;
                let l = &s.lines[i];
                let blank = if l.text.trim().is_empty() {
                    "blank line "
                } else {
                    ""
                };
                let who = |c: &Option<u32>| match c {
                    Some(_) => "a call",
                    None => "a person",
                };
                let moved = if l.moved { ", moved" } else { "" };
                // The truth ignores trailing blanks a person added (the engine's rule);
                // git does not.
                let trailing = if l.text.trim_end() != l.text {
                    ", trailing blanks"
                } else {
                    ""
                };
                let cause = format!(
                    "{blank}{}{moved}{trailing}: git says {}, truth {}",
                    l.how,
                    who(git),
                    who(want)
                );
                *causes.entry(cause).or_default() += 1;
            }
        }
        differ_ws += blamed_ws
            .iter()
            .zip(s.truth_ws())
            .filter(|(g, w)| **g != *w)
            .count();
        scenarios_differing += usize::from(any);
        let b = accuracy::blame_alone(&s)?;
        engine_vs_git.add(&accuracy::tally_against(&s, &b, &blamed));
        engine_vs_truth.add(&accuracy::tally_against(&s, &b, &truth));
        if (index + 1) % 100 == 0 {
            eprintln!("git check: {} scenarios…", index + 1);
        }
    }
    println!("## The simulator's truth against `git blame` (seed {seed}, {n} scenarios)\n");
    println!(
        "`{}`, `git blame -M` (a block moved within the file keeps its author, as the \
         truth's rules say); every change committed, each agent call by an author of \
         its own.\n",
        git(Path::new("."), &["--version"])?.trim()
    );
    println!("| | lines | differ from git blame | scenarios with a difference |");
    println!("|---|---:|---:|---:|");
    println!(
        "| truth (`git blame` rules) | {lines} | {differ} ({}) | {scenarios_differing} |",
        pct(differ as f64 / lines.max(1) as f64)
    );
    println!(
        "| truth ignoring whitespace (`git blame -w`) | {lines} | {differ_ws} ({}) | |",
        pct(differ_ws as f64 / lines.max(1) as f64)
    );
    if !causes.is_empty() {
        println!("\n| where the truth differs from git | lines |\n|---|---:|");
        let mut by: Vec<_> = causes.into_iter().collect();
        by.sort_by_key(|c| std::cmp::Reverse(c.1));
        for (cause, count) in by.into_iter().take(12) {
            println!("| {cause} | {count} |");
        }
    }
    println!("\n| engine (each scenario alone) judged by | precision | recall |\n|---|---:|---:|");
    for (name, t) in [
        ("the truth", &engine_vs_truth),
        ("git blame", &engine_vs_git),
    ] {
        println!("| {name} | {} | {} |", pct(t.precision()), pct(t.recall()));
    }
    Ok(())
}
