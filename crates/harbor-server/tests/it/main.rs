//! Route tests of the API against a seeded DuckDB, through the real router (no network).

mod data;
mod harness;
mod limits;
mod openapi;
mod scopes;
