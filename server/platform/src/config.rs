//! Configuration: a TOML file, then environment variables, then flags, each
//! overriding the one before. The file is optional; every setting has a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMap {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address `observatory serve` listens on.
    pub bind: SocketAddr,
    /// Where the database and the local token live.
    pub data_dir: Option<PathBuf>,
    /// Claude Code directories to index (default: discovered).
    pub claude_dirs: Vec<PathBuf>,
    /// Rewrites of recorded paths for line attribution.
    pub path_map: Vec<PathMap>,
    /// Directories whose files the API may read from disk to attribute them
    /// (`GET /files/blame?path=`); empty: clients send the content they want blamed.
    pub workspace_roots: Vec<PathBuf>,
    /// Sustained API requests per second per token.
    pub rate_per_second: u32,
    /// Requests a token may make at once above the sustained rate.
    pub rate_burst: u32,
    /// Delivery of webhooks (`[webhooks]`).
    pub webhooks: WebhookConfig,
}

/// How webhooks are delivered. Durations are seconds (fractions allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Send deliveries (`false`: subscriptions are kept and events queued, nothing
    /// is sent).
    pub deliver: bool,
    /// Allow targets on loopback, private, link-local and other non-public
    /// addresses (checked on the address connected to, after name resolution).
    /// `OBSERVATORY_WEBHOOKS_ALLOW_PRIVATE_TARGETS=1` sets it too.
    pub allow_private_targets: bool,
    /// Whole request, connection included.
    pub timeout: f64,
    /// Requests in flight at once, over all webhooks (each webhook has one at most).
    pub max_concurrency: usize,
    /// Delay before each attempt: the first is the first attempt's (0: at once),
    /// each later one is waited after a failure (with ±20% jitter). After the last
    /// the delivery has failed.
    pub retry_schedule: Vec<f64>,
    /// A webhook whose every attempt failed for this long is disabled.
    pub disable_after: f64,
    /// Consecutive failures that open a webhook's circuit breaker, and its first
    /// cool-down (doubled, with jitter, while probes keep failing; at most 64×).
    pub breaker_failures: u32,
    pub breaker_cooldown: f64,
    /// Finished deliveries (and their attempts) are kept this many days.
    pub retention_days: u32,
    /// Log a `usage.threshold` event when a conversation's estimated cost first
    /// reaches each of these amounts (US dollars); empty: none.
    pub cost_thresholds_usd: Vec<f64>,
    /// Log a `file.agent_share` event when the share of a file's lines written by
    /// agents crosses one of these percentages, up or down (files under
    /// `workspace_roots` only); empty: none.
    pub agent_share_thresholds_percent: Vec<f64>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            deliver: true,
            allow_private_targets: false,
            timeout: 15.0,
            max_concurrency: 16,
            // Svix's: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (~27.5 h).
            retry_schedule: vec![0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
            disable_after: 5.0 * 86400.0,
            breaker_failures: 5,
            breaker_cooldown: 30.0,
            retention_days: 7,
            cost_thresholds_usd: Vec::new(),
            agent_share_thresholds_percent: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8787)),
            data_dir: None,
            claude_dirs: Vec::new(),
            path_map: Vec::new(),
            workspace_roots: Vec::new(),
            // Generous for editors (a burst on opening a project), firm for runaway
            // scripts.
            rate_per_second: 50,
            rate_burst: 200,
            webhooks: WebhookConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid configuration: {message}")]
    Parse { path: PathBuf, message: String },
}

/// `$XDG_CONFIG_HOME/observatory/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("observatory/config.toml"))
}

impl Config {
    /// Reads `path`. A missing file is an error only when the path was given
    /// explicitly (`explicit`); the default location may simply not exist.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_and_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9999\"\n[[path_map]]\nfrom = \"/a\"\nto = \"/b\"\n",
        )
        .expect("write");
        let c = Config::load(&path, true).expect("load");
        assert_eq!(c.bind.port(), 9999);
        assert_eq!(
            c.path_map,
            vec![PathMap {
                from: "/a".into(),
                to: "/b".into()
            }]
        );
        assert!(c.claude_dirs.is_empty());
        let round = toml::from_str::<Config>(&c.to_toml()).expect("round trip");
        assert_eq!(round, c);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.toml");
        assert_eq!(
            Config::load(&path, false).expect("missing default file is fine"),
            Config::default()
        );
        assert!(matches!(
            Config::load(&path, true),
            Err(ConfigError::Read { .. })
        ));
        std::fs::write(&path, "bnd = 1\n").expect("write");
        let e = Config::load(&path, true).expect_err("unknown key");
        assert!(
            e.to_string().contains("config.toml") && e.to_string().contains("bnd"),
            "{e}"
        );
    }
}
