#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared, read-only fixture transcripts.
pub fn fixtures() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.join("../../../shared/fixtures/transcripts")
}

pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Copies fixture files into a fresh Claude config directory laid out the real way,
/// `projects/<project>/<file>`, so tests can change them.
pub fn config_dir_with(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("projects/-fixture");
    std::fs::create_dir_all(&proj).expect("mkdir");
    for f in files {
        let src = fixture(f);
        let name = src.file_name().expect("file name");
        std::fs::copy(&src, proj.join(name)).expect("copy fixture");
    }
    dir
}
