//! `/api/v1/cutover`: which subreddits harbor collects and which the legacy collector still does.
//!
//! Storage (shared with `harbor cutover`): `_harbor_cutover(subreddit PRIMARY KEY, route 'harbor' |
//! 'legacy', updated_at)` and the audit table `_harbor_cutover_audit(changed_at, actor, action, phase,
//! harbor_subreddits JSON, reason)`. A change rewrites the routes and appends the audit row in one
//! transaction, so a rollback is one atomic write.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::{ADMIN, Auth, READ};
use crate::db::{Db, Param, Statement, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

const DDL: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS _harbor_cutover (subreddit VARCHAR PRIMARY KEY, \
     route VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _harbor_cutover_audit (changed_at TIMESTAMP NOT NULL, actor VARCHAR, \
     action VARCHAR NOT NULL, phase VARCHAR, harbor_subreddits JSON, reason VARCHAR)",
];

/// Where one subreddit is collected.
#[derive(Debug, Serialize, ToSchema)]
pub struct Route {
    /// Subreddit.
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
    /// Phase after the change.
    pub phase: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// The cutover state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CutoverState {
    /// Current phase: `manual_only`, `10%`, `50%`, `100%`, `list`, or `legacy` after a rollback.
    pub phase: String,
    /// Route per subreddit.
    pub routes: Vec<Route>,
    /// Subreddits routed to harbor.
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
    /// `manual_only`, `10%`, `50%` or `100%`.
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

/// Deterministic bucket 0..100 of a subreddit, so 10% is a subset of 50%.
fn bucket(subreddit: &str) -> u32 {
    let h = Sha256::digest(subreddit.to_lowercase().as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % 100
}

async fn read_state(db: &Db) -> Result<CutoverState, ApiError> {
    let answers = db
        .read(vec![
            (
                "SELECT CAST(subreddit AS VARCHAR), CAST(route AS VARCHAR) FROM _harbor_cutover ORDER BY subreddit"
                    .into(),
                Vec::new(),
            ),
            (
                format!(
                    "SELECT {}, CAST(actor AS VARCHAR), CAST(action AS VARCHAR), CAST(phase AS VARCHAR), \
                     CAST(reason AS VARCHAR) FROM _harbor_cutover_audit ORDER BY changed_at DESC LIMIT 20",
                    db.dialect().iso_ms("changed_at")
                ),
                Vec::new(),
            ),
        ])
        .await?;
    let (mut routes, mut audit) = (Vec::new(), Vec::new());
    for r in answers.first().into_iter().flatten() {
        routes.push(Route {
            subreddit: r.string(0)?,
            route: r.string(1)?,
        });
    }
    for r in answers.get(1).into_iter().flatten() {
        audit.push(AuditEntry {
            changed_at: r.string(0)?,
            actor: r.text(1)?,
            action: r.string(2)?,
            phase: r.text(3)?,
            reason: r.text(4)?,
        });
    }
    let harbor = routes.iter().filter(|r| r.route == "harbor").count();
    Ok(CutoverState {
        phase: audit
            .first()
            .and_then(|a| a.phase.clone())
            .unwrap_or_else(|| "manual_only".into()),
        harbor_share: if routes.is_empty() {
            0.0
        } else {
            harbor as f64 / routes.len() as f64
        },
        routes,
        audit,
    })
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
    let cols = st.db.columns().await?;
    if !has_table(&cols, "_harbor_cutover") || !has_table(&cols, "_harbor_cutover_audit") {
        return Ok(Json(CutoverState {
            phase: "manual_only".into(),
            routes: Vec::new(),
            harbor_share: 0.0,
            audit: Vec::new(),
        }));
    }
    Ok(Json(read_state(&st.db).await?))
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
    let (phase, list) = match req.action {
        CutoverAction::Rollback => ("legacy".to_owned(), None),
        CutoverAction::Set => match (&req.phase, &req.subreddits) {
            (Some(p), None) if ["manual_only", "10%", "50%", "100%"].contains(&p.as_str()) => {
                (p.clone(), None)
            }
            (None, Some(list)) if !list.is_empty() && list.len() <= 10_000 => {
                if list.iter().any(|s| s.is_empty() || s.len() > 100) {
                    return Err(ApiError::invalid("subreddit names must be 1-100 characters"));
                }
                ("list".to_owned(), Some(list.clone()))
            }
            _ => {
                return Err(ApiError::invalid(
                    "`set` needs either `phase` (manual_only, 10%, 50%, 100%) or a non-empty `subreddits` list",
                ));
            }
        },
    };
    if req.reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(ApiError::invalid("`reason` must be at most 1000 characters"));
    }
    let cols = st.db.columns().await?;
    let from_submissions = has_col(&cols, "submissions", "subreddit");
    let actor = format!("token:{}", auth.token_id);
    let action = match req.action {
        CutoverAction::Set => "set",
        CutoverAction::Rollback => "rollback",
    };
    let reason = req.reason;
    st.db
        .write(DDL.iter().map(|d| ((*d).to_owned(), Vec::new())).collect())
        .await?;
    let mut reads: Vec<Statement> = vec![(
        "SELECT CAST(subreddit AS VARCHAR) FROM _harbor_cutover".into(),
        Vec::new(),
    )];
    if from_submissions {
        reads.push((
            "SELECT DISTINCT CAST(subreddit AS VARCHAR) FROM submissions WHERE subreddit IS NOT NULL".into(),
            Vec::new(),
        ));
    }
    let mut known: Vec<String> = Vec::new();
    for r in st.db.read(reads).await?.iter().flatten() {
        known.push(r.string(0)?);
    }
    if let Some(list) = &list {
        known.extend(list.iter().cloned());
    }
    known.sort();
    known.dedup();
    let pct = match phase.as_str() {
        "10%" => 10,
        "50%" => 50,
        "100%" => 100,
        _ => 0,
    };
    let harbor: Vec<String> = known
        .iter()
        .filter(|s| match &list {
            Some(l) => l.contains(s),
            None => bucket(s) < pct,
        })
        .cloned()
        .collect();
    // The routes and the audit row in one transaction: a rollback is one atomic write.
    let mut writes: Vec<Statement> = vec![("DELETE FROM _harbor_cutover".into(), Vec::new())];
    for s in &known {
        let route = if harbor.contains(s) { "harbor" } else { "legacy" };
        writes.push((
            "INSERT INTO _harbor_cutover VALUES (?, ?, CAST(now() AS TIMESTAMP))".into(),
            vec![Param::Text(s.clone()), Param::Text(route.into())],
        ));
    }
    let mut audit = vec![
        Param::Text(actor),
        Param::Text(action.into()),
        Param::Text(phase),
        Param::Text(serde_json::to_string(&harbor).unwrap_or_default()),
    ];
    let reason_sql = match reason {
        Some(r) => {
            audit.push(Param::Text(r));
            "?"
        }
        None => "NULL",
    };
    writes.push((
        format!(
            "INSERT INTO _harbor_cutover_audit VALUES (CAST(now() AS TIMESTAMP), ?, ?, ?, CAST(? AS JSON), {reason_sql})"
        ),
        audit,
    ));
    st.db.write(writes).await?;
    let state = read_state(&st.db).await?;
    st.db.invalidate();
    tracing::info!(phase = %state.phase, "Cutover changed");
    Ok(Json(state))
}
