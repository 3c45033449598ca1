//! Reading files from the platform's disk for attribution, which a client with a read
//! key could otherwise turn into a probe of the host (`/etc/shadow`, a FIFO that
//! hangs a worker, `/dev/zero`).
//!
//! Only regular files under a configured workspace root are read, and only up to a
//! size limit. A path outside every root is refused before the file system is
//! touched, so the answer says nothing about what exists there.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use axum::http::StatusCode;

use crate::error::ApiError;

/// Largest file read from disk: the same as the largest buffer a client may post.
pub const MAX_FILE: u64 = crate::MAX_BODY as u64;

/// The workspace roots files may be read under: each as configured (clients may
/// name files through a symbolic link in it) and as resolved at start.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceRoots(Vec<(PathBuf, PathBuf)>);

impl WorkspaceRoots {
    /// Roots that do not exist are dropped with a warning: nothing can be read there.
    pub fn new(roots: &[PathBuf]) -> Self {
        Self(
            roots
                .iter()
                .filter_map(|r| match std::fs::canonicalize(r) {
                    Ok(c) if r.is_absolute() => Some((r.clone(), c)),
                    Ok(_) => {
                        tracing::warn!(root = %r.display(), "workspace root ignored: not absolute");
                        None
                    }
                    Err(e) => {
                        tracing::warn!(root = %r.display(), error = %e, "workspace root ignored");
                        None
                    }
                })
                .collect(),
        )
    }

    /// Whether `path` names something under a root, as given or as resolved.
    fn names_inside(&self, path: &Path) -> bool {
        self.0
            .iter()
            .any(|(given, real)| path.starts_with(given) || path.starts_with(real))
    }

    fn really_inside(&self, path: &Path) -> bool {
        self.0.iter().any(|(_, real)| path.starts_with(real))
    }

    /// The file's text (invalid UTF-8 replaced, as an editor shows it).
    pub fn read(&self, path: &str) -> Result<String, ApiError> {
        if self.0.is_empty() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this platform reads no files from disk: POST /api/v1/files/blame with the \
                 content, or list the directory in the platform's `workspace_roots`",
            ));
        }
        let given = Path::new(path);
        // `..` would make the prefix check below meaningless.
        if !given.is_absolute()
            || given
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("path must be absolute, without `.` or `..` components, not {path:?}"),
            ));
        }
        let outside = || {
            ApiError::new(
                StatusCode::FORBIDDEN,
                format!("{path} is not under a workspace root of this platform"),
            )
        };
        if !self.names_inside(given) {
            return Err(outside());
        }
        let not_found = |e: std::io::Error| {
            ApiError::new(StatusCode::NOT_FOUND, format!("cannot read {path}: {e}"))
        };
        // A symbolic link inside a root may point anywhere: check where it leads.
        let real = std::fs::canonicalize(given).map_err(not_found)?;
        // Kernel interfaces look like regular files but are not file content.
        let virtual_fs = ["/proc", "/sys", "/dev"]
            .iter()
            .any(|v| real.starts_with(v));
        if !self.really_inside(&real) || virtual_fs {
            return Err(outside());
        }
        let file = open_nonblocking(&real).map_err(not_found)?;
        // The type and size come from the open file, not the path, so a file swapped
        // after the checks above is still caught.
        let meta = file.metadata().map_err(not_found)?;
        if !meta.is_file() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{path} is not a regular file"),
            ));
        }
        if meta.len() > MAX_FILE {
            return Err(too_large(path, meta.len()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(not_found)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(too_large(path, bytes.len() as u64));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn too_large(path: &str, len: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("{path} is {len} bytes; files over {MAX_FILE} bytes are not attributed"),
    )
}

/// Opening a FIFO for reading blocks until a writer comes; non-blocking, it does not.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: Result<String, ApiError>) -> u16 {
        r.map_or_else(|e| e.status.as_u16(), |_| 200)
    }

    #[test]
    fn only_regular_files_under_a_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("ws");
        std::fs::create_dir_all(&root).expect("mkdir");
        let file = root.join("a.rs");
        std::fs::write(&file, "fn a() {}\n").expect("write");
        let roots = WorkspaceRoots::new(std::slice::from_ref(&root));
        let real_root = std::fs::canonicalize(&root).expect("canonical");
        let inside = real_root.join("a.rs");
        assert_eq!(
            roots.read(&inside.display().to_string()).ok().as_deref(),
            Some("fn a() {}\n")
        );
        assert_eq!(status(roots.read("/etc/passwd")), 403);
        let dotdot = format!("{}/../../etc/passwd", real_root.display());
        assert_eq!(status(roots.read(&dotdot)), 422);
        // A link inside the root to a file outside it.
        let link = real_root.join("passwd");
        std::os::unix::fs::symlink("/etc/passwd", &link).expect("symlink");
        assert_eq!(status(roots.read(&link.display().to_string())), 403);
        // A FIFO would hang a blocking open; it is refused at once.
        let fifo = real_root.join("fifo");
        let c = std::ffi::CString::new(fifo.display().to_string()).expect("cstr");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(status(roots.read(&fifo.display().to_string())), 422);
        assert_eq!(status(roots.read(&real_root.display().to_string())), 422);
        assert_eq!(
            status(roots.read(&real_root.join("missing").display().to_string())),
            404
        );
        let big = real_root.join("big");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(MAX_FILE + 1).expect("grow");
        assert_eq!(status(roots.read(&big.display().to_string())), 413);
        assert_eq!(
            status(WorkspaceRoots::default().read(&inside.display().to_string())),
            403
        );
    }
}
