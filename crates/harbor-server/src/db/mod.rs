//! The server's query layer: one interface over a DuckDB file or a Postgres/Supabase database.
//!
//! Routes build SQL once, with `?` placeholders and the few expressions that differ between the two
//! engines taken from [`Dialect`], and get back plain [`Row`]s. Values are always bound as
//! parameters, never spliced into SQL.
//!
//! - **DuckDB**: a small pool of connections cloned from the destination's open database; queries
//!   run on the blocking pool so they never stall the reactor.
//! - **Postgres**: a `deadpool-postgres` pool over `tokio-postgres` (the driver the destination
//!   uses), TLS as the URL's `sslmode` says. Statements go out with `query_typed` (unnamed, one round
//!   trip, nothing prepared that could outlive a transaction). Each session reads the URL's schema
//!   in UTC; behind a transaction pooler (`pooler=transaction`, Supabase's port 6543) there is no
//!   session state between statements, so every request runs in its own transaction that sets
//!   `search_path` and `TimeZone` with `SET LOCAL`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use duckdb::Connection;
use tokio::sync::Semaphore;

use crate::error::ApiError;

mod dialect;
mod rows;
mod scan;

pub use dialect::Dialect;

pub use rows::duck_each;
use rows::{duck_rows, pg_rows};
pub use scan::Each;

/// A value bound to a `?` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL NULL (typed as text on Postgres: cast it where another type is meant).
    Null,
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Any integer type.
    Int(i64),
    /// Any floating point or decimal type.
    Float(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// A result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Cell>);

fn mismatch(i: usize, want: &str, got: &Cell) -> ApiError {
    ApiError::internal("result row", format!("column {i}: expected {want}, got {got:?}"))
}

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell, ApiError> {
        self.0
            .get(i)
            .ok_or_else(|| ApiError::internal("result row", format!("no column {i}")))
    }

    /// Text or NULL.
    pub fn text(&self, i: usize) -> Result<Option<String>, ApiError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            other => Err(mismatch(i, "text", other)),
        }
    }

    /// Text that must be there.
    pub fn string(&self, i: usize) -> Result<String, ApiError> {
        self.text(i)?
            .ok_or_else(|| ApiError::internal("result row", format!("column {i} is NULL")))
    }

    /// An integer or NULL.
    pub fn int(&self, i: usize) -> Result<Option<i64>, ApiError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Int(n) => Ok(Some(*n)),
            other => Err(mismatch(i, "integer", other)),
        }
    }

    /// A number or NULL (integers widen).
    pub fn float(&self, i: usize) -> Result<Option<f64>, ApiError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Float(f) => Ok(Some(*f)),
            Cell::Int(n) => Ok(Some(*n as f64)),
            other => Err(mismatch(i, "number", other)),
        }
    }

    /// A boolean or NULL.
    pub fn bool(&self, i: usize) -> Result<Option<bool>, ApiError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Bool(b) => Ok(Some(*b)),
            other => Err(mismatch(i, "boolean", other)),
        }
    }
}

/// One statement with its parameters.
pub type Statement = (String, Vec<Param>);

enum Backend {
    Duck {
        idle: Arc<Mutex<Vec<Connection>>>,
        permits: Arc<Semaphore>,
    },
    Pg {
        pool: Pool,
        /// `SET LOCAL ...` sent at the start of every transaction (transaction pooler mode).
        scoped: Option<String>,
    },
}

/// A pooled DuckDB connection, given back (with its permit) when dropped: also when the query
/// panics, so that a panic costs one answer and never a connection of the pool.
struct Lease {
    conn: Option<Connection>,
    idle: Arc<Mutex<Vec<Connection>>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.idle.lock()) {
            idle.push(conn);
        }
    }
}

/// The database the API reads.
pub struct Db {
    backend: Backend,
    columns: Mutex<Option<(Instant, Columns)>>,
    generation: AtomicU64,
    /// When `_harbor_loads` was last looked at, and what it said (Postgres: other processes load).
    loads_seen: tokio::sync::Mutex<(Option<Instant>, Option<String>)>,
}

/// How often the server looks for loads committed by other processes (Postgres).
pub const EXTERNAL_CHECK: Duration = Duration::from_millis(250);

/// Column names per table (only the tables the API reads).
pub type Columns = BTreeMap<String, BTreeSet<String>>;

const API_TABLES: &[&str] = &[
    "submissions",
    "comments",
    "opportunity_analysis",
    "themes",
    "theme_members",
    "theme_weeks",
    "_harbor_runs",
    "_harbor_loads",
    "_harbor_cutover",
    "_harbor_cutover_audit",
];

fn session_settings(schema: &str, local: bool) -> String {
    let set = if local { "SET LOCAL" } else { "SET" };
    format!(
        "{set} search_path TO \"{}\"; {set} TimeZone TO 'UTC'",
        schema.replace('"', "\"\"")
    )
}

fn pg_error(context: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(context, e)
}

