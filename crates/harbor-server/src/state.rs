//! What every handler shares.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::HeaderName;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::cache::{Hit, ResponseCache};
use crate::config::ServerConfig;
use crate::db::Db;
use crate::error::ApiError;
use crate::pages::PageIndex;
use crate::runs::RunRegistry;
use crate::tokens::TokenStore;

/// Renders extra Prometheus text (e.g. from run traces); called on the blocking pool.
pub type MetricsRenderer = dyn Fn() -> String + Send + Sync;

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
    /// Answers of the list endpoints, reused until the data changes.
    pub cache: ResponseCache,
    /// The listings' rows in their order (DuckDB), for uncached pages.
    pub pages: PageIndex,
}

impl AppState {
    /// Moves on whenever the server changes the data (a run it started ends, a cutover change).
    pub fn generation(&self) -> u64 {
        self.db.generation() + self.runs.finished()
    }

    /// A JSON answer for the request `key` (path and query), shared with identical requests
    /// while the data is unchanged (see [`crate::cache`]); `x-harbor-cache` says `hit` or `miss`.
    pub async fn cached_json<T, F, Fut>(&self, key: &str, compute: F) -> Result<Response, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.cached_body(key, || async move { json_body(&compute().await?) })
            .await
    }

    /// [`AppState::cached_json`] for an answer that is already JSON text.
    pub async fn cached_body<F, Fut>(&self, key: &str, compute: F) -> Result<Response, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        self.db.notice_external_loads().await;
        let (body, hit) = self.cache.get_or_compute(key, self.generation(), compute).await?;
        let hit = match hit {
            Hit::Hit => "hit",
            Hit::Miss => "miss",
        };
        Ok((
            [
                (CONTENT_TYPE, "application/json"),
                (HeaderName::from_static(CACHE_HEADER), hit),
            ],
            body,
        )
            .into_response())
    }
}

/// A value as a JSON response body.
pub fn json_body<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("response", e))
}

/// Response header telling whether a list answer was reused.
pub const CACHE_HEADER: &str = "x-harbor-cache";
