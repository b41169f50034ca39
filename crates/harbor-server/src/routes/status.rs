//! `/api/v1/status`: row counts, recent loads, the latest run.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::auth::{Auth, READ};
use crate::db::{Row, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::model::{LoadInfo, Status};
use crate::routes::runs::{run_columns, run_row};
use crate::state::AppState;

/// Dataset and pipeline health at a glance.
#[utoipa::path(get, path = "/api/v1/status", operation_id = "getStatus", tag = "runs",
    security(("bearer" = ["read"])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn status(_auth: Auth<READ>, State(st): State<Arc<AppState>>) -> Result<Json<Status>, ApiError> {
    let cols = st.db.columns().await?;
    let runs_sql =
        (has_table(&cols, "_harbor_runs") && has_col(&cols, "_harbor_runs", "run_id")).then(|| {
            let order = if has_col(&cols, "_harbor_runs", "started_at") {
                "r.started_at DESC NULLS LAST"
            } else {
                "r.run_id DESC"
            };
            let failed =
                if has_col(&cols, "_harbor_runs", "status") && has_col(&cols, "_harbor_runs", "started_at") {
                    "SELECT count(*) FROM _harbor_runs WHERE status = 'failed' \
                 AND started_at >= CAST(now() AS TIMESTAMP) - INTERVAL '24 hours'"
                } else {
                    "SELECT 0"
                };
            (
                format!(
                    "SELECT {} FROM _harbor_runs r ORDER BY {order} LIMIT 1",
                    run_columns(&cols, st.db.dialect())
                ),
                failed.to_owned(),
            )
        });
    let d = st.db.dialect();
    // The tables and counts in one snapshot: names first, then one count per table.
    let names: Vec<String> = st
        .db
        .query(
            "SELECT CAST(table_name AS VARCHAR) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND left(table_name, 7) <> '_harbor' ORDER BY table_name"
                .into(),
            Vec::new(),
        )
        .await?
        .iter()
        .map(|r| r.string(0))
        .collect::<Result<_, _>>()?;
    let mut stmts: Vec<(String, Vec<crate::db::Param>)> = names
        .iter()
        .map(|n| {
            (
                format!("SELECT count(*) FROM \"{}\"", n.replace('"', "\"\"")),
                Vec::new(),
            )
        })
        .collect();
    let loads = has_col(&cols, "_harbor_loads", "load_id");
    if loads {
        stmts.push((
            format!(
                "SELECT CAST(load_id AS VARCHAR), CAST(pipeline AS VARCHAR), {}, CAST(rows AS BIGINT) \
                 FROM _harbor_loads ORDER BY inserted_at DESC LIMIT 10",
                d.iso("inserted_at")
            ),
            Vec::new(),
        ));
    }
    if let Some((sql, failed_sql)) = &runs_sql {
        stmts.push((sql.clone(), Vec::new()));
        stmts.push((failed_sql.clone(), Vec::new()));
    }
    let mut answers = st.db.read(stmts).await?.into_iter();
    let first_int = |rows: Option<Vec<Row>>| -> Result<i64, crate::error::ApiError> {
        Ok(match rows.as_ref().and_then(|r| r.first()) {
            Some(r) => r.int(0)?.unwrap_or(0),
            None => 0,
        })
    };
    let mut tables = BTreeMap::new();
    for name in names {
        tables.insert(name, first_int(answers.next())?);
    }
    let mut out_loads = Vec::new();
    if loads {
        for r in answers.next().unwrap_or_default() {
            out_loads.push(LoadInfo {
                load_id: r.string(0)?,
                pipeline: r.text(1)?,
                inserted_at: r.text(2)?,
                rows: r.int(3)?,
            });
        }
    }
    let (mut last_run, mut failed) = (None, 0i64);
    if runs_sql.is_some() {
        last_run = match answers.next().unwrap_or_default().first() {
            Some(r) => Some(run_row(r)?),
            None => None,
        };
        failed = first_int(answers.next())?;
    }
    let loads = out_loads;
    Ok(Json(Status {
        pipeline: st.pipeline.clone(),
        destination: st.destination.clone(),
        tables,
        loads,
        last_run,
        failed_runs_24h: failed,
        active_run: st.runs.active(),
        uptime_seconds: st.started.elapsed().as_secs_f64(),
    }))
}
