//! The RedditHarbor HTTP API: axum routes over the destination (DuckDB or Postgres/Supabase), an
//! OpenAPI document generated from the handlers (utoipa), bearer tokens with read/write/admin
//! scopes, the dashboard, metrics, and runs started in the background.
//!
//! Every route reads through [`db::Db`], one query layer over both engines: on DuckDB the binary
//! opens the file once and the server clones that connection into a small pool (API queries and
//! background runs share one database in one process); on Postgres the server keeps a pool of its
//! own connections to the destination URL.

pub mod auth;
pub mod cache;
pub mod config;
pub mod conn;
pub mod db;
pub mod error;
pub mod extract;
pub mod model;
pub mod ops_store;
pub mod pages;
pub mod routes;
pub mod runs;
pub mod seed;
pub mod state;
pub mod tokens;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use config::ServerConfig;
pub use error::{Error, Result};
pub use routes::{ApiDoc, router};
pub use runs::{RunJob, RunLauncher, RunOutcome};
pub use state::{AppState, MetricsRenderer};
pub use tokens::{Scope, TokenRecord, TokenStore};

/// Everything the server needs besides the listener.
pub struct ServerParts {
    /// Limits, CORS, timeouts.
    pub config: ServerConfig,
    /// The token file.
    pub tokens: PathBuf,
    /// Executes `POST /api/v1/runs`; `None` disables it.
    pub launcher: Option<Arc<dyn RunLauncher>>,
    /// Directory `POST /api/v1/runs` may load files from.
    pub inbox: PathBuf,
    /// Pipeline name.
    pub pipeline: String,
    /// Destination description (no credentials).
    pub destination: String,
    /// Extra Prometheus metrics.
    pub metrics: Option<Arc<MetricsRenderer>>,
}

impl AppState {
    /// The shared state over a database pool.
    pub fn new(db: db::Db, parts: ServerParts) -> Result<Arc<AppState>> {
        Ok(Arc::new(AppState {
            db,
            tokens: TokenStore::new(parts.tokens),
            runs: Arc::new(runs::RunRegistry::new(
                parts.launcher,
                parts.inbox,
                parts.pipeline.clone(),
            )),
            config: parts.config.clone(),
            pipeline: parts.pipeline,
            destination: parts.destination,
            started: Instant::now(),
            responses: Default::default(),
            metrics: parts.metrics,
            cache: Default::default(),
            pages: pages::PageIndex::new(parts.config.page_index_bytes),
        }))
    }
}

/// Binds the configured address.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves until `shutdown` completes, then lets in-flight requests finish for up to the configured
/// grace period.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let grace = state.config.shutdown_grace;
    // The listings' page index is built before the first clients need it (see `pages`).
    let warm = Arc::clone(&state);
    tokio::spawn(async move { warm.pages.build_now(&warm).await });
    let app = router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(conn::ShapedListener::new(listener), app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("Shutting down: finishing in-flight requests");
        let _ = tx.send(());
    });
    let mut task = tokio::spawn(async move { server.await });
    tokio::select! {
        res = &mut task => return res.map_err(|e| Error::Serve(std::io::Error::other(e)))?.map_err(Error::Serve),
        _ = rx => {}
    }
    match tokio::time::timeout(grace, &mut task).await {
        Ok(res) => res
            .map_err(|e| Error::Serve(std::io::Error::other(e)))?
            .map_err(Error::Serve),
        Err(_) => {
            tracing::warn!("Grace period over: closing remaining connections");
            task.abort();
            Ok(())
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
