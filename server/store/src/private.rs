//! Observatory's data holds every conversation: it is the user's alone. New data
//! directories are made 0700 and the database 0600 (SQLite gives its `-wal` and
//! `-shm` files the database's mode).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::{io_err, Result};

/// Creates `dir` (and missing parents) readable by the user alone. An existing
/// directory is left as it is, unless it is Observatory's default data directory
/// (made by an earlier version with the default mode); others are only warned
/// about, since `--data-dir` may name a directory shared with other things.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
        return Ok(());
    }
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    if meta.mode() & 0o077 == 0 {
        return Ok(());
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let ours = meta.uid() == unsafe { libc::getuid() };
    if ours && crate::default_data_dir().is_some_and(|d| d == dir) {
        let mode = meta.mode() & 0o700;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(dir))?;
    } else {
        tracing::warn!(
            dir = %dir.display(),
            "the data directory is open to other users; `chmod 700` it to keep conversations private"
        );
    }
    Ok(())
}

/// Makes `file` readable and writable by the user alone, creating it empty if it
/// does not exist (so that it is never, even briefly, open to others).
///
/// An existing file is never opened: closing any descriptor of a file drops every
/// POSIX lock the process holds on it, including those of SQLite connections open
/// on the database in this process (the platform's pool opens connections while
/// others are open). Without their locks, another process closing its connection
/// believes it is the last one, checkpoints and deletes the WAL, and the two
/// processes go on writing to different copies.
pub fn ensure_private_file(file: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let meta = match std::fs::metadata(file) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(file)
                .map_err(io_err(file))?;
            std::fs::metadata(file).map_err(io_err(file))?
        }
        Err(e) => return Err(io_err(file)(e)),
    };
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(file))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").mode() & 0o777
    }

    #[test]
    fn new_data_is_the_users_alone() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("observatory.db");
        std::fs::write(&db, "").expect("write");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        ensure_private_file(&db).expect("file");
        assert_eq!(mode(&db), 0o600);
        // A directory given by the user that others can read is not changed.
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        ensure_private_dir(&shared).expect("existing dir");
        assert_eq!(mode(&shared), 0o755);
    }
}
