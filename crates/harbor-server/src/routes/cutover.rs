//! `/api/v1/cutover`: which subreddits harbor collects and which the legacy collector still does.
//!
//! The same tables and the same code as `harbor cutover` ([`harbor_ops::cutover`]): routes per
//! pipeline and subreddit in `_harbor_cutover` (with a `*` row for subreddits not listed), every
//! change appended to `_harbor_cutover_audit`, both in one transaction, so a rollback is one atomic
//! write and a change made with the CLI shows here at once (and the other way round).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use harbor_ops::cutover::{self as ops, CutoverStatus, Phase};
use harbor_ops::store::SqlStore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ADMIN, Auth, READ};
use crate::db::has_col;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::ops_store::with_store;
use crate::state::AppState;

/// Where one subreddit is collected.
#[derive(Debug, Serialize, ToSchema)]
pub struct Route {
    /// Subreddit (lowercase: Reddit's names are case-insensitive).
    pub subreddit: String,
    /// `harbor` or `legacy`.
    pub route: String,
}

/// One change of the cutover.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub changed_at: String,
    /// Who (token id or user).
    pub actor: Option<String>,
    /// `set` or `rollback`.
    pub action: String,
    /// Phase before the change.
    pub phase_from: Option<String>,
    /// Phase after the change.
    pub phase: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// The cutover state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CutoverState {
    /// Current phase: `off` (no cutover set: everything on harbor), `manual_only` (everything on
    /// legacy, also after a rollback), a percentage such as `10%`, or `list`.
    pub phase: String,
    /// Route of subreddits that are not listed in `routes` (`harbor` or `legacy`).
    pub default_route: String,
    /// Route per subreddit.
    pub routes: Vec<Route>,
    /// Share of the listed subreddits routed to harbor (with none listed: 1 when the default route
    /// is harbor, else 0).
    pub harbor_share: f64,
    /// Latest changes, newest first.
    pub audit: Vec<AuditEntry>,
}

/// A cutover change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CutoverChange {
    /// `set` (needs `phase` or `subreddits`) or `rollback` (everything back to legacy).
    pub action: CutoverAction,
    /// `manual_only` or a percentage (`10%`, `50%`, `100%`, or any whole number up to 100).
    pub phase: Option<String>,
    /// Explicit list of subreddits to route to harbor (phase `list`).
    pub subreddits: Option<Vec<String>>,
    /// Why (kept in the audit table).
    pub reason: Option<String>,
}

/// Cutover actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CutoverAction {
    /// Route by phase or list.
    Set,
    /// Everything back to legacy.
    Rollback,
}

fn view(st: CutoverStatus) -> CutoverState {
    let routes: Vec<Route> = st
        .routes
        .iter()
        .map(|(s, r)| Route {
            subreddit: s.clone(),
            route: r.as_str().to_owned(),
        })
        .collect();
    let on_harbor = routes.iter().filter(|r| r.route == "harbor").count();
    let harbor_share = if routes.is_empty() {
        if st.default_route == ops::Route::Harbor {
            1.0
        } else {
            0.0
        }
    } else {
        on_harbor as f64 / routes.len() as f64
    };
    CutoverState {
        phase: st.phase,
        default_route: st.default_route.as_str().to_owned(),
        routes,
        harbor_share,
        audit: st
            .audit
            .into_iter()
            .map(|a| AuditEntry {
                changed_at: a.at,
                actor: Some(a.who),
                action: a.action,
                phase_from: a.phase_from,
                phase: Some(a.phase_to),
                reason: a.why,
            })
            .collect(),
    }
}

/// The cutover phase, routes and recent changes.
#[utoipa::path(get, path = "/api/v1/cutover", operation_id = "getCutover", tag = "cutover",
    security(("bearer" = ["read"])),
    responses((status = 200, body = CutoverState), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn get_state(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
) -> Result<Json<CutoverState>, ApiError> {
    let pipeline = st.pipeline.clone();
    let status = with_store(&st, move |store| ops::status(store, &pipeline, 20)).await?;
    Ok(Json(view(status)))
}

/// Changes the cutover (admin): set a phase or a list, or roll everything back to legacy.
#[utoipa::path(post, path = "/api/v1/cutover", operation_id = "changeCutover", tag = "cutover", request_body = CutoverChange,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = CutoverState), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn change(
    auth: Auth<ADMIN>,
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<CutoverChange>,
) -> Result<Json<CutoverState>, ApiError> {
    let phase = match req.action {
        CutoverAction::Rollback => None,
        CutoverAction::Set => Some(match (&req.phase, &req.subreddits) {
            (Some(p), None) => Phase::parse(p).map_err(crate::ops_store::ops_error)?,
            (None, Some(list)) if !list.is_empty() && list.len() <= 10_000 => {
                if let Some(bad) = list.iter().find(|s| !ops::valid_subreddit(s)) {
                    return Err(ApiError::invalid(format!(
                        "`{bad}` is not a subreddit name (1-64 letters, digits and _)"
                    )));
                }
                Phase::List(list.clone())
            }
            _ => {
                return Err(ApiError::invalid(
                    "`set` needs either `phase` (manual_only, 10%, 50%, 100%) or a non-empty `subreddits` list \
                     of at most 10,000 names",
                ));
            }
        }),
    };
    if req.reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(ApiError::invalid("`reason` must be at most 1000 characters"));
    }
    // A percentage is a share of the subreddits the data has (and those already routed).
    let from_submissions = has_col(&st.db.columns().await?, "submissions", "subreddit");
    let who = format!("token:{}", auth.token_id);
    let (pipeline, why) = (st.pipeline.clone(), req.reason);
    let status = with_store(&st, move |store| {
        match phase {
            None => {
                ops::rollback(store, &pipeline, &who, why.as_deref())?;
            }
            Some(phase) => {
                let mut population: Vec<String> = ops::status(store, &pipeline, 0)?.routes.into_keys().collect();
                if from_submissions {
                    let rows = store.query(
                        "SELECT DISTINCT CAST(subreddit AS TEXT) FROM submissions WHERE subreddit IS NOT NULL",
                        &[],
                        "read the subreddits of submissions",
                    )?;
                    population.extend(rows.into_iter().filter_map(|r| r.first().and_then(|v| v.as_text())));
                }
                population.retain(|s| ops::valid_subreddit(s));
                ops::set(store, &pipeline, &phase, &population, &who, why.as_deref())?;
            }
        }
        ops::status(store, &pipeline, 20)
    })
    .await?;
    let state = view(status);
    tracing::info!(phase = %state.phase, "Cutover changed");
    Ok(Json(state))
}
