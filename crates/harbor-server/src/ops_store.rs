//! The server's [`Db`] as a [`harbor_ops::store::SqlStore`], so the routes share the operations
//! code of the CLI (`harbor cutover`, run traces) instead of keeping a second copy of its SQL and
//! of its table shapes.
//!
//! `SqlStore` is synchronous: a [`DbStore`] lives on a blocking thread (see [`with_store`]) and
//! waits there on the pool, so no request thread is ever blocked.

use std::sync::Arc;

use harbor_ops::error::{Error as OpsError, Result as OpsResult};
use harbor_ops::store::{Dialect as OpsDialect, SqlStore, Stmt, Value};
use tokio::runtime::Handle;

use crate::db::{Cell, Db, Dialect, Param, Statement};
use crate::error::ApiError;
use crate::state::AppState;

/// The API's database, seen through the operations crate's store trait.
pub struct DbStore {
    state: Arc<AppState>,
    handle: Handle,
}

/// Runs `f` with a store over the server's database on the blocking pool.
pub async fn with_store<T, F>(state: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbStore) -> OpsResult<T> + Send + 'static,
{
    let mut store = DbStore {
        state: Arc::clone(state),
        handle: Handle::current(),
    };
    let out = tokio::task::spawn_blocking(move || f(&mut store))
        .await
        .map_err(|e| ApiError::internal("operations task", e))?;
    out.map_err(ops_error)
}

/// An operations error as an API error: invalid input is the caller's (400), the rest is ours.
pub fn ops_error(e: OpsError) -> ApiError {
    match e {
        OpsError::Invalid(m) => ApiError::invalid(m),
        other => ApiError::internal("operations", other),
    }
}

fn param(v: &Value) -> Param {
    match v {
        Value::Null => Param::Null,
        Value::Bool(b) => Param::Bool(*b),
        Value::Int(i) => Param::Int(*i),
        Value::Float(f) => Param::Float(*f),
        Value::Text(s) => Param::Text(s.clone()),
    }
}

fn value(c: Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) => Value::Int(i),
        Cell::Float(f) => Value::Float(f),
        Cell::Text(s) => Value::Text(s),
    }
}

impl DbStore {
    fn db(&self) -> &Db {
        &self.state.db
    }

    fn sql_error(&self, what: &str, e: ApiError) -> OpsError {
        OpsError::Sql {
            store: self.describe(),
            what: what.to_owned(),
            message: e.message,
        }
    }

    fn run(&self, stmts: Vec<Statement>, write: bool, what: &str) -> OpsResult<Vec<Vec<Vec<Value>>>> {
        let db = self.db();
        let out = if write {
            self.handle.block_on(db.write(stmts))
        } else {
            self.handle.block_on(db.read(stmts))
        };
        let out = out.map_err(|e| self.sql_error(what, e))?;
        Ok(out
            .into_iter()
            .map(|rows| {
                rows.into_iter()
                    .map(|r| r.0.into_iter().map(value).collect())
                    .collect()
            })
            .collect())
    }
}

impl SqlStore for DbStore {
    fn dialect(&self) -> OpsDialect {
        match self.db().dialect() {
            Dialect::DuckDb => OpsDialect::DuckDb,
            Dialect::Postgres => OpsDialect::Postgres,
        }
    }

    fn describe(&self) -> String {
        self.state.destination.clone()
    }

    fn batch(&mut self, sql: &str, what: &str) -> OpsResult<()> {
        // One statement per `;` outside quotes would need a parser; the operations DDL has no
        // `;` inside literals, so splitting on it is exact for what this store is given.
        let stmts: Vec<Statement> = sql
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| (s.to_owned(), Vec::new()))
            .collect();
        self.run(stmts, true, what).map(|_| ())
    }

    /// Runs one statement; the server's pool does not report affected rows, so this returns 0
    /// (no operations code the routes call reads it).
    fn execute(&mut self, sql: &str, params: &[Value], what: &str) -> OpsResult<u64> {
        self.run(
            vec![(sql.to_owned(), params.iter().map(param).collect())],
            true,
            what,
        )
        .map(|_| 0)
    }

    fn query(&mut self, sql: &str, params: &[Value], what: &str) -> OpsResult<Vec<Vec<Value>>> {
        let mut out = self.run(
            vec![(sql.to_owned(), params.iter().map(param).collect())],
            false,
            what,
        )?;
        Ok(out.pop().unwrap_or_default())
    }

    fn transaction(&mut self, stmts: &[Stmt], what: &str) -> OpsResult<()> {
        let stmts = stmts
            .iter()
            .map(|s| (s.sql.clone(), s.params.iter().map(param).collect()))
            .collect();
        self.run(stmts, true, what).map(|_| ())
    }
}
