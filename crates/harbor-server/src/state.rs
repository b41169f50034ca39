//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use crate::config::ServerConfig;
use crate::db::Db;
use crate::runs::RunRegistry;
use crate::tokens::TokenStore;

/// Renders extra Prometheus text (e.g. from run traces) with a database connection.
pub type MetricsRenderer = dyn Fn(&duckdb::Connection) -> String + Send + Sync;

/// Shared server state.
pub struct AppState {
    /// Query connections.
    pub db: Db,
    /// Bearer tokens.
    pub tokens: TokenStore,
    /// Limits and CORS.
    pub config: ServerConfig,
    /// Runs started through the API.
    pub runs: Arc<RunRegistry>,
    /// Pipeline name shown in `/status`.
    pub pipeline: String,
    /// Destination description shown in `/status`.
    pub destination: String,
    /// Server start, for uptime.
    pub started: Instant,
    /// Requests answered, by status class (index 0 = 1xx ... 4 = 5xx).
    pub responses: [AtomicU64; 5],
    /// Extra metrics (run traces), if the binary provides a renderer.
    pub metrics: Option<Arc<MetricsRenderer>>,
}
