use super::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn small(seed: u64) -> (tempfile::TempDir, CorpusStats) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = CorpusSpec { target_bytes: 6 << 20, seed, projects: 3 };
    let stats = generate(dir.path(), &spec).expect("generate");
    (dir, stats)
}

fn records(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).expect("read");
    assert!(text.ends_with('\n'), "{} must end with a newline", path.display());
    text.lines().map(|l| serde_json::from_str(l).expect("valid JSON line")).collect()
}

#[test]
fn same_seed_same_bytes() {
    let ((a, sa), (b, sb), (c, _)) = (small(7), small(7), small(8));
    assert_eq!(sa, sb);
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(a.path()).ok(), y.strip_prefix(b.path()).ok());
        assert!(fs::read(x).ok() == fs::read(y).ok(), "{} differs", x.display());
    }
    assert_ne!(files(c.path()).len(), 0);
    assert_ne!(fs::read(&fa[0]).ok(), fs::read(&files(c.path())[0]).ok());
}

#[test]
fn lines_have_required_fields_and_size_is_reached() {
    let (dir, stats) = small(1);
    let all = files(dir.path());
    let (mut bytes, mut lines, mut types) = (0, 0, HashMap::<String, usize>::new());
    for path in &all {
        bytes += fs::metadata(path).expect("metadata").len();
        let sub = path.to_string_lossy().contains("agent-");
        for r in records(path) {
            lines += 1;
            let kind = r["type"].as_str().expect("type").to_owned();
            *types.entry(kind.clone()).or_default() += 1;
            if matches!(kind.as_str(), "user" | "assistant" | "system") {
                for k in [
                    "parentUuid",
                    "isSidechain",
                    "uuid",
                    "timestamp",
                    "sessionId",
                    "cwd",
                    "version",
                    "userType",
                    "gitBranch",
                ] {
                    assert!(r.get(k).is_some(), "{kind} record without {k}: {r}");
                }
                let ts = r["timestamp"].as_str().expect("timestamp");
                assert!(ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
                assert_eq!(r["isSidechain"].as_bool(), Some(sub));
                assert_eq!(r.get("agentId").is_some(), sub);
            }
            if kind == "assistant" {
                let m = &r["message"];
                assert!(m["id"].as_str().expect("id").starts_with("msg_01"));
                assert!(r["requestId"].as_str().expect("requestId").starts_with("req_011C"));
                assert_eq!(m["content"].as_array().map(Vec::len), Some(1));
                assert!(m["usage"]["cache_creation"]["ephemeral_5m_input_tokens"].is_u64());
            }
        }
    }
    assert_eq!((bytes, lines), (stats.bytes, stats.lines));
    assert_eq!(stats.files, all.len());
    assert!(stats.bytes >= 6 << 20 && stats.bytes < 12 << 20, "{}", stats.bytes);
    assert!(stats.sessions >= 4 && stats.subagent_files > 0 && stats.edits > 20, "{stats:?}");
    for t in ["user", "assistant", "file-history-snapshot"] {
        assert!(types.contains_key(t), "no {t} records: {types:?}");
    }
}

#[test]
fn blocks_of_one_response_share_ids() {
    let (dir, _) = small(2);
    let mut multi = 0;
    for path in files(dir.path()) {
        let mut seen: HashMap<String, (String, u64)> = HashMap::new();
        let mut prev: Option<String> = None;
        for r in records(&path).into_iter().filter(|r| r["type"] == "assistant") {
            let id = r["message"]["id"].as_str().expect("id").to_owned();
            let req = r["requestId"].as_str().expect("requestId").to_owned();
            let cache = r["message"]["usage"]["cache_read_input_tokens"].as_u64().expect("usage");
            match seen.get(&id) {
                Some(first) => {
                    assert_eq!(first, &(req, cache), "{id}: request id and usage must be copied");
                    assert_eq!(prev.as_deref(), Some(id.as_str()), "{id}: blocks must be consecutive");
                    multi += 1;
                }
                None => {
                    seen.insert(id.clone(), (req, cache));
                }
            }
            prev = Some(id);
        }
    }
    assert!(multi > 100, "only {multi} continuation blocks");
}

/// Every structuredPatch re-applies to its originalFile and gives the edited
/// text, and each file version is the one the previous change left.
#[test]
fn patches_reapply_and_files_evolve() {
    let (dir, _) = small(3);
    let (mut checked, mut chained) = (0, 0);
    for path in files(dir.path()) {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let mut current: HashMap<String, String> = HashMap::new();
        for r in records(&path) {
            let t = &r["toolUseResult"];
            let Some(patch) = t.get("structuredPatch") else {
                if let (Some(f), true) = (t.get("file"), r["sessionId"] == stem.as_str()) {
                    let p = f["filePath"].as_str().expect("filePath");
                    if let (Some(known), Some(1)) = (current.get(p), f["startLine"].as_u64()) {
                        if f["numLines"] == f["totalLines"] {
                            assert_eq!(known, f["content"].as_str().expect("content"), "{p}");
                        }
                    }
                }
                continue;
            };
            let hunks: Vec<Hunk> = serde_json::from_value(patch.clone()).expect("hunks");
            let p = t["filePath"].as_str().expect("filePath").to_owned();
            let original = t.get("originalFile").or(t.get("originalFileContents")).and_then(Value::as_str);
            let Some(original) = original else {
                assert_eq!(t["type"], "create");
                current.insert(p, t["content"].as_str().expect("content").to_owned());
                continue;
            };
            let expected = if let Some(edits) = t["edits"].as_array() {
                edits.iter().fold(original.to_owned(), |s, e| {
                    let (o, n) = (e["old_string"].as_str().expect("old"), e["new_string"].as_str().expect("new"));
                    assert_eq!(s.matches(o).count(), 1, "old_string must match once");
                    s.replacen(o, n, 1)
                })
            } else if let Some(old) = t["oldString"].as_str() {
                assert_eq!(original.matches(old).count(), 1, "oldString must occur once in originalFile");
                original.replacen(old, t["newString"].as_str().expect("newString"), 1)
            } else {
                t["content"].as_str().expect("content").to_owned()
            };
            assert_eq!(apply_patch(original, &hunks).as_deref(), Some(expected.as_str()), "{p}");
            assert!(hunks.iter().all(|h| h.lines.iter().any(|l| !l.starts_with(' '))));
            checked += 1;
            if r["sessionId"] == stem.as_str() {
                if let Some(prev) = current.get(&p) {
                    assert_eq!(prev, original, "{p} changed between edits");
                    chained += 1;
                }
                current.insert(p, expected);
            }
        }
    }
    assert!(checked > 50 && chained > 10, "checked {checked}, chained {chained}");
}

#[test]
fn hunks_follow_jsdiff_layout() {
    let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\no\np\n";
    let ls = patch::lines(old);
    let ins = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    let changes = [
        patch::Change { at: 1, del: 2, ins: ins(&["b", "X"]) },
        patch::Change { at: 5, del: 1, ins: ins(&[]) },
        patch::Change { at: 13, del: 1, ins: ins(&["M", "M2"]) },
    ];
    let (new, hunks) = patch::edit(&ls, &changes);
    assert_eq!(new, "a\nb\nX\nd\ne\ng\nh\ni\nj\nk\nl\nm\nM\nM2\no\np\n");
    // Changes at most 6 lines apart share a hunk; the unchanged 'b' becomes context.
    assert_eq!((hunks[0].old_start, hunks[0].old_lines, hunks[0].new_start, hunks[0].new_lines), (1, 9, 1, 8));
    assert_eq!(hunks[0].lines[..3], [" a", " b", "-c"]);
    assert_eq!((hunks[1].old_start, hunks[1].old_lines, hunks[1].new_start, hunks[1].new_lines), (11, 6, 10, 7));
    assert_eq!(apply_patch(old, &hunks).as_deref(), Some(new.as_str()));
}

#[test]
fn continuation_is_a_prompt_and_reply() {
    let (bytes, marker) = continuation_lines("s-1", "/home/dev/x", Some("p-0"), 9);
    assert_eq!(continuation_lines("s-1", "/home/dev/x", Some("p-0"), 9).1, marker);
    let text = String::from_utf8(bytes).expect("utf8");
    let recs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert!(text.ends_with('\n') && recs.len() >= 2);
    assert_eq!(recs[0]["parentUuid"], "p-0");
    assert_eq!(recs[0]["sessionId"], "s-1");
    assert!(recs[0]["message"]["content"].as_str().expect("prompt").contains(&marker));
    assert!(recs[1..].iter().all(|r| r["type"] == "assistant"));
    for w in recs.windows(2) {
        assert_eq!(w[1]["parentUuid"], w[0]["uuid"]);
    }
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("200MB"), Some(200 << 20));
    assert_eq!(parse_size("1GB"), Some(1 << 30));
    assert_eq!(parse_size("1.5gib"), Some(3 << 29));
    assert_eq!(parse_size("4096"), Some(4096));
    assert_eq!(parse_size("12 parsecs"), None);
}
