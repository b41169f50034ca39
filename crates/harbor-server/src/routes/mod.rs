//! The router: one module per resource, the OpenAPI document, and the cross-cutting layers
//! (errors for unknown routes, body limit, timeout, CORS, response counters).

pub mod cutover;
pub mod dashboard;
pub mod opportunities;
pub mod runs;
pub mod status;
pub mod submissions;
pub mod subreddits;
pub mod system;
pub mod themes;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "RedditHarbor API", version = "1.0.0",
        description = "Reddit data, scored opportunities and pipeline control. Every endpoint under /api/v1 needs a bearer token (`harbor token create --scope read|write|admin`); the scope each one needs is its security requirement."),
    paths(
        subreddits::list, submissions::list, submissions::get_one, opportunities::list, themes::list, themes::get_one,
        runs::list, runs::get_one, runs::start, status::status, cutover::get_state, cutover::change,
        system::healthz, system::metrics, system::openapi,
    ),
    modifiers(&BearerAuth),
    tags((name = "data", description = "Subreddits, submissions, comments, opportunities, themes"),
        (name = "runs", description = "Run traces, status, starting runs"),
        (name = "cutover", description = "Routing between harbor and the legacy collector"),
        (name = "system", description = "Health, metrics, this document")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `harbor token create`"))
                    .build(),
            ),
        );
    }
}

/// The whole application.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/subreddits", get(subreddits::list))
        .route("/api/v1/submissions", get(submissions::list))
        .route("/api/v1/submissions/{id}", get(submissions::get_one))
        .route("/api/v1/opportunities", get(opportunities::list))
        .route("/api/v1/themes", get(themes::list))
        .route("/api/v1/themes/{id}", get(themes::get_one))
        .route("/api/v1/runs", get(runs::list).post(runs::start))
        .route("/api/v1/runs/{id}", get(runs::get_one))
        .route("/api/v1/status", get(status::status))
        .route("/api/v1/cutover", get(cutover::get_state).post(cutover::change))
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    let api = match cors(&state.config.cors_origins) {
        Some(layer) => api.layer(layer),
        None => api,
    };
    api.with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed on this route")
}

/// The longest request target (path and query) answered normally; longer ones get 414 in the
/// error shape. (hyper itself answers targets over 64 KiB with a bodiless 414 before any
/// application code runs.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Timeout and response counting around every request.
async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        st.responses[3].fetch_add(1, Ordering::Relaxed);
        return ApiError::invalid(format!(
            "the request URL is {target} bytes, more than the {MAX_URI_BYTES} accepted; send fewer or shorter parameters"
        ))
        .with_status(axum::http::StatusCode::URI_TOO_LONG)
        .into_response();
    }
    let res = match tokio::time::timeout(st.config.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(ErrorCode::Timeout, "the request took too long").into_response(),
    };
    let class = (res.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    st.responses[class].fetch_add(1, Ordering::Relaxed);
    res
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}
