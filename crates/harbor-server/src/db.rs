//! A small pool of DuckDB connections on one open database; queries run on the blocking pool so
//! they never stall the reactor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckdb::Connection;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Connections to one database.
pub struct Db {
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    columns: Mutex<Option<(Instant, Columns)>>,
    generation: AtomicU64,
}

/// Column names per table (only the tables the API reads).
pub type Columns = BTreeMap<String, BTreeSet<String>>;

const API_TABLES: &[&str] = &[
    "submissions",
    "comments",
    "opportunity_analysis",
    "_harbor_runs",
    "_harbor_loads",
    "_harbor_cutover",
    "_harbor_cutover_audit",
];

impl Db {
    /// A pool of `size` connections cloned from `conn` (which stays with the caller).
    pub fn new(conn: &Connection, size: usize) -> Result<Self, duckdb::Error> {
        let mut idle = Vec::new();
        for _ in 0..size.max(1) {
            idle.push(conn.try_clone()?);
        }
        Ok(Self {
            permits: Arc::new(Semaphore::new(idle.len())),
            idle: Arc::new(Mutex::new(idle)),
            columns: Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    /// Runs `f` with a connection on the blocking pool.
    ///
    /// The connection goes back to the pool, and its permit is released, by the blocking task
    /// itself: a request that is cancelled (timeout, client gone) while its query runs must not
    /// lose the connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("connection pool", e))?;
        let conn = self
            .idle
            .lock()
            .map_err(|_| ApiError::internal("connection pool", "poisoned"))?
            .pop()
            // The semaphore has as many permits as there are idle connections, so one is idle here.
            .ok_or_else(|| ApiError::internal("connection pool", "no idle connection"))?;
        let idle = Arc::clone(&self.idle);
        tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            if let Ok(mut idle) = idle.lock() {
                idle.push(conn);
            }
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::internal("query task", e))?
    }

    /// The columns of the API's tables (cached for a second: loads may add columns at any time).
    pub async fn columns(&self) -> Result<Columns, ApiError> {
        if let Ok(cache) = self.columns.lock()
            && let Some((at, cols)) = cache.as_ref()
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(cols.clone());
        }
        let cols = self
            .run(|c| {
                let list = API_TABLES
                    .iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut stmt = c.prepare(&format!(
                    "SELECT table_name, column_name FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name IN ({list})"
                ))?;
                let mut out = Columns::new();
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
                for row in rows {
                    let (t, c) = row?;
                    out.entry(t).or_default().insert(c);
                }
                Ok(out)
            })
            .await?;
        if let Ok(mut cache) = self.columns.lock() {
            *cache = Some((Instant::now(), cols.clone()));
        }
        Ok(cols)
    }

    /// How many times the server changed the data itself (see [`Db::invalidate`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forgets the cached columns and moves the generation on (after the server itself changed a
    /// table).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.columns.lock() {
            *cache = None;
        }
    }
}

/// `table.col` if the column exists, else `NULL`, aliased to `col`; `cast` is applied to the column.
pub fn col_or_null(cols: &Columns, table: &str, alias: &str, col: &str, cast: &str) -> String {
    let present = cols.get(table).is_some_and(|c| c.contains(col));
    if present {
        if cast.is_empty() {
            format!("{alias}.\"{col}\" AS \"{col}\"")
        } else {
            format!("CAST({alias}.\"{col}\" AS {cast}) AS \"{col}\"")
        }
    } else if cast.is_empty() {
        format!("NULL AS \"{col}\"")
    } else {
        format!("CAST(NULL AS {cast}) AS \"{col}\"")
    }
}

/// Whether a table exists.
pub fn has_table(cols: &Columns, table: &str) -> bool {
    cols.contains_key(table)
}

/// Whether a column exists.
pub fn has_col(cols: &Columns, table: &str, col: &str) -> bool {
    cols.get(table).is_some_and(|c| c.contains(col))
}
