//! Bearer tokens: created once and shown once, stored only as SHA-256 hashes in a JSON file
//! (`<workdir>/tokens.json`, mode 0600), compared in constant time, revocable.
//!
//! Tokens carry 256 random bits, so a fast hash is the right tool (a password hash such as argon2 is
//! for low-entropy secrets). The token format is `hbr_<id>_<secret>`: the id finds the record, the
//! hash of the whole token is compared with `subtle`. The server re-reads the file when it changes, so
//! `harbor token revoke` takes effect on a running server at once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// What a token may do. Larger scopes include the smaller ones: admin > write > read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read data, runs, status and metrics.
    Read,
    /// Also start runs.
    Write,
    /// Also change the cutover.
    Admin,
}

impl Scope {
    /// Parses `read`, `write` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// One stored token (no secret, only its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id (part of the token, shown by `harbor token list`).
    pub id: String,
    /// Free-form name.
    pub name: String,
    /// Scope.
    pub scope: Scope,
    /// Hex SHA-256 of the whole token.
    pub hash: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Revocation time, if revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// A token file.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    cache: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    stamp: Option<(SystemTime, u64)>,
    records: Vec<TokenRecord>,
}

fn hash_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `N` bytes from the kernel's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use std::io::Read;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::Tokens {
            path: PathBuf::from("/dev/urandom"),
            message: format!("no system randomness: {e}"),
        })?;
    Ok(buf)
}

impl TokenStore {
    /// A store backed by `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache: Mutex::new(Cached::default()),
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Tokens {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// All records in the file (none if it does not exist).
    pub fn list(&self) -> Result<Vec<TokenRecord>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| self.err(format!("not a token file: {e}")))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.err(e.to_string())),
        }
    }

    fn save(&self, records: &[TokenRecord]) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.err(e.to_string()))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(records).map_err(|e| self.err(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| self.err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| self.err(e.to_string()))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e.to_string()))
    }

    /// Creates a token; returns the record and the token, which is never stored and cannot be
    /// shown again.
    pub fn create(&self, scope: Scope, name: &str) -> Result<(TokenRecord, String)> {
        let mut records = self.list()?;
        let id: String = random_bytes::<4>()?.iter().map(|b| format!("{b:02x}")).collect();
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let token = format!("hbr_{id}_{secret}");
        let record = TokenRecord {
            id,
            name: name.to_owned(),
            scope,
            hash: hash_hex(&token),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            revoked_at: None,
        };
        records.push(record.clone());
        self.save(&records)?;
        Ok((record, token))
    }

    /// Revokes the token with this id (or name); returns false if there is none.
    pub fn revoke(&self, id_or_name: &str) -> Result<bool> {
        let mut records = self.list()?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut found = false;
        for r in records
            .iter_mut()
            .filter(|r| r.revoked_at.is_none() && (r.id == id_or_name || r.name == id_or_name))
        {
            r.revoked_at = Some(now.clone());
            found = true;
        }
        if found {
            self.save(&records)?;
        }
        Ok(found)
    }

    /// The id and scope of a presented token, or `None` if it is unknown, malformed or revoked.
    pub fn verify(&self, token: &str) -> Result<Option<(String, Scope)>> {
        let records = self.current()?;
        let id = token
            .strip_prefix("hbr_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id);
        let presented = hash_hex(token);
        let mut scope = None;
        // Compare against every live record in constant time, so timing reveals neither which ids
        // exist nor how much of a hash matched.
        for r in records.iter().filter(|r| r.revoked_at.is_none()) {
            let same: bool = presented.as_bytes().ct_eq(r.hash.as_bytes()).into();
            if same && Some(r.id.as_str()) == id {
                scope = Some((r.id.clone(), r.scope));
            }
        }
        Ok(scope)
    }

    fn current(&self) -> Result<Vec<TokenRecord>> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(m) => Some((m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.err(e.to_string())),
        };
        let mut cache = self.cache.lock().map_err(|_| self.err("token cache poisoned"))?;
        if cache.stamp != stamp || stamp.is_none() {
            cache.records = self.list()?;
            cache.stamp = stamp;
        }
        Ok(cache.records.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::new(dir.path().join("tokens.json"));
        let (rec, token) = store.create(Scope::Write, "web").expect("create");
        assert!(token.starts_with(&format!("hbr_{}_", rec.id)));
        assert_eq!(
            store.verify(&token).expect("verify"),
            Some((rec.id.clone(), Scope::Write))
        );
        let text = std::fs::read_to_string(store.path()).expect("read");
        assert!(!text.contains(&token), "the token itself is never stored");
        assert_eq!(store.verify(&format!("{token}x")).expect("verify"), None);
        assert_eq!(store.verify("hbr_zz_nope").expect("verify"), None);
        assert!(store.revoke(&rec.id).expect("revoke"));
        assert_eq!(store.verify(&token).expect("verify"), None);
        assert!(!store.revoke("unknown").expect("revoke"));
    }

    #[test]
    fn scopes_are_ordered() {
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
        assert_eq!(Scope::parse("admin"), Some(Scope::Admin));
        assert_eq!(Scope::parse("root"), None);
    }
}
