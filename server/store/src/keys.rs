//! API keys: random secrets shown once, stored only as SHA-256 hashes, looked up by a
//! short public prefix and compared in constant time.

use chrono::Utc;
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::sql::from_ms;
use crate::{Error, Result};

/// What a key may do: `read` queries, `write` also changes data (ingest, delete),
/// `admin` also manages keys.
pub const SCOPES: &[&str] = &["read", "write", "admin"];

/// Longest key name, in characters: a label for people, shown in tables.
pub const MAX_NAME: usize = 100;

pub use observatory_protocol::keys::ApiKey;

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality, so response times do not reveal how much of a key matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Writer::create_api_key`: creates a key; the returned secret is the only time it
/// is seen.
pub(crate) fn create(conn: &Connection, name: &str, scopes: &[String]) -> Result<(ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("invalid key: a key needs a name".into()));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "invalid key: a key name is at most {MAX_NAME} characters, none of them control characters"
        )));
    }
    if scopes.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid key: a key needs at least one scope: {}",
            SCOPES.join(", ")
        )));
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(Error::Invalid(format!(
            "invalid key: unknown scope {bad:?}; expected one of: {}",
            SCOPES.join(", ")
        )));
    }
    let mut rng = rand::rng();
    let prefix = hex(&rng.random::<[u8; 4]>());
    let secret = format!("obs_{prefix}_{}", hex(&rng.random::<[u8; 24]>()));
    let now = Utc::now().timestamp_millis();
    conn.execute(
        "INSERT INTO api_keys (name, prefix, hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, prefix, hash(&secret), scopes.join(","), now],
    )?;
    let id = conn.last_insert_rowid();
    let key = list(conn)?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| Error::NotFound(format!("no key {id}")))?;
    Ok((key, secret))
}

/// `Catalog::api_keys`: every key, revoked ones included.
pub(crate) fn list(conn: &Connection) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ApiKey {
            id: r.get(0)?,
            name: r.get(1)?,
            prefix: r.get(2)?,
            scopes: r
                .get::<_, String>(3)?
                .split(',')
                .map(str::to_owned)
                .collect(),
            created_at: from_ms(r.get(4)?),
            revoked_at: from_ms(r.get(5)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `Writer::revoke_api_key`: revokes a key; false if there is no such active key.
pub(crate) fn revoke(conn: &Connection, id: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
        params![Utc::now().timestamp_millis(), id],
    )?;
    Ok(n == 1)
}

/// `Catalog::is_api_key_active`: whether key `id` exists and is not revoked.
pub(crate) fn is_active(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1 AND revoked_at IS NULL)",
        [id],
        |r| r.get(0),
    )?)
}

/// `Catalog::has_active_api_keys`: whether any key is active.
pub(crate) fn any_active(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)",
        [],
        |r| r.get(0),
    )?)
}

/// `Catalog::verify_api_key`: the active key a presented secret belongs to.
pub(crate) fn verify(conn: &Connection, secret: &str) -> Result<Option<ApiKey>> {
    let Some(prefix) = secret
        .strip_prefix("obs_")
        .and_then(|s| s.split('_').next())
    else {
        return Ok(None);
    };
    let stored: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, hash FROM api_keys WHERE prefix = ?1 AND revoked_at IS NULL")?
        .query_row([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, stored)) = stored else {
        return Ok(None);
    };
    if !same(&stored, &hash(secret)) {
        return Ok(None);
    }
    Ok(list(conn)?.into_iter().find(|k| k.id == id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, Store, Writer};

    #[test]
    fn keys_are_hashed_verified_and_revoked() {
        let mut store = Store::open_in_memory().expect("store");
        let (key, secret) = store
            .create_api_key("ci", &["read".into()])
            .expect("create");
        assert!(secret.starts_with(&format!("obs_{}_", key.prefix)));
        let raw: Vec<u8> = store
            .conn
            .query_row("SELECT hash FROM api_keys", [], |r| r.get(0))
            .expect("hash");
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is not stored"
        );
        assert_eq!(
            store.verify_api_key(&secret).expect("verify").map(|k| k.id),
            Some(key.id)
        );
        assert_eq!(
            store.verify_api_key(&format!("{secret}x")).expect("verify"),
            None
        );
        assert_eq!(store.verify_api_key("nonsense").expect("verify"), None);
        assert!(store.has_active_api_keys().expect("q"));
        assert!(store.revoke_api_key(key.id).expect("revoke"));
        assert!(!store.revoke_api_key(key.id).expect("revoke twice"));
        assert_eq!(store.verify_api_key(&secret).expect("verify"), None);
        assert!(!store.has_active_api_keys().expect("q"));
        assert!(!store.is_api_key_active(key.id).expect("q"));
        assert!(matches!(
            store.create_api_key("x", &["root".into()]),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            store.create_api_key(" ", &["read".into()]),
            Err(Error::Invalid(_))
        ));
        for bad in ["a\u{1b}[31mred".to_owned(), "x".repeat(MAX_NAME + 1)] {
            let e = store
                .create_api_key(&bad, &["read".into()])
                .expect_err("bad name");
            assert!(e.to_string().starts_with("invalid key:"), "{e}");
        }
    }
}
