//! How clients on this machine find the running platform: `serve.json` in the data
//! directory names its address while it runs, and `serve.lock` (an advisory lock
//! held for the platform's lifetime) keeps a second one from starting, so that many
//! editors share one indexer.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use observatory_protocol::discovery::Running;
use observatory_protocol::discovery::{SERVE_JSON, SERVE_LOCK};

pub fn discovery_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SERVE_JSON)
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SERVE_LOCK)
}

/// The platform that published itself in `data_dir`, if its file is there and
/// readable. The process may have died since: callers check that it answers.
pub fn discover(data_dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(discovery_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes the data directory's platform lock, or says who holds it.
pub(crate) fn lock(data_dir: &Path) -> anyhow::Result<File> {
    let path = lock_path(data_dir);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let at = discover(data_dir).map_or_else(|| "starting up".to_owned(), |r| r.url);
            bail!(
                "another `observatory serve` is already running for {} ({at})",
                data_dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Removes `serve.json` when the platform stops.
pub(crate) struct Published {
    path: PathBuf,
}

impl Published {
    pub(crate) fn withdraw(self) {}
}

impl Drop for Published {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `serve.json` atomically (a reader never sees half of it).
pub(crate) fn publish(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<Published> {
    let running = Running {
        url: format!("http://{addr}"),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let path = discovery_path(data_dir);
    let tmp = data_dir.join(format!("serve.json.{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&running)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(Published { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_first_platform() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let published = publish(dir.path(), "127.0.0.1:4321".parse().unwrap()).unwrap();
        assert_eq!(discover(dir.path()).unwrap().url, "http://127.0.0.1:4321");
        let err = lock(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("already running") && err.contains("127.0.0.1:4321"),
            "{err}"
        );
        published.withdraw();
        assert!(discover(dir.path()).is_none());
        drop(first);
        assert!(lock(dir.path()).is_ok());
    }
}
