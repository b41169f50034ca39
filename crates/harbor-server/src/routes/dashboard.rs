//! The dashboard at `/`: one page and its scripts, embedded in the binary.

use std::sync::Arc;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

const INDEX: &[u8] = include_bytes!("../../assets/index.html");
const APP_JS: &[u8] = include_bytes!("../../assets/dashboard.js");
const CHART_JS: &[u8] = include_bytes!("../../assets/chart.umd.min.js");

/// Routes of the dashboard (no token: the page asks for one and calls the API with it).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route(
            "/assets/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/chart.umd.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHART_JS) }),
        )
}

fn asset(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body)
}
