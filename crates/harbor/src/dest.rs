//! Destination URLs to destinations.

use std::path::PathBuf;

use anyhow::bail;
use harbor_core::destination::Destination;
use harbor_duckdb::{DuckDbDestination, DuckDbOptions};

use crate::settings::Settings;

/// A parsed destination URL.
#[derive(Debug, Clone, PartialEq)]
pub enum DestinationUrl {
    /// `duckdb:///path/file.duckdb`, `duckdb://relative.duckdb`, or a plain `*.duckdb` path.
    DuckDb(PathBuf),
    /// `postgres://user:pass@host:port/db?schema=...&sslmode=...` (also `postgresql://`).
    Postgres(String),
    /// `parquet:///dir` (a directory of Parquet files and a manifest).
    Parquet(PathBuf),
}

impl DestinationUrl {
    /// Parses a destination URL.
    pub fn parse(url: &str) -> anyhow::Result<DestinationUrl> {
        if let Some(rest) = url.strip_prefix("duckdb://") {
            // `duckdb:///abs/path` keeps the leading slash; `duckdb:///harbor.duckdb` (the default)
            // means the current directory when the path has no other slash.
            let path = match rest.strip_prefix('/') {
                Some(p) if !p.contains('/') => PathBuf::from(p),
                Some(_) => PathBuf::from(rest),
                None => PathBuf::from(rest),
            };
            return Ok(DestinationUrl::DuckDb(path));
        }
        if url.ends_with(".duckdb") || url.ends_with(".db") {
            return Ok(DestinationUrl::DuckDb(PathBuf::from(url)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DestinationUrl::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("parquet://") {
            if rest.is_empty() {
                bail!("destination `{url}` names no directory: expected parquet:///path/dir");
            }
            return Ok(DestinationUrl::Parquet(PathBuf::from(rest)));
        }
        bail!(
            "unknown destination `{}`: expected duckdb:///path/file.duckdb, postgres://user:pass@host:5432/db \
             or parquet:///path/dir",
            redact(url)
        )
    }
}

/// The URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A DuckDB database this process already holds open (`harbor serve`), handed out as clones so
/// commands run inside the process (scheduled runs) never open the same file a second time.
static SHARED_DUCKDB: std::sync::Mutex<Option<(PathBuf, DuckDbDestination)>> = std::sync::Mutex::new(None);

fn canonical(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Registers the open database at `path`: later opens of the same file in this process get a
/// second handle on it instead of a new database instance.
pub fn share_duckdb(path: &std::path::Path, dest: DuckDbDestination) {
    if let Ok(mut shared) = SHARED_DUCKDB.lock() {
        *shared = Some((canonical(path), dest));
    }
}

/// A second handle on the shared database, if this process holds the file at `path`.
fn shared_duckdb(path: &std::path::Path) -> Option<anyhow::Result<DuckDbDestination>> {
    let shared = SHARED_DUCKDB.lock().ok()?;
    let (p, dest) = shared.as_ref()?;
    (*p == canonical(path)).then(|| dest.try_clone().map_err(crate::output::dest_error))
}

/// How this process reaches a DuckDB file.
enum DuckAccess {
    /// It holds the file (opened now, or the handle `harbor serve` shares in this process).
    Local(DuckDbDestination),
    /// Another process, `harbor serve`, holds it and runs this process's calls (see `crate::proxy`).
    Served(crate::proxy::client::Client),
}

/// Whether a DuckDB error says another process holds the file.
fn is_lock_error(text: &str) -> bool {
    text.contains("Could not set lock") || text.contains("Conflicting lock")
}

/// A server that has just started may not listen yet when its file is already locked.
fn connect_soon(path: &std::path::Path) -> anyhow::Result<Option<crate::proxy::client::Client>> {
    for _ in 0..10 {
        if let Some(c) = crate::proxy::client::connect(path).map_err(crate::output::dest_error)? {
            return Ok(Some(c));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(None)
}

/// The lock error with a hint that says what is true: the holder is not a `harbor serve` (none
/// answers on the socket), so this command cannot go through it.
fn locked_error(path: &std::path::Path, message: String) -> anyhow::Error {
    crate::output::UserError {
        message,
        hint: Some(format!(
            "another process has {} open and DuckDB allows one process per file; no harbor serve answers \
             on {}, so this command cannot go through a server: wait for that process to finish, then run \
             the command again",
            path.display(),
            crate::proxy::socket_path(path).display()
        )),
    }
    .into()
}

/// Reaches a DuckDB file: the handle this process shares, the server that owns the file, or the
/// file itself.
fn reach_duckdb(path: &std::path::Path, settings: &Settings) -> anyhow::Result<DuckAccess> {
    if let Some(dest) = shared_duckdb(path) {
        return Ok(DuckAccess::Local(dest?));
    }
    if let Some(client) = crate::proxy::client::connect(path).map_err(crate::output::dest_error)? {
        return Ok(DuckAccess::Served(client));
    }
    match DuckDbDestination::open(path, &duckdb_options(settings)) {
        Ok(dest) => Ok(DuckAccess::Local(dest)),
        Err(e) if is_lock_error(&e.message) => match connect_soon(path)? {
            Some(client) => Ok(DuckAccess::Served(client)),
            None => Err(locked_error(path, e.message)),
        },
        Err(e) => Err(crate::output::dest_error(e)),
    }
}

/// Opens a DuckDB destination: a clone of the shared handle when this process holds that file, the
/// server that owns it, or the file.
fn open_duckdb(path: &std::path::Path, settings: &Settings) -> anyhow::Result<Box<dyn Destination>> {
    Ok(match reach_duckdb(path, settings)? {
        DuckAccess::Local(dest) => Box::new(dest),
        DuckAccess::Served(client) => Box::new(crate::proxy::client::ProxyDestination::new(client)),
    })
}

/// Opens the destination the settings name.
pub fn open(settings: &Settings) -> anyhow::Result<Box<dyn Destination>> {
    match DestinationUrl::parse(&settings.destination)? {
        DestinationUrl::DuckDb(path) => open_duckdb(&path, settings),
        DestinationUrl::Postgres(url) => Ok(Box::new(
            harbor_postgres::PostgresDestination::open(&url).map_err(crate::output::dest_error)?,
        )),
        DestinationUrl::Parquet(dir) => Ok(Box::new(
            harbor_parquet::ParquetDestination::open(&dir).map_err(crate::output::dest_error)?,
        )),
    }
}

/// Opens the store of the operations tables (`_harbor_runs`, cutover) of the configured destination:
/// the database itself for DuckDB and Postgres; for a Parquet directory, a DuckDB file inside it
/// (`_harbor_ops.duckdb`), since Parquet files hold no tables that can be updated.
pub fn open_ops(settings: &Settings) -> anyhow::Result<Box<dyn harbor_ops::store::SqlStore>> {
    match DestinationUrl::parse(&settings.destination)? {
        DestinationUrl::DuckDb(path) => match shared_duckdb(&path) {
            Some(dest) => {
                let dest = dest?;
                let conn = dest.connection().try_clone()?;
                Ok(Box::new(harbor_ops::store::DuckStore::from_connection(
                    conn,
                    dest.describe(),
                )))
            }
            None => {
                if let Some(client) =
                    crate::proxy::client::connect(&path).map_err(crate::output::dest_error)?
                {
                    return Ok(Box::new(crate::proxy::client::ProxyStore::new(client)));
                }
                match harbor_ops::store::DuckStore::open(&path) {
                    Ok(store) => Ok(Box::new(store)),
                    Err(e) if is_lock_error(&e.to_string()) => match connect_soon(&path)? {
                        Some(client) => Ok(Box::new(crate::proxy::client::ProxyStore::new(client))),
                        None => Err(locked_error(&path, e.to_string())),
                    },
                    Err(e) => Err(e.into()),
                }
            }
        },
        DestinationUrl::Postgres(url) => Ok(Box::new(harbor_ops::store::PgStore::connect(&url)?)),
        DestinationUrl::Parquet(dir) => {
            std::fs::create_dir_all(&dir)?;
            let file = dir.join(PARQUET_OPS_FILE);
            match harbor_ops::store::DuckStore::open(&file) {
                Ok(store) => Ok(Box::new(store)),
                // Another process (a second writer of the same directory) holds the sidecar: its
                // own run is traced there; this one keeps its trace in memory rather than fail.
                Err(e) => {
                    tracing::warn!(error = %e, "Run trace not kept: the operations file is busy");
                    Ok(Box::new(harbor_ops::store::DuckStore::in_memory(format!(
                        "duckdb://{} (busy; in memory)",
                        file.display()
                    ))?))
                }
            }
        }
    }
}

/// The DuckDB file of the operations tables of a Parquet destination.
const PARQUET_OPS_FILE: &str = "_harbor_ops.duckdb";

/// Opens the destination and, on the same database (for DuckDB a clone of the connection, so the
/// file is opened once), the store of the operations tables.
pub fn open_with_ops(
    settings: &Settings,
) -> anyhow::Result<(Box<dyn Destination>, Box<dyn harbor_ops::store::SqlStore>)> {
    match DestinationUrl::parse(&settings.destination)? {
        DestinationUrl::DuckDb(path) => match reach_duckdb(&path, settings)? {
            DuckAccess::Local(dest) => {
                let conn = dest.connection().try_clone()?;
                let ops = harbor_ops::store::DuckStore::from_connection(conn, dest.describe());
                Ok((Box::new(dest), Box::new(ops)))
            }
            DuckAccess::Served(client) => {
                let ops = client.another().map_err(crate::output::dest_error)?;
                Ok((
                    Box::new(crate::proxy::client::ProxyDestination::new(client)),
                    Box::new(crate::proxy::client::ProxyStore::new(ops)),
                ))
            }
        },
        DestinationUrl::Postgres(_) | DestinationUrl::Parquet(_) => {
            let dest = open(settings)?;
            Ok((dest, open_ops(settings)?))
        }
    }
}

/// `[duckdb]` as destination options.
pub fn duckdb_options(settings: &Settings) -> DuckDbOptions {
    DuckDbOptions {
        threads: (settings.duckdb.threads > 0).then_some(settings.duckdb.threads),
        memory_limit: Some(settings.duckdb.memory_limit.clone()),
    }
}

/// Opens the configured pipeline on `dest` for a command outside a traced run (schema, status,
/// state), waiting for the run lock when another run holds it.
pub fn open_pipeline(
    settings: &Settings,
    dest: Box<dyn harbor_core::destination::Destination>,
) -> anyhow::Result<harbor_pipeline::Pipeline> {
    harbor_pipeline::Pipeline::open(
        harbor_pipeline::PipelineOptions {
            name: settings.pipeline.clone(),
            workdir: settings.workdir.clone(),
            keep_packages: false,
            wait_for_lock: true,
        },
        dest,
    )
    .map_err(crate::output::pipeline_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_duckdb_urls() {
        assert_eq!(
            DestinationUrl::parse("duckdb:///harbor.duckdb").ok(),
            Some(DestinationUrl::DuckDb("harbor.duckdb".into()))
        );
        assert_eq!(
            DestinationUrl::parse("duckdb:///tmp/x/h.duckdb").ok(),
            Some(DestinationUrl::DuckDb("/tmp/x/h.duckdb".into()))
        );
        assert_eq!(
            DestinationUrl::parse("data/h.duckdb").ok(),
            Some(DestinationUrl::DuckDb("data/h.duckdb".into()))
        );
        assert!(DestinationUrl::parse("mysql://x").is_err());
        assert_eq!(
            DestinationUrl::parse("parquet:///data/lake").ok(),
            Some(DestinationUrl::Parquet("/data/lake".into()))
        );
        assert!(matches!(
            DestinationUrl::parse("postgres://u:p@h:6543/db?sslmode=require"),
            Ok(DestinationUrl::Postgres(_))
        ));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("duckdb:///x.duckdb"), "duckdb:///x.duckdb");
    }
}