/// A transaction: a write reads committed rows, a read one snapshot; behind a transaction pooler
/// it starts with the session settings (`scoped`).
async fn begin<'a>(
    client: &'a mut deadpool_postgres::Client,
    write: bool,
    scoped: &Option<String>,
) -> Result<deadpool_postgres::Transaction<'a>, ApiError> {
    let tx = client
        .build_transaction()
        .read_only(!write)
        .isolation_level(if write {
            tokio_postgres::IsolationLevel::ReadCommitted
        } else {
            tokio_postgres::IsolationLevel::RepeatableRead
        })
        .start()
        .await
        .map_err(|e| pg_error("postgres transaction", e))?;
    if let Some(set) = scoped {
        tx.batch_execute(set)
            .await
            .map_err(|e| pg_error("postgres session", e))?;
    }
    Ok(tx)
}

impl Db {
    /// A pool of `size` connections cloned from `conn` (which stays with the caller).
    pub fn new(conn: &Connection, size: usize) -> Result<Self, duckdb::Error> {
        let mut idle = Vec::new();
        for _ in 0..size.max(1) {
            idle.push(conn.try_clone()?);
        }
        Ok(Self::with(Backend::Duck {
            permits: Arc::new(Semaphore::new(idle.len())),
            idle: Arc::new(Mutex::new(idle)),
        }))
    }

