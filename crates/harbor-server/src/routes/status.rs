//! `/api/v1/status`: row counts, recent loads, the latest run.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::auth::{Auth, READ};
use crate::db::{has_col, has_table};
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
                 AND started_at >= now()::TIMESTAMP - INTERVAL 24 HOUR"
                } else {
                    "SELECT 0"
                };
            (
                format!(
                    "SELECT {} FROM _harbor_runs r ORDER BY {order} LIMIT 1",
                    run_columns(&cols)
                ),
                failed.to_owned(),
            )
        });
    let loads = has_col(&cols, "_harbor_loads", "load_id");
    let (tables, loads, last_run, failed) = st
        .db
        .run(move |c| {
            let mut tables = BTreeMap::new();
            let mut stmt = c.prepare(
                "SELECT table_name, estimated_size FROM duckdb_tables() \
                 WHERE schema_name = current_schema() AND NOT starts_with(table_name, '_harbor') \
                 ORDER BY table_name",
            )?;
            let names: Vec<(String, i64)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (name, _) in names {
                let n: i64 = c.query_row(
                    &format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\"")),
                    [],
                    |r| r.get(0),
                )?;
                tables.insert(name, n);
            }
            let mut out_loads = Vec::new();
            if loads {
                let mut stmt = c.prepare(
                    "SELECT load_id, pipeline, strftime(inserted_at, '%Y-%m-%dT%H:%M:%SZ'), CAST(rows AS BIGINT) \
                     FROM _harbor_loads ORDER BY inserted_at DESC LIMIT 10",
                )?;
                out_loads = stmt
                    .query_map([], |r| {
                        Ok(LoadInfo {
                            load_id: r.get(0)?,
                            pipeline: r.get(1)?,
                            inserted_at: r.get(2)?,
                            rows: r.get(3)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
            }
            let (mut last, mut failed) = (None, 0i64);
            if let Some((sql, failed_sql)) = runs_sql {
                last = c.prepare(&sql)?.query_map([], run_row)?.next().transpose()?;
                failed = c.query_row(&failed_sql, [], |r| r.get(0))?;
            }
            Ok((tables, out_loads, last, failed))
        })
        .await?;
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
