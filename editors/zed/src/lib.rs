//! Observatory for Zed: starts `observatory lsp` for the languages `extension.toml`
//! lists. Everything shown comes from the server (docs/lsp.md); this only says how to
//! start it and passes the user's settings through:
//!
//! - `lsp.observatory.binary.path` / `.arguments` / `.env`, else `observatory` on the
//!   worktree's `PATH` with `["lsp"]`;
//! - `lsp.observatory.initialization_options` as `initializationOptions`;
//! - `lsp.observatory.settings` as the workspace configuration
//!   (`workspace/didChangeConfiguration`).

use zed_extension_api::{
    self as zed, serde_json::Value, settings::CommandSettings, settings::LspSettings,
    LanguageServerId, Result, Worktree,
};

/// The server's id in `extension.toml` and the key of its settings under `lsp`.
const SERVER: &str = "observatory";
const BINARY: &str = "observatory";

/// The command to run: the user's `binary` settings over the defaults (`observatory`
/// from `PATH`, `["lsp"]`, the worktree's shell environment).
pub fn server_command(
    binary: Option<CommandSettings>,
    on_path: Option<String>,
    shell_env: Vec<(String, String)>,
) -> Result<zed::Command> {
    let binary = binary.unwrap_or(CommandSettings {
        path: None,
        arguments: None,
        env: None,
    });
    let command = binary.path.or(on_path).ok_or_else(|| {
        format!(
            "`{BINARY}` was not found on PATH: install Observatory, or set \
             lsp.{SERVER}.binary.path in Zed's settings"
        )
    })?;
    let mut env = shell_env;
    if let Some(extra) = binary.env {
        let mut extra: Vec<_> = extra.into_iter().collect();
        extra.sort();
        for (k, v) in extra {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        }
    }
    Ok(zed::Command {
        command,
        args: binary.arguments.unwrap_or_else(|| vec!["lsp".to_string()]),
        env,
    })
}

struct Observatory;

impl zed::Extension for Observatory {
    fn new() -> Self {
        Observatory
    }

    fn language_server_command(
        &mut self,
        _id: &LanguageServerId,
        worktree: &Worktree,
    ) -> Result<zed::Command> {
        let settings = LspSettings::for_worktree(SERVER, worktree).unwrap_or_default();
        server_command(
            settings.binary,
            worktree.which(BINARY),
            worktree.shell_env(),
        )
    }

    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &Worktree,
    ) -> Result<Option<Value>> {
        Ok(LspSettings::for_worktree(SERVER, worktree)
            .ok()
            .and_then(|s| s.initialization_options))
    }

    fn language_server_workspace_configuration(
        &mut self,
        _id: &LanguageServerId,
        worktree: &Worktree,
    ) -> Result<Option<Value>> {
        Ok(LspSettings::for_worktree(SERVER, worktree)
            .ok()
            .and_then(|s| s.settings))
    }
}

zed::register_extension!(Observatory);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_to_observatory_lsp_from_path() {
        let c = server_command(None, Some("/usr/bin/observatory".into()), vec![]).unwrap();
        assert_eq!(c.command, "/usr/bin/observatory");
        assert_eq!(c.args, vec!["lsp"]);
    }

    #[test]
    fn settings_choose_the_binary_arguments_and_env() {
        let binary = CommandSettings {
            path: Some("/opt/observatory".into()),
            arguments: Some(vec!["--data-dir".into(), "/d".into(), "lsp".into()]),
            env: Some(HashMap::from([("OBSERVATORY_LOG".into(), "debug".into())])),
        };
        let c = server_command(
            Some(binary),
            None,
            vec![
                ("OBSERVATORY_LOG".into(), "info".into()),
                ("PATH".into(), "/bin".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.command, "/opt/observatory");
        assert_eq!(c.args, vec!["--data-dir", "/d", "lsp"]);
        assert_eq!(
            c.env,
            vec![
                ("PATH".to_string(), "/bin".to_string()),
                ("OBSERVATORY_LOG".to_string(), "debug".to_string())
            ]
        );
    }

    #[test]
    fn a_missing_binary_says_what_to_set() {
        let err = server_command(None, None, vec![]).unwrap_err();
        assert!(err.contains("lsp.observatory.binary.path"), "{err}");
    }
}