    /// A pool of at most `size` connections to the Postgres database of `url` (the destination
    /// URL: `schema`, `sslmode` and `pooler` apply). Connections open on first use; see
    /// [`Db::check`].
    pub fn postgres(url: &str, size: usize) -> Result<Self, crate::Error> {
        let cfg = harbor_postgres::PgConfig::parse(url).map_err(|e| crate::Error::Config(e.to_string()))?;
        let tls = harbor_postgres::tls(cfg.sslmode).map_err(|e| crate::Error::Config(e.to_string()))?;
        let manager = Manager::from_config(
            cfg.async_driver(),
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let mut builder = Pool::builder(manager)
            .max_size(size.max(1))
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(cfg.connect_timeout.max(Duration::from_secs(1))))
            .runtime(deadpool_postgres::Runtime::Tokio1);
        let scoped = if cfg.transaction_pooler {
            Some(session_settings(&cfg.schema, true))
        } else {
            let set: Arc<str> = session_settings(&cfg.schema, false).into();
            builder = builder.post_create(Hook::async_fn(move |client, _| {
                let set = Arc::clone(&set);
                Box::pin(async move { client.batch_execute(&set).await.map_err(HookError::Backend) })
            }));
            None
        };
        let pool = builder
            .build()
            .map_err(|e| crate::Error::Config(format!("postgres pool: {e}")))?;
        Ok(Self::with(Backend::Pg { pool, scoped }))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            columns: Mutex::new(None),
            generation: AtomicU64::new(0),
            loads_seen: tokio::sync::Mutex::new((None, None)),
        }
    }

    /// The engine's SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Duck { .. } => Dialect::DuckDb,
            Backend::Pg { .. } => Dialect::Postgres,
        }
    }

    /// Connects and answers one query, to fail at startup rather than on the first request; the
    /// error says what failed (never with the password).
    pub async fn check(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Duck { .. } => self
                .query("SELECT 1".into(), Vec::new())
                .await
                .map(|_| ())
                .map_err(|e| e.message),
            Backend::Pg { pool, scoped } => {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                let sql = match scoped {
                    Some(set) => format!("BEGIN; {set}; SELECT current_schema(); COMMIT"),
                    None => "SELECT current_schema()".to_owned(),
                };
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| match e.as_db_error() {
                        Some(db) => db.message().to_owned(),
                        None => e.to_string(),
                    })
            }
        }
    }

    /// Runs `f` with a DuckDB connection on the blocking pool (DuckDB only).
    ///
    /// The connection goes back to the pool, and its permit is released, by the blocking task
    /// itself: a request that is cancelled (timeout, client gone) while its query runs must not
    /// lose the connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let Backend::Duck { idle, permits } = &self.backend else {
            return Err(ApiError::internal("query", "not a DuckDB database"));
        };
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("connection pool", e))?;
        let conn = idle
            .lock()
            .map_err(|_| ApiError::internal("connection pool", "poisoned"))?
            .pop()
            // The semaphore has as many permits as there are idle connections, so one is idle here.
            .ok_or_else(|| ApiError::internal("connection pool", "no idle connection"))?;
        let lease = Lease {
            conn: Some(conn),
            idle: Arc::clone(idle),
            _permit: permit,
        };
        tokio::task::spawn_blocking(move || {
            let conn = lease
                .conn
                .as_ref()
                .ok_or_else(|| ApiError::internal("connection pool", "empty lease"))?;
            f(conn)
        })
        .await
        .map_err(|e| ApiError::internal("query task", e))?
    }

    /// The rows of one query.
    pub async fn query(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>, ApiError> {
        let mut out = self.read(vec![(sql, params)]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// The rows of several queries, read from one snapshot of the database.
    pub async fn read(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<Row>>, ApiError> {
        self.execute(stmts, false).await
    }

    /// Runs statements in one transaction (all or nothing) and returns their rows.
    pub async fn write(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<Row>>, ApiError> {
        let out = self.execute(stmts, true).await?;
        self.invalidate();
        Ok(out)
    }

    async fn execute(&self, stmts: Vec<Statement>, write: bool) -> Result<Vec<Vec<Row>>, ApiError> {
        match &self.backend {
            Backend::Duck { .. } => {
                self.run(move |c| {
                    let many = write || stmts.len() > 1;
                    if many {
                        c.execute_batch("BEGIN TRANSACTION")?;
                    }
                    let result = stmts
                        .iter()
                        .map(|(sql, params)| duck_rows(c, sql, params))
                        .collect::<Result<Vec<_>, _>>();
                    if many {
                        match &result {
                            Ok(_) => c.execute_batch("COMMIT")?,
                            Err(_) => {
                                let _ = c.execute_batch("ROLLBACK");
                            }
                        }
                    }
                    result
                })
                .await
            }
            Backend::Pg { pool, scoped } => {
                let mut client = pool.get().await.map_err(|e| pg_error("postgres connection", e))?;
                let sqls: Vec<(String, Vec<Param>)> = stmts
                    .into_iter()
                    .map(|(sql, p)| (Dialect::Postgres.placeholders(&sql), p))
                    .collect();
                if !write && scoped.is_none() && sqls.len() == 1 {
                    let (sql, params) = &sqls[0];
                    return Ok(vec![pg_rows(&**client, sql, params).await?]);
                }
                let tx = begin(&mut client, write, scoped).await?;
                let mut out = Vec::with_capacity(sqls.len());
                for (sql, params) in &sqls {
                    out.push(pg_rows(&*tx, sql, params).await?);
                }
                tx.commit().await.map_err(|e| pg_error("postgres commit", e))?;
                Ok(out)
            }
        }
    }

    /// The columns of the API's tables (cached for a second: loads may add columns at any time).
    pub async fn columns(&self) -> Result<Columns, ApiError> {
        if let Ok(cache) = self.columns.lock()
            && let Some((at, cols)) = cache.as_ref()
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(cols.clone());
        }
        let list = API_TABLES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(",");
        let rows = self
            .query(
                format!(
                    "SELECT CAST(table_name AS VARCHAR), CAST(column_name AS VARCHAR) \
                     FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name IN ({list})"
                ),
                Vec::new(),
            )
            .await?;
        let mut cols = Columns::new();
        for r in rows {
            cols.entry(r.string(0)?).or_default().insert(r.string(1)?);
        }
        if let Ok(mut cache) = self.columns.lock() {
            *cache = Some((Instant::now(), cols.clone()));
        }
        Ok(cols)
    }

    /// Moves the generation on when another process committed a load since the last look.
    ///
    /// On Postgres, scheduled runs, shards and watchers write while the server runs; every load
    /// (scoring included) commits a `_harbor_loads` row in its transaction, so the row count and the
    /// newest `inserted_at` change exactly when committed data changed. Looked at no more often than
    /// [`EXTERNAL_CHECK`], by one request at a time (the others use the answer of that look). DuckDB
    /// needs none of this: while the server holds the file no other process can write it.
    pub async fn notice_external_loads(&self) {
        if self.dialect() != Dialect::Postgres {
            return;
        }
        let mut seen = self.loads_seen.lock().await;
        if seen.0.is_some_and(|at| at.elapsed() < EXTERNAL_CHECK) {
            return;
        }
        seen.0 = Some(Instant::now());
        let rows = self
            .query(
                "SELECT CAST(count(*) AS TEXT) || '/' || COALESCE(CAST(max(inserted_at) AS TEXT), '') FROM _harbor_loads"
                    .into(),
                Vec::new(),
            )
            .await;
        // No loads table yet: nothing was loaded, so nothing changed.
        let Ok(rows) = rows else { return };
        let now = rows.first().and_then(|r| r.text(0).ok().flatten());
        if seen.1.is_some() && seen.1 != now {
            self.invalidate();
        }
        seen.1 = now;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        let sql = "SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE '%?%' AND c IN (?, ?)";
        assert_eq!(
            Dialect::Postgres.placeholders(sql),
            "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b LIKE '%?%' AND c IN ($2, $3)"
        );
        assert_eq!(Dialect::DuckDb.placeholders(sql), sql);
    }

    #[tokio::test]
    async fn a_query_that_panics_gives_its_connection_back() {
        let conn = Connection::open_in_memory().expect("duckdb");
        let db = Db::new(&conn, 2).expect("pool");
        for _ in 0..3 {
            let failed = db.run(|_| -> Result<(), ApiError> { panic!("boom") }).await;
            assert!(failed.is_err());
        }
        let rows = db.query("SELECT 41 + 1".into(), Vec::new()).await.expect("query");
        assert_eq!(rows[0].int(0).expect("int"), Some(42));
    }
}
