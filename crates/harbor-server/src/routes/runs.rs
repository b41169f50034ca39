//! `/api/v1/runs`: run traces (issue 8's `_harbor_runs`) and runs started through the API.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Auth, READ, WRITE};
use crate::db::{Columns, Dialect, Param, Row, col_or_null, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, decode_cursor, encode_cursor, page_size};
use crate::model::{Run, RunPage, RunRequest, RunStarted};
use crate::state::AppState;

/// Filters of the run list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    /// Only runs with this status (`running`, `ok`, `failed`).
    pub status: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The select list of a run trace.
pub fn run_columns(cols: &Columns, d: Dialect) -> String {
    let c = |name: &str, cast: &str| col_or_null(cols, "_harbor_runs", "r", name, cast);
    let ts = |name: &str| {
        if has_col(cols, "_harbor_runs", name) {
            format!("{} AS \"{name}\"", d.iso_ms(&format!("r.\"{name}\"")))
        } else {
            format!("NULL AS \"{name}\"")
        }
    };
    [
        "CAST(r.run_id AS VARCHAR)".to_owned(),
        c("command", "VARCHAR"),
        c("pipeline", "VARCHAR"),
        ts("started_at"),
        ts("finished_at"),
        c("status", "VARCHAR"),
        c("seconds", "FLOAT8"),
        c("stages", "VARCHAR"),
        c("api_calls", "VARCHAR"),
        c("api_calls_total", "BIGINT"),
        c("http_429", "BIGINT"),
        c("retries", "BIGINT"),
        c("rows", "VARCHAR"),
        c("rows_total", "BIGINT"),
        c("bytes", "BIGINT"),
        c("rejects", "BIGINT"),
        c("error", "VARCHAR"),
        c("llm_tokens", "BIGINT"),
        c("llm_cost_usd", "FLOAT8"),
    ]
    .join(", ")
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

/// Reads a row of [`run_columns`].
pub fn run_row(r: &Row) -> Result<Run, ApiError> {
    Ok(Run {
        run_id: r.string(0)?,
        command: r.text(1)?,
        pipeline: r.text(2)?,
        started_at: r.text(3)?,
        finished_at: r.text(4)?,
        status: r.text(5)?.unwrap_or_else(|| "unknown".into()),
        seconds: r.float(6)?,
        stages: json(r.text(7)?),
        api_calls: json(r.text(8)?),
        api_calls_total: r.int(9)?,
        http_429: r.int(10)?,
        retries: r.int(11)?,
        rows: json(r.text(12)?),
        rows_total: r.int(13)?,
        bytes: r.int(14)?,
        rejects: r.int(15)?,
        error: r.text(16)?,
        llm_tokens: r.int(17)?,
        llm_cost_usd: r.float(18)?,
    })
}

fn order(cols: &Columns) -> &'static str {
    if has_col(cols, "_harbor_runs", "started_at") {
        "r.started_at DESC NULLS LAST, r.run_id DESC"
    } else {
        "r.run_id DESC"
    }
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/runs", operation_id = "listRuns", tag = "runs", params(RunFilter),
    security(("bearer" = ["read"])),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    ApiQuery(f): ApiQuery<RunFilter>,
) -> Result<Json<RunPage>, ApiError> {
    let limit = page_size(f.limit, st.config.default_page, st.config.max_page)?;
    if let Some(s) = &f.status
        && !["running", "ok", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid("`status` must be running, ok or failed"));
    }
    let offset: u64 = match &f.cursor {
        Some(c) => decode_cursor(c, 1)?[0]
            .parse()
            .map_err(|_| ApiError::invalid("invalid cursor"))?,
        None => 0,
    };
    let cols = st.db.columns().await?;
    let mut items = Vec::new();
    if has_table(&cols, "_harbor_runs") && has_col(&cols, "_harbor_runs", "run_id") {
        let (wh, args) = match &f.status {
            Some(s) if has_col(&cols, "_harbor_runs", "status") => {
                ("WHERE r.status = ?", vec![Param::Text(s.clone())])
            }
            Some(_) => ("WHERE false", vec![]),
            None => ("", vec![]),
        };
        let sql = format!(
            "SELECT {} FROM _harbor_runs r {wh} ORDER BY {} LIMIT {} OFFSET {offset}",
            run_columns(&cols, st.db.dialect()),
            order(&cols),
            limit + 1
        );
        items = st
            .db
            .query(sql, args)
            .await?
            .iter()
            .map(run_row)
            .collect::<Result<Vec<_>, _>>()?;
    }
    let mut next_cursor = None;
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        next_cursor = Some(encode_cursor(&[(offset + u64::from(limit)).to_string()]));
    }
    if offset == 0 {
        // Runs this server started that have no trace row yet come first.
        let mut own: Vec<Run> = st
            .runs
            .all()
            .into_iter()
            .filter(|r| f.status.as_ref().is_none_or(|s| *s == r.status))
            .filter(|r| !items.iter().any(|i| i.run_id == r.run_id))
            .collect();
        own.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        own.extend(items);
        items = own;
    }
    Ok(Json(RunPage { items, next_cursor }))
}

/// One run: its trace, or the state of a run this server started.
#[utoipa::path(get, path = "/api/v1/runs/{id}", operation_id = "getRun", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = Run), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Run>, ApiError> {
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::invalid("run id must be 1-128 characters"));
    }
    let cols = st.db.columns().await?;
    let own = st.runs.get(&id);
    // A run the server is still following is fresher than any trace row.
    if let Some(run) = &own
        && run.status == "running"
    {
        return Ok(Json(run.clone()));
    }
    if has_table(&cols, "_harbor_runs") && has_col(&cols, "_harbor_runs", "run_id") {
        let sql = format!(
            "SELECT {} FROM _harbor_runs r WHERE CAST(r.run_id AS VARCHAR) = ? LIMIT 1",
            run_columns(&cols, st.db.dialect())
        );
        let found = match st.db.query(sql, vec![Param::Text(id.clone())]).await?.first() {
            Some(r) => Some(run_row(r)?),
            None => None,
        };
        if let Some(run) = found {
            return Ok(Json(run));
        }
    }
    own.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no run {}", id.chars().take(64).collect::<String>())))
}

/// Starts a run in the background; follow it with `GET /api/v1/runs/{run_id}`.
#[utoipa::path(post, path = "/api/v1/runs", operation_id = "startRun", tag = "runs", request_body = RunRequest,
    security(("bearer" = ["write"])),
    responses((status = 202, body = RunStarted), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn start(
    _auth: Auth<WRITE>,
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    let run_id = st.runs.start(req)?;
    st.db.invalidate();
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            run_id,
            status: "running".into(),
        }),
    ))
}
