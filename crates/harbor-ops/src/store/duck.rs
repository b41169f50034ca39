//! [`SqlStore`] over a DuckDB connection.

use std::path::Path;

use duckdb::types::{TimeUnit, ToSqlOutput, Value as DuckValue};
use duckdb::{Connection, ToSql, params_from_iter};

use super::{Dialect, SqlStore, Stmt, Value};
use crate::error::{Error, Result};

/// A DuckDB database: its own connection, or a clone of the destination's connection (so one
/// process never opens the same file twice).
pub struct DuckStore {
    conn: Connection,
    describe: String,
}

impl DuckStore {
    /// Opens (creating if needed) a database file.
    pub fn open(path: &Path) -> Result<Self> {
        let describe = format!("duckdb://{}", path.display());
        harbor_duckdb::create_if_missing(path).map_err(|e| Error::Open {
            store: describe.clone(),
            message: e.to_string(),
        })?;
        let conn = Connection::open(path).map_err(|e| Error::Open {
            store: describe.clone(),
            message: lock_hint(e.to_string()),
        })?;
        Ok(Self { conn, describe })
    }

    /// An in-memory database: operations tables that live as long as the process (for destinations
    /// that cannot hold them, when their sidecar file is busy).
    pub fn in_memory(describe: impl Into<String>) -> Result<Self> {
        let describe = describe.into();
        let conn = Connection::open_in_memory().map_err(|e| Error::Open {
            store: describe.clone(),
            message: e.to_string(),
        })?;
        Ok(Self { conn, describe })
    }

    /// Wraps a connection (e.g. `DuckDbDestination::connection().try_clone()`).
    pub fn from_connection(conn: Connection, describe: impl Into<String>) -> Self {
        Self {
            conn,
            describe: describe.into(),
        }
    }

    fn err(&self, what: &str) -> impl Fn(duckdb::Error) -> Error + use<> {
        let store = self.describe.clone();
        let what = what.to_owned();
        move |e| Error::Sql {
            store: store.clone(),
            what: what.clone(),
            message: e.to_string(),
        }
    }
}

fn lock_hint(message: String) -> String {
    if message.contains("Could not set lock") || message.contains("Conflicting lock") {
        format!("{message} (another harbor process has this DuckDB file open; wait for it to finish)")
    } else {
        message
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(match self {
            Value::Null => DuckValue::Null,
            Value::Bool(b) => DuckValue::Boolean(*b),
            Value::Int(i) => DuckValue::BigInt(*i),
            Value::Float(f) => DuckValue::Double(*f),
            Value::Text(s) => DuckValue::Text(s.clone()),
        }))
    }
}

fn from_duck(v: DuckValue) -> Value {
    match v {
        DuckValue::Null => Value::Null,
        DuckValue::Boolean(b) => Value::Bool(b),
        DuckValue::TinyInt(i) => Value::Int(i.into()),
        DuckValue::SmallInt(i) => Value::Int(i.into()),
        DuckValue::Int(i) => Value::Int(i.into()),
        DuckValue::BigInt(i) => Value::Int(i),
        DuckValue::HugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        DuckValue::UHugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        DuckValue::UTinyInt(i) => Value::Int(i.into()),
        DuckValue::USmallInt(i) => Value::Int(i.into()),
        DuckValue::UInt(i) => Value::Int(i.into()),
        DuckValue::UBigInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        DuckValue::Float(f) => Value::Float(f.into()),
        DuckValue::Double(f) => Value::Float(f),
        DuckValue::Decimal(d) => d.to_string().parse().map_or(Value::Null, Value::Float),
        DuckValue::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n.saturating_mul(1_000_000),
                TimeUnit::Millisecond => n.saturating_mul(1_000),
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            chrono::DateTime::from_timestamp_micros(micros)
                .map_or(Value::Null, |t| Value::Text(t.naive_utc().to_string()))
        }
        DuckValue::Text(s) | DuckValue::Enum(s) => Value::Text(s),
        other => Value::Text(format!("{other:?}")),
    }
}

impl SqlStore for DuckStore {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn batch(&mut self, sql: &str, what: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(self.err(what))
    }

    fn execute(&mut self, sql: &str, params: &[Value], what: &str) -> Result<u64> {
        let n = self
            .conn
            .execute(sql, params_from_iter(params.iter()))
            .map_err(self.err(what))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value], what: &str) -> Result<Vec<Vec<Value>>> {
        let e = self.err(what);
        let mut stmt = self.conn.prepare(sql).map_err(&e)?;
        let mut rows = stmt.query(params_from_iter(params.iter())).map_err(&e)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(&e)? {
            let n = row.as_ref().column_count();
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(from_duck(row.get::<_, DuckValue>(i).map_err(&e)?));
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn transaction(&mut self, stmts: &[Stmt], what: &str) -> Result<()> {
        let store = self.describe.clone();
        let fail = |e: duckdb::Error| Error::Sql {
            store: store.clone(),
            what: what.to_owned(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(fail)?;
        for s in stmts {
            tx.execute(&s.sql, params_from_iter(s.params.iter()))
                .map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }
}
