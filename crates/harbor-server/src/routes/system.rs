//! `/healthz`, `/metrics`, `/openapi.json`.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::OpenApi;

use crate::auth::{Auth, READ};
use crate::error::{ApiError, ErrorBody};
use crate::model::Health;
use crate::state::AppState;

/// Liveness: answers without a token and without touching the database.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "system",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// The OpenAPI document of this API (no token needed).
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "system",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::routes::ApiDoc::openapi())
}

/// Prometheus text-format metrics: server counters, plus run metrics when the binary renders them.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "system",
    security(("bearer" = ["read"])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn metrics(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP harbor_server_uptime_seconds Seconds since the API server started."
    );
    let _ = writeln!(out, "# TYPE harbor_server_uptime_seconds gauge");
    let _ = writeln!(
        out,
        "harbor_server_uptime_seconds {:.3}",
        st.started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        out,
        "# HELP harbor_server_responses_total HTTP responses by status class."
    );
    let _ = writeln!(out, "# TYPE harbor_server_responses_total counter");
    for (i, n) in st.responses.iter().enumerate() {
        let _ = writeln!(
            out,
            "harbor_server_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            n.load(Ordering::Relaxed)
        );
    }
    let active = u8::from(st.runs.active().is_some());
    let _ = writeln!(
        out,
        "# HELP harbor_server_active_runs Runs started through the API that are still going."
    );
    let _ = writeln!(out, "# TYPE harbor_server_active_runs gauge");
    let _ = writeln!(out, "harbor_server_active_runs {active}");
    let extra = match st.metrics.clone() {
        Some(render) => tokio::task::spawn_blocking(move || render())
            .await
            .map_err(|e| ApiError::internal("metrics task", e))?,
        None => String::new(),
    };
    out.push_str(&extra);
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out))
}
