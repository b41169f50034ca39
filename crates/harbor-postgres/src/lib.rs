//! Postgres and Supabase destination for RedditHarbor
//! (`postgres://user:pass@host:5432/db?schema=reddit&sslmode=require`).
//!
//! A load is one transaction: a per-pipeline advisory lock (`pg_advisory_xact_lock`, or
//! `pg_try_advisory_xact_lock` with `lock=nowait`), the idempotency check on `_harbor_loads`, schema
//! changes (`CREATE TABLE`, `ALTER TABLE ADD COLUMN`), a binary `COPY ... FROM STDIN` of every Parquet
//! job file (into a temporary staging table for merge, straight into the table for append and
//! replace), `INSERT ... ON CONFLICT (pk) DO UPDATE` with the latest row per key for merge (child rows
//! of merged roots are deleted by `_harbor_root_id` and inserted again), then the `_harbor_loads`,
//! `_harbor_state` and `_harbor_schema` rows, and `COMMIT`.
//!
//! URL parameters: `schema` (default `public`), `sslmode` (`disable`, `prefer` (default), `require`
//! (TLS, certificate not checked, as libpq), `verify-full` (checked against the Mozilla roots)),
//! `pooler=transaction` (automatic on port 6543), `lock=nowait`, `connect_timeout` (seconds),
//! `connect_attempts`, `load_attempts`.
//!
//! **Transaction poolers** (Supabase's port 6543, pgbouncer `pool_mode = transaction`) hand each
//! transaction to any server connection, so prepared statements must not outlive a transaction. This
//! destination never relies on them, in every mode: every query uses the simple query protocol, and
//! `COPY` (sent by the driver as an extended-protocol statement) only runs inside the load or export
//! transaction. Locks are transaction-scoped for the same reason. Tests run loads through pgbouncer in
//! transaction mode.
//!
//! **Failures**: connecting retries refused/reset connections and a starting server with backoff; a
//! connection lost during a load rolls the transaction back (Postgres does that when the session ends)
//! and the load is retried from the package (`load_attempts`, default 3); a load whose commit reached
//! the server is recognized by its load id and not applied twice. Passwords never appear in messages.
//!
//! Type mapping: see [`ddl`].

mod config;
mod connect;
mod copy;
pub mod ddl;
mod destination;
mod error;
mod export;
pub mod indexes;
mod load;

pub use config::{PgConfig, SslMode, redact};
pub use connect::{Tls, open_client, tls};
pub use destination::{DataTable, PostgresDestination};
pub use load::DDL_LOCK_TIMEOUT;
