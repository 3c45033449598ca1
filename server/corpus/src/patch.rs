//! Line-based edits of the virtual file system and the `structuredPatch` hunks
//! Claude Code records for them (jsdiff conventions: 1-based starts, 3 lines of
//! context, nearby changes merged into one hunk).

use serde::{Deserialize, Serialize};

const CONTEXT: usize = 3;

/// Replace `del` lines starting at line index `at` (0-based) with `ins`.
#[derive(Clone, Debug)]
pub struct Change {
    pub at: usize,
    pub del: usize,
    pub ins: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Hunk {
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
    pub lines: Vec<String>,
}

/// Lines of a newline-terminated file, without the empty string after the last '\n'.
pub fn lines(s: &str) -> Vec<&str> {
    s.split_terminator('\n').collect()
}

/// Shrinks a change to the lines that really differ, so unchanged leading and
/// trailing lines become context as in a real diff.
fn trim(old: &[&str], c: &Change) -> Change {
    let region = &old[c.at..c.at + c.del];
    let max = c.del.min(c.ins.len());
    let p = (0..max).take_while(|&i| region[i] == c.ins[i]).count();
    let s = (0..max - p).take_while(|&i| region[c.del - 1 - i] == c.ins[c.ins.len() - 1 - i]).count();
    Change { at: c.at + p, del: c.del - p - s, ins: c.ins[p..c.ins.len() - s].to_vec() }
}

/// Applies sorted, disjoint `changes` to `old`, returning the new text and its hunks.
pub fn edit(old: &[&str], changes: &[Change]) -> (String, Vec<Hunk>) {
    let changes: Vec<Change> =
        changes.iter().map(|c| trim(old, c)).filter(|c| c.del > 0 || !c.ins.is_empty()).collect();
    let mut text = String::new();
    let mut pos = 0;
    for c in &changes {
        for l in old[pos..c.at].iter().copied().chain(c.ins.iter().map(String::as_str)) {
            text.push_str(l);
            text.push('\n');
        }
        pos = c.at + c.del;
    }
    for l in &old[pos..] {
        text.push_str(l);
        text.push('\n');
    }

    let mut hunks = Vec::new();
    // (hunk, 0-based old start, end of last change in old) for the hunk being built.
    let mut cur: Option<(Hunk, usize, usize)> = None;
    let mut delta: isize = 0;
    let ctx = |l: &str| format!(" {l}");
    for c in &changes {
        match cur.as_mut() {
            Some((h, _, end)) if c.at <= *end + 2 * CONTEXT => {
                h.lines.extend(old[*end..c.at].iter().map(|l| ctx(l)));
            }
            _ => {
                if let Some(done) = cur.take() {
                    hunks.push(close(old, done));
                }
                let start = c.at.saturating_sub(CONTEXT);
                let new_start = (start as isize + delta) as usize;
                let lines = old[start..c.at].iter().map(|l| ctx(l)).collect();
                let h = Hunk { old_start: start, old_lines: 0, new_start, new_lines: 0, lines };
                cur = Some((h, start, c.at));
            }
        }
        if let Some((h, _, end)) = cur.as_mut() {
            h.lines.extend(old[c.at..c.at + c.del].iter().map(|l| format!("-{l}")));
            h.lines.extend(c.ins.iter().map(|l| format!("+{l}")));
            *end = c.at + c.del;
        }
        delta += c.ins.len() as isize - c.del as isize;
    }
    if let Some(done) = cur {
        hunks.push(close(old, done));
    }
    (text, hunks)
}

fn close(old: &[&str], (mut h, _, end): (Hunk, usize, usize)) -> Hunk {
    let tail = (end + CONTEXT).min(old.len());
    h.lines.extend(old[end..tail].iter().map(|l| format!(" {l}")));
    h.old_lines = h.lines.iter().filter(|l| !l.starts_with('+')).count();
    h.new_lines = h.lines.iter().filter(|l| !l.starts_with('-')).count();
    h.old_start += 1;
    h.new_start += 1;
    h
}

/// Re-applies `hunks` to `original`, checking every context and removed line and
/// every start and count; `None` if the patch does not fit. Indexers can use it
/// to reconstruct file versions from a transcript.
pub fn apply(original: &str, hunks: &[Hunk]) -> Option<String> {
    let old = lines(original);
    let mut out: Vec<&str> = Vec::with_capacity(old.len());
    let mut i = 0;
    for h in hunks {
        let start = h.old_start.checked_sub(1)?;
        if start < i || start > old.len() {
            return None;
        }
        out.extend(&old[i..start]);
        i = start;
        if out.len() + 1 != h.new_start {
            return None;
        }
        let (o0, n0) = (i, out.len());
        for l in &h.lines {
            let body = l.get(1..)?;
            match l.as_bytes()[0] {
                b' ' | b'-' if old.get(i) != Some(&body) => return None,
                b' ' => {
                    out.push(body);
                    i += 1;
                }
                b'-' => i += 1,
                b'+' => out.push(body),
                _ => return None,
            }
        }
        if i - o0 != h.old_lines || out.len() - n0 != h.new_lines {
            return None;
        }
    }
    out.extend(&old[i..]);
    let mut s = out.join("\n");
    s.push('\n');
    Some(s)
}
