//! The destination conformance suite of RedditHarbor.
//!
//! This crate holds no library code: `tests/it/` runs one set of cases (create tables, add a column,
//! variant column, merge, append, replace, exactly-once replay, concurrent runs, frozen schema, and
//! identical tables across destinations) against every destination: DuckDB, Postgres (a throwaway
//! cluster started by `harbor_testkit::postgres::PgCluster`) and Parquet. A destination that passes
//! them behaves like the others for every reader.
