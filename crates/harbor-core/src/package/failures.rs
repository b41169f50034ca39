//! Failed load attempts of a package (`attempts.json`) and the credential-free identity of the
//! destination a package was made for.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One failed load attempt of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it failed (RFC 3339, UTC).
    pub at: String,
    /// The error, as printed.
    pub error: String,
    /// Whether the error was transient (connection lost, server restarting): those do not count
    /// toward the limit.
    pub transient: bool,
}

/// The failed load attempts of a package (`attempts.json`), and, once it is set aside, when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    /// Every failed attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// When the package was moved to `failed/` (RFC 3339), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_aside_at: Option<String>,
    /// Attempts before this index were made before the last `harbor packages retry` and no longer
    /// count toward the limit.
    #[serde(default)]
    pub counted_from: usize,
}

impl Attempts {
    /// How many of the latest non-transient failures had the same error as the last one (the
    /// count that is compared with the limit). Numbers in messages (sizes, pids) are ignored, so
    /// "out of memory (953.6 MiB/953.6 MiB used)" twice is the same error.
    pub fn same_error_streak(&self) -> u32 {
        let counted = self.attempts.get(self.counted_from..).unwrap_or_default();
        let mut hard = counted.iter().rev().filter(|a| !a.transient);
        let Some(last) = hard.next() else {
            return 0;
        };
        let sig = error_signature(&last.error);
        1 + hard.take_while(|a| error_signature(&a.error) == sig).count() as u32
    }

    /// The last error, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.attempts.last().map(|a| a.error.as_str())
    }
}

/// The error with digit runs collapsed, to compare errors that differ only in numbers.
fn error_signature(error: &str) -> String {
    let mut out = String::with_capacity(error.len());
    let mut in_digits = false;
    for c in error.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

/// The identity of a destination, from its description ([`Destination::describe`]
/// (crate::destination::Destination::describe)), without credentials: `postgres://host:port/db?schema=s`
/// (no user, no pooler flag), `duckdb:///canonical/path.duckdb`, `parquet:///canonical/dir`.
pub fn destination_identity(described: &str) -> String {
    if let Some(rest) = described
        .strip_prefix("postgres://")
        .or_else(|| described.strip_prefix("postgresql://"))
    {
        let rest = match rest.rfind('@') {
            Some(at) => &rest[at + 1..],
            None => rest,
        };
        let (addr, query) = rest.split_once('?').unwrap_or((rest, ""));
        let schema = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("schema="))
            .unwrap_or("public");
        return format!("postgres://{addr}?schema={schema}");
    }
    for kind in ["duckdb", "parquet"] {
        if let Some(path) = described.strip_prefix(kind).and_then(|r| r.strip_prefix("://")) {
            let path = Path::new(path);
            let canonical = fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.to_path_buf());
            return format!("{kind}://{}", canonical.display());
        }
    }
    described.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(error: &str, transient: bool) -> Attempt {
        Attempt {
            at: String::new(),
            error: error.into(),
            transient,
        }
    }

    #[test]
    fn streak_counts_the_same_hard_error_and_skips_transient_ones() {
        let mut a = Attempts::default();
        assert_eq!(a.same_error_streak(), 0);
        a.attempts
            .push(attempt("check constraint violated (row 17)", false));
        a.attempts.push(attempt("connection refused", true));
        a.attempts
            .push(attempt("check constraint violated (row 18)", false));
        assert_eq!(a.same_error_streak(), 2);
        a.attempts.push(attempt("disk full", false));
        assert_eq!(a.same_error_streak(), 1);
        a.counted_from = a.attempts.len();
        assert_eq!(a.same_error_streak(), 0);
    }

    #[test]
    fn identity_drops_credentials_and_canonicalizes_paths() {
        assert_eq!(
            destination_identity(
                "postgres://alice@db.example:6543/postgres?schema=reddit&pooler=transaction"
            ),
            "postgres://db.example:6543/postgres?schema=reddit"
        );
        let dir = std::env::temp_dir().join(format!("harbor-ident-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).expect("temp dir");
        fs::write(dir.join("x.duckdb"), b"").expect("temp file");
        let a = destination_identity(&format!("duckdb://{}/sub/../x.duckdb", dir.display()));
        let b = destination_identity(&format!("duckdb://{}/x.duckdb", dir.display()));
        assert_eq!(a, b);
        assert_ne!(
            a,
            destination_identity(&format!("parquet://{}/x.duckdb", dir.display()))
        );
        fs::remove_dir_all(&dir).expect("remove temp dir");
    }
}
