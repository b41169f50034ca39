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
use crate::db::{has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

const DDL: &str = "CREATE TABLE IF NOT EXISTS _harbor_cutover (subreddit VARCHAR PRIMARY KEY, \
    route VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL); \
    CREATE TABLE IF NOT EXISTS _harbor_cutover_audit (changed_at TIMESTAMP NOT NULL, actor VARCHAR, \
    action VARCHAR NOT NULL, phase VARCHAR, harbor_subreddits JSON, reason VARCHAR);";

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

fn read_state(c: &duckdb::Connection) -> Result<CutoverState, ApiError> {
    let mut stmt = c.prepare("SELECT subreddit, route FROM _harbor_cutover ORDER BY subreddit")?;
    let routes: Vec<Route> = stmt
        .query_map([], |r| {
            Ok(Route {
                subreddit: r.get(0)?,
                route: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = c.prepare(
        "SELECT strftime(changed_at, '%Y-%m-%dT%H:%M:%S.%gZ'), actor, action, phase, reason \
         FROM _harbor_cutover_audit ORDER BY changed_at DESC LIMIT 20",
    )?;
    let audit: Vec<AuditEntry> = stmt
        .query_map([], |r| {
            Ok(AuditEntry {
                changed_at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                phase: r.get(3)?,
                reason: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
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
    Ok(Json(st.db.run(read_state).await?))
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
    let state = st
        .db
        .run(move |c| {
            c.execute_batch(DDL)?;
            let mut known: Vec<String> = c
                .prepare("SELECT subreddit FROM _harbor_cutover")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if from_submissions {
                let more: Vec<String> = c
                    .prepare("SELECT DISTINCT subreddit FROM submissions WHERE subreddit IS NOT NULL")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                known.extend(more);
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
            c.execute_batch("BEGIN TRANSACTION")?;
            let write = || -> Result<(), duckdb::Error> {
                c.execute("DELETE FROM _harbor_cutover", [])?;
                let mut ins = c.prepare("INSERT INTO _harbor_cutover VALUES (?, ?, now()::TIMESTAMP)")?;
                for s in &known {
                    let route = if harbor.contains(s) { "harbor" } else { "legacy" };
                    ins.execute([s.as_str(), route])?;
                }
                c.execute(
                    "INSERT INTO _harbor_cutover_audit VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?)",
                    duckdb::params![
                        actor,
                        action,
                        phase,
                        serde_json::to_string(&harbor).unwrap_or_default(),
                        reason
                    ],
                )?;
                Ok(())
            };
            match write() {
                Ok(()) => c.execute_batch("COMMIT")?,
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
            }
            read_state(c)
        })
        .await?;
    st.db.invalidate();
    tracing::info!(phase = %state.phase, "Cutover changed");
    Ok(Json(state))
}
