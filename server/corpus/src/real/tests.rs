use super::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/transcripts")
}

/// `copies` copies of the fixtures in a temporary directory.
fn copies(copies: u64) -> (tempfile::TempDir, Replicator) {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Replicator::new(&fixtures(), 7).expect("fixtures");
    let mut stats = CorpusStats::default();
    for k in 0..copies {
        r.write_copy(dir.path(), k, &mut stats).expect("write copy");
    }
    (dir, r)
}

/// (original, copy) bytes of every fixture file in copy `k`.
fn pairs(dir: &Path, r: &Replicator, k: u64) -> Vec<(PathBuf, Vec<u8>, Vec<u8>)> {
    r.fixture_paths()
        .map(|rel| {
            let orig = fs::read(fixtures().join(rel)).expect("fixture");
            let copy = fs::read(dir.join(r.copy_path(k, rel).expect("copy path"))).expect("copy");
            (rel.to_path_buf(), orig, copy)
        })
        .collect()
}

/// Splits bytes into alternating runs of id characters and of everything else.
fn tokens(b: &[u8]) -> Vec<&[u8]> {
    let tok = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-';
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=b.len() {
        if i == b.len() || tok(&b[i]) != tok(&b[start]) {
            out.push(&b[start..i]);
            start = i;
        }
    }
    out
}

/// Every JSON record of a file that parses (the fixtures include broken lines).
fn records(b: &[u8]) -> Vec<Value> {
    b.split(|c| *c == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect()
}

/// The ids a record carries in its id fields.
fn ids_of(r: &Value, out: &mut HashSet<String>) {
    for k in ["uuid", "sessionId", "requestId", "agentId", "leafUuid", "logicalParentUuid", "messageId"] {
        if let Some(s) = r[k].as_str() {
            out.insert(s.to_owned());
        }
    }
    if let Some(s) = r["message"]["id"].as_str() {
        out.insert(s.to_owned());
    }
    if let Some(blocks) = r["message"]["content"].as_array() {
        for b in blocks {
            for k in ["id", "tool_use_id"] {
                if let Some(s) = b[k].as_str() {
                    out.insert(s.to_owned());
                }
            }
        }
    }
}

fn all_ids(files: impl Iterator<Item = Vec<u8>>) -> HashSet<String> {
    let mut ids = HashSet::new();
    for f in files {
        for r in records(&f) {
            ids_of(&r, &mut ids);
        }
    }
    ids
}

#[test]
fn a_copy_differs_from_its_fixture_only_in_ids_and_maps_back_to_it() {
    let (dir, r) = copies(2);
    for k in 0..2 {
        let files = pairs(dir.path(), &r, k);
        // One mapping per copy, both ways: the same id always becomes the same fresh
        // one, and no two ids become the same.
        let (mut to_fresh, mut to_orig) = (HashMap::new(), HashMap::new());
        let mut changed = 0;
        for (rel, orig, copy) in &files {
            let (a, b) = (tokens(orig), tokens(copy));
            assert_eq!(a.len(), b.len(), "{} copy {k}", rel.display());
            assert_eq!(orig.iter().filter(|c| **c == b'\n').count(), copy.iter().filter(|c| **c == b'\n').count());
            for (x, y) in a.iter().zip(&b) {
                if x != y {
                    changed += 1;
                    assert_eq!(*to_fresh.entry(*x).or_insert(*y), *y, "{} maps two ways", String::from_utf8_lossy(x));
                    assert_eq!(
                        *to_orig.entry(*y).or_insert(*x),
                        *x,
                        "{} stands for two ids",
                        String::from_utf8_lossy(y)
                    );
                } else {
                    assert!(!is_uuid(x), "uuid {} kept in {}", String::from_utf8_lossy(x), rel.display());
                }
            }
            // Replacing the fresh ids by the originals gives the fixture's bytes.
            let back: Vec<u8> = b.iter().flat_map(|t| to_orig.get(t).copied().unwrap_or(t).iter().copied()).collect();
            assert!(back == *orig, "{} copy {k} does not map back", rel.display());
        }
        assert!(changed > 1000, "only {changed} ids replaced");
    }
}

#[test]
fn references_resolve_inside_each_copy_as_in_the_fixtures() {
    // How many parentUuid / tool_use_id references find their target among the
    // records of the same set of files.
    fn resolved(files: Vec<Vec<u8>>) -> (usize, usize) {
        let recs: Vec<Value> = files.iter().flat_map(|f| records(f)).collect();
        let uuids: HashSet<&str> = recs.iter().filter_map(|r| r["uuid"].as_str()).collect();
        let uses: HashSet<&str> = recs
            .iter()
            .filter_map(|r| r["message"]["content"].as_array())
            .flatten()
            .filter(|b| b["type"] == "tool_use")
            .filter_map(|b| b["id"].as_str())
            .collect();
        let parents = recs.iter().filter_map(|r| r["parentUuid"].as_str()).filter(|p| uuids.contains(p)).count();
        let results = recs
            .iter()
            .filter_map(|r| r["message"]["content"].as_array())
            .flatten()
            .filter_map(|b| b["tool_use_id"].as_str())
            .filter(|t| uses.contains(t))
            .count();
        (parents, results)
    }
    let (dir, r) = copies(2);
    let orig = resolved(pairs(dir.path(), &r, 0).into_iter().map(|p| p.1).collect());
    assert!(orig.0 > 500 && orig.1 > 100, "{orig:?}");
    for k in 0..2 {
        assert_eq!(resolved(pairs(dir.path(), &r, k).into_iter().map(|p| p.2).collect()), orig, "copy {k}");
    }
}

#[test]
fn copies_share_no_ids_with_each_other_or_the_fixtures() {
    let (dir, r) = copies(2);
    let orig = all_ids(pairs(dir.path(), &r, 0).into_iter().map(|p| p.1));
    let c0 = all_ids(pairs(dir.path(), &r, 0).into_iter().map(|p| p.2));
    let c1 = all_ids(pairs(dir.path(), &r, 1).into_iter().map(|p| p.2));
    assert!(orig.len() > 1000, "{} ids", orig.len());
    let kept: Vec<_> = c0.intersection(&orig).collect();
    assert!(kept.is_empty(), "ids kept: {kept:?}");
    assert_eq!(c0.len(), orig.len());
    assert_eq!(c1.len(), orig.len());
    assert_eq!(c0.intersection(&c1).count(), 0);
    assert_eq!(c0.intersection(&orig).count(), 0);
    assert_eq!(c1.intersection(&orig).count(), 0);
}

#[test]
fn subagent_files_keep_their_place_beside_their_session() {
    let (dir, r) = copies(2);
    let rels: Vec<PathBuf> = r.fixture_paths().map(Path::to_path_buf).collect();
    let mut nested = 0;
    for k in 0..2 {
        let path = |rel: &Path| r.copy_path(k, rel).expect("copy path");
        for a in &rels {
            // Files that share a folder in the fixtures share one in the copy, and
            // files in different folders do not.
            for b in &rels {
                assert_eq!(a.parent() == b.parent(), path(a).parent() == path(b).parent(), "{a:?} {b:?}");
            }
            let p = path(a);
            assert!(p.starts_with("projects"));
            if a.iter().any(|c| c == "subagents") {
                nested += 1;
                // <session>/subagents/agent-<id>.jsonl, the session directory named
                // after the fresh session id its records carry.
                let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_owned).unwrap_or_default();
                let session_dir = p.parent().and_then(Path::parent).expect("session dir");
                assert_eq!(name(p.parent().expect("subagents")), "subagents");
                assert!(name(&p).starts_with("agent-"));
                let orig_session = a.parent().and_then(Path::parent).expect("fixture session dir");
                assert_eq!(name(session_dir), String::from_utf8_lossy(&fresh(7, k, name(orig_session).as_bytes())));
                let recs = records(&fs::read(dir.path().join(&p)).expect("copy"));
                assert!(recs.iter().all(|r| r["sessionId"].as_str() == Some(name(session_dir).as_str())));
                assert_ne!(name(session_dir), name(orig_session));
            }
            if name_of(a).starts_with("agent-") {
                assert!(name_of(&p).starts_with("agent-"));
                assert_ne!(name_of(&p), name_of(a), "agent file {a:?} keeps its id");
            }
        }
    }
    assert!(nested > 0);
}

