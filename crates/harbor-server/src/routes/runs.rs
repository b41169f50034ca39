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
use crate::extract::{ApiJson, ApiQuery, decode_offset, encode_offset, page_size};
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

/// The order of the list: newest start first, runs without a start time last, ties by run id
/// (the same order as [`order`]).
fn newer_first(a: &Run, b: &Run) -> std::cmp::Ordering {
    match (&a.started_at, &b.started_at) {
        (Some(x), Some(y)) => y.cmp(x).then_with(|| b.run_id.cmp(&a.run_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.run_id.cmp(&a.run_id),
    }
}

/// One page of the list made of the trace rows and `own` (runs this server started that have no
/// trace row yet, sorted by [`newer_first`]). `window` holds the trace rows from position `from`
/// (`offset - own.len()`, at least 0) on, at least `limit + own.len() + 1` of them unless the
/// table ends first. Returns the page at `offset` and whether more follow.
fn page_of(own: &[Run], from: u64, window: Vec<Run>, offset: u64, limit: usize) -> (Vec<Run>, bool) {
    // Own runs that come before the first trace row of the window, and the window's position in
    // the whole list.
    let (ahead, start) = if from == 0 {
        (0, 0)
    } else {
        let Some(first) = window.first() else {
            // Fewer than `from` trace rows: the whole list is shorter than `offset`.
            return (Vec::new(), false);
        };
        let ahead = own
            .iter()
            .take_while(|o| newer_first(o, first) == std::cmp::Ordering::Less)
            .count();
        (ahead, from + ahead as u64)
    };
    let mut merged = Vec::with_capacity(window.len() + own.len() - ahead);
    let mut rest = own[ahead..].iter().peekable();
    for row in window {
        while let Some(o) = rest.next_if(|o| newer_first(o, &row) == std::cmp::Ordering::Less) {
            merged.push(o.clone());
        }
        merged.push(row);
    }
    merged.extend(rest.cloned());
    let skip = usize::try_from(offset.saturating_sub(start)).unwrap_or(usize::MAX);
    let more = merged.len() > skip.saturating_add(limit);
    (merged.into_iter().skip(skip).take(limit).collect(), more)
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
        Some(c) => decode_offset(c)?,
        None => 0,
    };
    let cols = st.db.columns().await?;
    let traced = has_table(&cols, "_harbor_runs") && has_col(&cols, "_harbor_runs", "run_id");
    // Runs this server started whose trace row is not written yet take their place among the
    // trace rows by start time (they are not simply put first: that repeated and reordered runs).
    let mut own: Vec<Run> = st
        .runs
        .all()
        .into_iter()
        .filter(|r| f.status.as_ref().is_none_or(|s| *s == r.status))
        .collect();
    if traced && !own.is_empty() {
        let marks = vec!["?"; own.len()].join(", ");
        let sql = format!(
            "SELECT CAST(r.run_id AS VARCHAR) FROM _harbor_runs r WHERE CAST(r.run_id AS VARCHAR) IN ({marks})"
        );
        let args = own.iter().map(|r| Param::Text(r.run_id.clone())).collect();
        let known: std::collections::HashSet<String> = st
            .db
            .query(sql, args)
            .await?
            .iter()
            .map(|r| r.string(0))
            .collect::<Result<_, _>>()?;
        own.retain(|r| !known.contains(&r.run_id));
    }
    own.sort_by(newer_first);
    let k = own.len() as u64;
    let from = offset.saturating_sub(k);
    let mut window = Vec::new();
    if traced {
        let (wh, args) = match &f.status {
            Some(s) if has_col(&cols, "_harbor_runs", "status") => {
                ("WHERE r.status = ?", vec![Param::Text(s.clone())])
            }
            Some(_) => ("WHERE false", vec![]),
            None => ("", vec![]),
        };
        let sql = format!(
            "SELECT {} FROM _harbor_runs r {wh} ORDER BY {} LIMIT {} OFFSET {from}",
            run_columns(&cols, st.db.dialect()),
            order(&cols),
            u64::from(limit) + k + 1
        );
        window = st
            .db
            .query(sql, args)
            .await?
            .iter()
            .map(run_row)
            .collect::<Result<Vec<_>, _>>()?;
    }
    let (items, more) = page_of(&own, from, window, offset, limit as usize);
    let next_cursor = more.then(|| encode_offset(offset + u64::from(limit)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(id: usize, started: Option<u8>) -> Run {
        Run {
            run_id: format!("run-{id:03}"),
            started_at: started.map(|t| format!("2026-01-01T00:00:{:02}.000Z", t % 60)),
            status: "ok".into(),
            ..Default::default()
        }
    }

    /// Pages through a history the way a client does. `moves[i]`: after page i, the newest run
    /// the server started gets its trace row (its run ended).
    fn pages(db: &[Run], own: &[Run], limit: usize, moves: &[bool]) -> Vec<String> {
        let mut db = db.to_vec();
        let mut own = own.to_vec();
        db.sort_by(newer_first);
        own.sort_by(newer_first);
        let mut seen = Vec::new();
        let mut offset = 0u64;
        for page in 0.. {
            let k = own.len() as u64;
            let from = offset.saturating_sub(k);
            let n = limit + own.len() + 1;
            let window: Vec<Run> = db.iter().skip(from as usize).take(n).cloned().collect();
            let (items, more) = page_of(&own, from, window, offset, limit);
            assert!(items.len() <= limit);
            seen.extend(items.into_iter().map(|r| r.run_id));
            if !more {
                break;
            }
            offset += limit as u64;
            if moves.get(page).copied().unwrap_or(false) && !own.is_empty() {
                db.push(own.remove(0));
                db.sort_by(newer_first);
            }
        }
        seen
    }

    proptest! {
        #[test]
        fn every_run_exactly_once_in_order(
            history in proptest::collection::vec((proptest::option::weighted(0.9, 0u8..40), any::<bool>()), 0..40),
            limit in 1usize..8,
            moves in proptest::collection::vec(any::<bool>(), 0..10),
        ) {
            let mut db = Vec::new();
            let mut own = Vec::new();
            let mut all = Vec::new();
            for (i, (started, by_server)) in history.iter().enumerate() {
                let r = run(i, *started);
                all.push(r.clone());
                if *by_server && started.is_some() { own.push(r) } else { db.push(r) }
            }
            all.sort_by(newer_first);
            let want: Vec<String> = all.into_iter().map(|r| r.run_id).collect();
            prop_assert_eq!(pages(&db, &own, limit, &moves), want);
        }
    }

    #[test]
    fn server_runs_take_their_place_not_the_front() {
        let db: Vec<Run> = (0..5).map(|i| run(i, Some(10 + i as u8))).collect();
        let own = vec![run(9, Some(12)), run(8, Some(30))];
        let got = pages(&db, &own, 2, &[]);
        assert_eq!(
            got,
            [
                "run-008", "run-004", "run-003", "run-009", "run-002", "run-001", "run-000"
            ]
        );
    }
}
