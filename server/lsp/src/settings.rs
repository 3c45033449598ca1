//! Settings, from `initializationOptions` and `workspace/didChangeConfiguration`
//! (either the object itself or `{"observatory": {...}}`), then `OBSERVATORY_URL` and
//! `OBSERVATORY_API_KEY` for what neither gave.

use serde_json::Value;

pub use observatory_protocol::lsp::{InlayMode, Settings};

/// Reading settings as the editor sends them (the types are the protocol's).
pub trait SettingsExt: Sized {
    /// `current` with what `value` sets. Unknown keys are ignored; a wrongly typed
    /// value is an error naming it, and nothing changes.
    fn merged(current: &Self, value: &Value) -> Result<Self, String>;
    /// `OBSERVATORY_URL` and `OBSERVATORY_API_KEY` for what the editor did not set.
    fn with_env(self) -> Self;
}

impl SettingsExt for Settings {
    fn merged(current: &Settings, value: &Value) -> Result<Settings, String> {
        let value = value.get("observatory").unwrap_or(value);
        let Value::Object(given) = value else {
            return Ok(current.clone());
        };
        let mut base = serde_json::to_value(current).map_err(|e| e.to_string())?;
        if let Value::Object(b) = &mut base {
            for (k, v) in given {
                if b.contains_key(k) {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        serde_json::from_value(base).map_err(|e| format!("invalid Observatory settings: {e}"))
    }

    fn with_env(mut self) -> Settings {
        if self.url.is_none() {
            self.url = std::env::var("OBSERVATORY_URL")
                .ok()
                .filter(|u| !u.is_empty());
        }
        if self.api_key.is_none() {
            self.api_key = std::env::var("OBSERVATORY_API_KEY")
                .ok()
                .filter(|k| !k.is_empty());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_nested_or_flat_and_rejects_bad_types() {
        let s = Settings::merged(
            &Settings::default(),
            &json!({"observatory": {"inlayHints": "all", "codeLens": false, "unknown": 1}}),
        )
        .unwrap();
        assert_eq!(s.inlay_hints, InlayMode::All);
        assert!(!s.code_lens);
        assert!(s.hover);
        let s2 = Settings::merged(&s, &json!({"debounceMs": 50})).unwrap();
        assert_eq!(s2.debounce_ms, 50);
        assert_eq!(s2.inlay_hints, InlayMode::All);
        let err = Settings::merged(&s, &json!({"inlayHints": "sometimes"})).unwrap_err();
        assert!(err.contains("invalid Observatory settings"), "{err}");
    }
}