fn name_of(p: &Path) -> String {
    p.file_name().and_then(|n| n.to_str()).map(str::to_owned).unwrap_or_default()
}

#[test]
fn the_store_indexes_n_copies_to_n_times_the_fixtures_messages() {
    let fixtures_only = {
        let mut store = observatory_store::Store::open_in_memory().expect("store");
        store.index_roots(&[fixtures()], &mut |_| {}).expect("index fixtures").new_messages
    };
    assert!(fixtures_only > 500, "{fixtures_only}");
    let (dir, _r) = copies(3);
    let mut store = observatory_store::Store::open_in_memory().expect("store");
    let report = store.index_roots(&[dir.path().to_path_buf()], &mut |_| {}).expect("index copies");
    assert_eq!(report.new_messages, 3 * fixtures_only);
}

#[test]
fn replicate_reaches_the_size_deterministically() {
    let r = Replicator::new(&fixtures(), 7).expect("fixtures");
    let spec = RealSpec { fixtures: fixtures(), target_bytes: r.fixture_bytes() * 5 / 2, seed: 7 };
    let (a, b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let (sa, sb) = (replicate(a.path(), &spec).expect("replicate"), replicate(b.path(), &spec).expect("replicate"));
    assert_eq!(sa, sb);
    let n = r.fixture_paths().count();
    assert_eq!(sa.files, 3 * n);
    assert!(sa.bytes >= spec.target_bytes);
    for rel in r.fixture_paths() {
        let p = r.copy_path(2, rel).expect("copy path");
        assert!(fs::read(a.path().join(&p)).ok() == fs::read(b.path().join(&p)).ok(), "{p:?} differs");
    }
    // Another seed, other ids.
    let other = Replicator::new(&fixtures(), 8).expect("fixtures");
    let rel = r.fixture_paths().find(|p| is_uuid(p.file_stem().map(|s| s.as_encoded_bytes()).unwrap_or_default()));
    let rel = rel.expect("a session named by its uuid");
    assert_ne!(r.copy_path(0, rel), other.copy_path(0, rel));
}
