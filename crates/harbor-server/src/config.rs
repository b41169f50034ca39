//! Server settings: listen address, CORS, limits and timeouts.

use std::time::Duration;

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub bind: String,
    /// Origins allowed to call the API from a browser (CORS), e.g. `https://app.example.com`.
    /// Empty: no CORS headers (same-origin only). `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// A request that takes longer is answered with 503 `timeout`.
    pub request_timeout: Duration,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Largest page size a client may ask for.
    pub max_page: u32,
    /// Page size when the client does not ask.
    pub default_page: u32,
    /// DuckDB connections for queries.
    pub pool_size: usize,
    /// Largest rendered size of a listing's page index per table (0: no index, pages
    /// come from SQL). See [`crate::pages`].
    pub page_index_bytes: usize,
    /// How long in-flight requests may finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            body_limit: 64 * 1024,
            max_page: 500,
            default_page: 50,
            pool_size: 4,
            page_index_bytes: 256 << 20,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}
