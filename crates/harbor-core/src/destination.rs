//! The contract every destination implements.

use crate::package::Package;
use crate::schema::Schema;
use crate::state::PipelineState;

/// An error from a destination, classified once for retry loops.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DestinationError {
    /// What went wrong, naming the table, file or URL involved.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
    /// Whether retrying the same operation may succeed (lost connection, lock held).
    pub transient: bool,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DestinationError {
    /// A terminal error.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            transient: false,
            source: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Marks the error transient.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// Adds the underlying error.
    pub fn source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }
}

/// What one committed load did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// The load id.
    pub load_id: String,
    /// Rows written per table.
    pub rows: Vec<(String, u64)>,
    /// Schema changes applied (human readable).
    pub schema_changes: Vec<String>,
    /// The package was already committed before (a replay after a crash); nothing was written.
    pub already_loaded: bool,
}

/// One row of `_harbor_loads`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRecord {
    /// Load id.
    pub load_id: String,
    /// Pipeline.
    pub pipeline: String,
    /// Commit time (RFC 3339).
    pub inserted_at: String,
    /// Rows loaded.
    pub rows: u64,
    /// Schema version after the load.
    pub schema_version: u64,
    /// What was extracted.
    pub source: String,
}

/// A place data is loaded into. Every method is synchronous; async destinations block internally.
pub trait Destination: Send {
    /// A short description for messages (`duckdb:///path/harbor.duckdb`), without secrets.
    fn describe(&self) -> String;

    /// The latest stored schema of a pipeline (empty when none).
    fn stored_schema(&mut self, pipeline: &str) -> Result<Schema, DestinationError>;

    /// The committed state of a pipeline.
    fn stored_state(&mut self, pipeline: &str) -> Result<PipelineState, DestinationError>;

    /// Whether a load id is committed.
    fn is_loaded(&mut self, load_id: &str) -> Result<bool, DestinationError>;

    /// Loads every job of the package, the package's state and its `_harbor_loads` row in one
    /// transaction. Called with jobs already in `started/`. Must be idempotent: a package whose id is
    /// already in `_harbor_loads` is not loaded again.
    fn load(&mut self, package: &Package) -> Result<LoadReport, DestinationError>;

    /// The most recent loads, newest first.
    fn loads(&mut self, pipeline: Option<&str>, limit: usize) -> Result<Vec<LoadRecord>, DestinationError>;

    /// The content hashes (`_harbor_content_hash`, parsed from hex) stored in the merge-disposition
    /// root tables of `schema`, so that a load can skip input records it has already stored. A
    /// destination that cannot answer cheaply returns an empty set (nothing is skipped).
    fn content_hashes(
        &mut self,
        schema: &crate::Schema,
    ) -> Result<std::collections::HashSet<u128>, DestinationError> {
        let _ = schema;
        Ok(Default::default())
    }

    /// Row counts of the data tables.
    fn table_counts(&mut self) -> Result<Vec<(String, u64)>, DestinationError>;

    /// The indexes of the destination's tables (empty where the engine keeps none).
    fn indexes(&mut self) -> Result<Vec<IndexInfo>, DestinationError> {
        Ok(Vec::new())
    }

    /// Runs a read-only SQL query (portable SQL: DuckDB and Postgres) and returns each row as a JSON
    /// object keyed by column name. Used by steps that read loaded data back (scoring).
    fn query_json(&mut self, sql: &str) -> Result<Vec<serde_json::Value>, DestinationError> {
        let _ = sql;
        Err(
            DestinationError::new(format!("{} cannot answer SQL queries", self.describe()))
                .hint("scoring reads loaded posts back; use the duckdb or postgres destination"),
        )
    }

    /// Runs SQL statements that change no data tables' rows (views such as `opportunities`).
    fn execute_sql(&mut self, sql: &str) -> Result<(), DestinationError> {
        let _ = sql;
        Err(
            DestinationError::new(format!("{} cannot run SQL statements", self.describe()))
                .hint("views are created on the duckdb and postgres destinations"),
        )
    }

    /// Writes the rows of one data table, as a reader of this destination sees them (merge applied),
    /// to a Parquet file at `out`: columns in table order with the Arrow types of their logical types
    /// (JSON as text, timestamps as UTC microseconds). `filter` is an SQL predicate in the
    /// destination's dialect. Returns the rows written. Used by export and backup.
    fn export_table(
        &mut self,
        table: &str,
        filter: Option<&str>,
        out: &std::path::Path,
    ) -> Result<u64, DestinationError> {
        let _ = (table, filter, out);
        Err(DestinationError::new(format!(
            "{} does not support reading tables back",
            self.describe()
        ))
        .hint("export and backup work with the duckdb, postgres and parquet destinations"))
    }
}

/// One index of a destination table, as `harbor schema` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexInfo {
    /// The table.
    pub table: String,
    /// The index name.
    pub name: String,
    /// Its definition as the database prints it (`CREATE INDEX ...`).
    pub definition: String,
    /// What it serves, for the indexes harbor creates for the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}
