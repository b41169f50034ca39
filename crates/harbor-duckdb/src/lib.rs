//! DuckDB destination for RedditHarbor (the embedded default, `./harbor.duckdb`).
//!
//! Loads the Parquet job files of a package with DuckDB's own `read_parquet` (never one INSERT per
//! row), applies the schema diff with `CREATE TABLE` / `ALTER TABLE ADD COLUMN`, merges on the primary
//! key (delete the keys present in the package, insert the latest row per key, replace child rows of
//! merged roots), and writes `_harbor_loads`, `_harbor_state` and `_harbor_schema` in the same
//! transaction.

mod create;
mod ddl;
mod destination;
mod export;

pub use create::create_if_missing;
pub use ddl::{create_table_sql, duck_type, quote};
pub use destination::{DuckDbDestination, DuckDbOptions};
