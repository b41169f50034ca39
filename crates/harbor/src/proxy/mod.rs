//! Other harbor commands on a DuckDB file that `harbor serve` holds open.
//!
//! DuckDB admits one process per file, and the server keeps its file open. So the server also
//! listens on a Unix socket next to the file ([`socket_path`], mode 0600, removed when it stops),
//! and a command that finds a server answering there talks to the database through it: the
//! command's own code runs unchanged (extracting, normalizing, writing load packages, printing,
//! exit codes) on a [`client::ProxyDestination`] and a [`client::ProxyStore`], whose calls the
//! server executes on its own handle of the database ([`server`]). Package files are on the same
//! machine, so a load passes the package directory. Each call runs in one transaction on the
//! server exactly as it would in the command, so a command killed during a load leaves the old or
//! the new state: the server finishes (or rolls back) the transaction on its own, and the next run
//! finds the package committed (and retires it) or replays it. Loads on the server run one at a
//! time, so a replay never races the load it replays.
//!
//! A socket left by a killed server is ignored (nothing answers on it) and replaced by the next
//! server, which holds the file lock and so knows that no other server can be alive for the file.

pub mod client;
pub mod server;
mod wire;

use std::path::{Path, PathBuf};

/// Longest socket path the kernel accepts (`sun_path` is 108 bytes with its terminating NUL).
const MAX_SOCKET_PATH: usize = 100;

/// The canonical path of a database file (the file itself when it exists, else its directory's).
pub fn canonical_db(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// The socket of the server that owns the database at `path`: `.<file name>.harbor.sock` in the
/// file's directory, or, when that path is too long for a Unix socket, `harbor-<hash>.sock` in the
/// temporary directory (the hash of the canonical database path, so every process finds it).
pub fn socket_path(path: &Path) -> PathBuf {
    let db = canonical_db(path);
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let beside = db.with_file_name(format!(".{name}.harbor.sock"));
    if beside.as_os_str().len() <= MAX_SOCKET_PATH {
        return beside;
    }
    std::env::temp_dir().join(format!(
        "harbor-{:016x}.sock",
        fnv1a(db.as_os_str().as_encoded_bytes())
    ))
}

/// FNV-1a, 64 bits: a stable hash (the same in every build) for the fallback socket name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_sits_beside_the_file_or_in_tmp_when_too_long() {
        let dir = tempfile::tempdir().expect("test");
        let db = dir.path().join("h.duckdb");
        let sock = socket_path(&db);
        assert_eq!(sock.file_name().expect("test"), ".h.duckdb.harbor.sock");
        assert_eq!(
            sock.parent(),
            Some(std::fs::canonicalize(dir.path()).expect("test").as_path())
        );
        // The same file named through another spelling gets the same socket.
        let other = dir.path().join(".").join("h.duckdb");
        assert_eq!(socket_path(&other), sock);

        let deep = dir.path().join("x".repeat(120)).join("h.duckdb");
        let long = socket_path(&deep);
        assert!(long.starts_with(std::env::temp_dir()), "{}", long.display());
        assert_eq!(socket_path(&deep), long);
        assert_ne!(
            socket_path(&dir.path().join("y".repeat(120)).join("h.duckdb")),
            long
        );
    }
}
