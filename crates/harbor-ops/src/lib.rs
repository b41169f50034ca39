//! RedditHarbor operations: what running the pipeline in production needs around it.
//!
//! - [`trace`]: one `_harbor_runs` row per run (stages, API calls, 429s, rows, errors, tokens, cost);
//! - [`metrics`]: Prometheus text exposition computed from the destination ([`metrics::render_metrics`]);
//! - [`alert`]: Slack-compatible or generic JSON webhooks, with retries and no secrets;
//! - [`cutover`]: per-subreddit routing between harbor and a legacy command, audit, rollback;
//! - [`store`]: the small SQL interface (DuckDB, Postgres) these are written against.
//!
//! Everything here is synchronous; call it from `spawn_blocking` inside an async runtime.

pub mod alert;
pub mod alert_email;
pub mod check;
pub mod compare;
pub mod config;
pub mod cutover;
pub mod error;
pub mod import;
pub mod legacy;
pub mod metrics;
pub mod redact;
pub mod schedule;
pub mod status;
pub mod store;
pub mod trace;

pub use error::{Error, Result};
