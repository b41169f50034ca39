//! A small SQL interface over the destinations that hold the operations tables (`_harbor_runs`,
//! `_harbor_cutover`, `_harbor_cutover_audit`) and the data the checks read.
//!
//! Statements are written once for every dialect: parameters are `$1, $2, ...` and carry explicit
//! casts (`CAST($1 AS TEXT)`), results are read as [`Value`]s, and anything that is not a boolean,
//! integer, float or text (timestamps, JSON) is cast to `TEXT` in the statement.

mod duck;
mod pg;

pub use duck::DuckStore;
pub use pg::PgStore;

use crate::error::Result;

/// The SQL dialect of a store, for the few statements that differ (DDL types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// PostgreSQL (Supabase included).
    Postgres,
}

impl Dialect {
    /// The type of a double column.
    pub fn double(self) -> &'static str {
        match self {
            Dialect::DuckDb => "DOUBLE",
            Dialect::Postgres => "DOUBLE PRECISION",
        }
    }

    /// The type of a JSON column.
    pub fn json(self) -> &'static str {
        match self {
            Dialect::DuckDb => "JSON",
            Dialect::Postgres => "JSONB",
        }
    }
}

/// A parameter or a result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer type.
    Int(i64),
    /// Any floating point type.
    Float(f64),
    /// Text (and anything cast to text).
    Text(String),
}

impl Value {
    /// The value as an integer (floats truncated, text parsed); `None` for NULL.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) => Some(*f as i64),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Null => None,
        }
    }

    /// The value as a float; `None` for NULL.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Null => None,
        }
    }

    /// The value as text; `None` for NULL.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
        }
    }

    /// The value as JSON (text is parsed when it is JSON, kept as a string otherwise).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}

/// One statement with its parameters.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// SQL with `$n` placeholders.
    pub sql: String,
    /// The parameters.
    pub params: Vec<Value>,
}

impl Stmt {
    /// A statement.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// A database holding operations tables: the pipeline's destination, or a legacy database.
pub trait SqlStore: Send {
    /// The dialect.
    fn dialect(&self) -> Dialect;

    /// A description without secrets (`duckdb:///path`, `postgres://user@host/db`).
    fn describe(&self) -> String;

    /// Runs statements without parameters (DDL); `what` names the task in errors.
    fn batch(&mut self, sql: &str, what: &str) -> Result<()>;

    /// Runs one statement; returns the rows affected.
    fn execute(&mut self, sql: &str, params: &[Value], what: &str) -> Result<u64>;

    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value], what: &str) -> Result<Vec<Vec<Value>>>;

    /// Runs statements in one transaction: all of them or none.
    fn transaction(&mut self, stmts: &[Stmt], what: &str) -> Result<()>;

    /// Whether a table exists.
    fn table_exists(&mut self, table: &str) -> Result<bool> {
        let rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_name = CAST($1 AS TEXT)",
            &[table.into()],
            "information_schema.tables",
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0)
    }

    /// The column names of a table, in order (empty when it does not exist).
    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = CAST($1 AS TEXT) ORDER BY ordinal_position",
            &[table.into()],
            "information_schema.columns",
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(|v| v.as_text()))
            .collect())
    }
}

/// Quotes an identifier for either dialect.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Opens the store a destination URL names: `duckdb:///path`, a `*.duckdb` path, or `postgres://...`.
pub fn open(url: &str) -> Result<Box<dyn SqlStore>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PgStore::connect(url)?));
    }
    let path = if let Some(rest) = url.strip_prefix("duckdb://") {
        match rest.strip_prefix('/') {
            Some(p) if !p.contains('/') => p.to_owned(),
            _ => rest.to_owned(),
        }
    } else {
        url.to_owned()
    };
    Ok(Box::new(DuckStore::open(std::path::Path::new(&path))?))
}
