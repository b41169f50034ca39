//! Run traces: one `_harbor_runs` row per run of a command (collect, ingest, load, score, run,
//! import), written as `running` when the run starts and completed when it ends, in the destination
//! the run writes to.
//!
//! ```no_run
//! # fn main() -> harbor_ops::Result<()> {
//! # let mut store = harbor_ops::store::open("duckdb:///tmp/h.duckdb")?;
//! use harbor_ops::trace::RunTrace;
//! let mut trace = RunTrace::start(store.as_mut(), "load", "reddit")?;
//! trace.stats().rows.insert("submissions".into(), 42);
//! trace.stage("load", 1.5);
//! let record = trace.finish(store.as_mut(), Ok(()))?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::redact::redact_secrets;
use crate::store::{SqlStore, Value};

/// Counters of one run. Fill what applies; the rest stays zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunStats {
    /// Seconds per stage (`extract`, `normalize`, `load`, `collect`, `score`...).
    pub stages: BTreeMap<String, f64>,
    /// API requests per endpoint (`listing`, `comments`, `info`...).
    pub api_calls: BTreeMap<String, u64>,
    /// HTTP 429 responses received.
    pub http_429: u64,
    /// Retries after transient failures.
    pub retries: u64,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Bytes read or written (input files, job files).
    pub bytes: u64,
    /// Records rejected.
    pub rejects: u64,
    /// LLM tokens (prompt + completion).
    pub llm_tokens: u64,
    /// LLM cost in US dollars.
    pub llm_cost_usd: f64,
    /// Anything else worth keeping (subreddits, load ids), stored as JSON in `details`.
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished (or the process died: see [`reap_interrupted`]).
    Running,
    /// Finished without error.
    Ok,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "ok" => RunStatus::Ok,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

/// One row of `_harbor_runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Unique id (UTC start time + process id).
    pub run_id: String,
    /// The command (`load`, `collect`, ...).
    pub command: String,
    /// The pipeline.
    pub pipeline: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC (none while running).
    pub finished_at: Option<String>,
    /// Status.
    pub status: RunStatus,
    /// Wall seconds (none while running).
    pub seconds: Option<f64>,
    /// Sum of `stats.api_calls`.
    pub api_calls_total: u64,
    /// Sum of `stats.rows`.
    pub rows_total: u64,
    /// The error of a failed run (secrets redacted).
    pub error: Option<String>,
    /// The counters.
    #[serde(flatten)]
    pub stats: RunStats,
}

/// A run in progress. Not writing the final row (a crash) leaves it `running`; the next run of the
/// pipeline marks it failed with [`reap_interrupted`].
#[derive(Debug)]
pub struct RunTrace {
    record: RunRecord,
    t0: Instant,
}

/// `CREATE TABLE IF NOT EXISTS _harbor_runs` for the store's dialect.
pub fn ensure_table(store: &mut dyn SqlStore) -> Result<()> {
    let d = store.dialect();
    let (dbl, json) = (d.double(), d.json());
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS _harbor_runs (
  run_id TEXT PRIMARY KEY, command TEXT NOT NULL, pipeline TEXT NOT NULL,
  started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, status TEXT NOT NULL, seconds {dbl},
  stages {json}, api_calls {json}, api_calls_total BIGINT, http_429 BIGINT, retries BIGINT,
  \"rows\" {json}, rows_total BIGINT, bytes BIGINT, rejects BIGINT, error TEXT,
  llm_tokens BIGINT, llm_cost_usd {dbl}, details {json}
)"
    );
    match store.batch(&sql, "create _harbor_runs") {
        // Two runs creating the table at once in Postgres: the loser sees a duplicate type error.
        Err(e) if store.table_exists("_harbor_runs").unwrap_or(false) => {
            tracing::debug!(error = %e, "_harbor_runs was created concurrently");
            Ok(())
        }
        r => r,
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn sql_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `2025-01-02 03:04:05.123` (as stored) to `2025-01-02T03:04:05.123Z`.
pub fn rfc3339(stored: &str) -> String {
    if stored.ends_with('Z') || stored.contains('+') {
        return stored.replacen(' ', "T", 1);
    }
    format!("{}Z", stored.replacen(' ', "T", 1))
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

impl RunTrace {
    /// Starts a trace without writing it yet (when the store is opened later).
    pub fn begin(command: &str, pipeline: &str) -> RunTrace {
        let started = now();
        let run_id = format!(
            "{}-{}",
            started.format("%Y%m%dT%H%M%S%.6fZ").to_string().replace('.', ""),
            std::process::id()
        );
        RunTrace {
            record: RunRecord {
                run_id,
                command: command.to_owned(),
                pipeline: pipeline.to_owned(),
                started_at: sql_time(started),
                finished_at: None,
                status: RunStatus::Running,
                seconds: None,
                api_calls_total: 0,
                rows_total: 0,
                error: None,
                stats: RunStats::default(),
            },
            t0: Instant::now(),
        }
    }

    /// The same trace under a run id given elsewhere (a run started through the HTTP API keeps the
    /// id the API answered with).
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> RunTrace {
        self.record.run_id = run_id.into();
        self
    }

    /// Starts a trace and writes its `running` row.
    pub fn start(store: &mut dyn SqlStore, command: &str, pipeline: &str) -> Result<RunTrace> {
        let t = RunTrace::begin(command, pipeline);
        t.write_start(store)?;
        Ok(t)
    }

    /// Writes the `running` row of a trace made with [`RunTrace::begin`].
    pub fn write_start(&self, store: &mut dyn SqlStore) -> Result<()> {
        ensure_table(store)?;
        let r = &self.record;
        store.execute(
            "INSERT INTO _harbor_runs (run_id, command, pipeline, started_at, status) \
             VALUES (CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST(CAST($4 AS TEXT) AS TIMESTAMP), 'running')",
            &[(&r.run_id).into(), (&r.command).into(), (&r.pipeline).into(), (&r.started_at).into()],
            "insert into _harbor_runs",
        )?;
        Ok(())
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.record.run_id
    }

    /// The counters, to fill during the run.
    pub fn stats(&mut self) -> &mut RunStats {
        &mut self.record.stats
    }

    /// Adds seconds to a stage.
    pub fn stage(&mut self, name: &str, seconds: f64) {
        *self.record.stats.stages.entry(name.to_owned()).or_default() += seconds;
    }

    /// Completes the row: status `ok` for `Ok(())`, `failed` with the (redacted) error otherwise.
    /// The row is upserted, so a trace whose start could not be written is still recorded.
    pub fn finish(
        mut self,
        store: &mut dyn SqlStore,
        outcome: std::result::Result<(), String>,
    ) -> Result<RunRecord> {
        let finished = now();
        let r = &mut self.record;
        r.finished_at = Some(sql_time(finished));
        r.seconds = Some(self.t0.elapsed().as_secs_f64());
        r.api_calls_total = r.stats.api_calls.values().sum();
        r.rows_total = r.stats.rows.values().sum();
        match outcome {
            Ok(()) => r.status = RunStatus::Ok,
            Err(e) => {
                r.status = RunStatus::Failed;
                r.error = Some(redact_secrets(&e));
            }
        }
        let s = &r.stats;
        let params: Vec<Value> = vec![
            (&r.run_id).into(),
            (&r.command).into(),
            (&r.pipeline).into(),
            (&r.started_at).into(),
            r.finished_at.clone().into(),
            r.status.as_str().into(),
            r.seconds.into(),
            json_text(&s.stages).into(),
            json_text(&s.api_calls).into(),
            r.api_calls_total.into(),
            s.http_429.into(),
            s.retries.into(),
            json_text(&s.rows).into(),
            r.rows_total.into(),
            s.bytes.into(),
            s.rejects.into(),
            r.error.clone().into(),
            s.llm_tokens.into(),
            s.llm_cost_usd.into(),
            json_text(&s.details).into(),
        ];
        let json = store.dialect().json();
        let sql = format!(
            "INSERT INTO _harbor_runs (run_id, command, pipeline, started_at, finished_at, status, seconds, stages, \
             api_calls, api_calls_total, http_429, retries, \"rows\", rows_total, bytes, rejects, error, llm_tokens, \
             llm_cost_usd, details) VALUES (CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), \
             CAST(CAST($4 AS TEXT) AS TIMESTAMP), CAST(CAST($5 AS TEXT) AS TIMESTAMP), CAST($6 AS TEXT), \
             CAST($7 AS DOUBLE PRECISION), CAST(CAST($8 AS TEXT) AS {json}), CAST(CAST($9 AS TEXT) AS {json}), \
             CAST($10 AS BIGINT), CAST($11 AS BIGINT), CAST($12 AS BIGINT), CAST(CAST($13 AS TEXT) AS {json}), \
             CAST($14 AS BIGINT), CAST($15 AS BIGINT), CAST($16 AS BIGINT), CAST($17 AS TEXT), CAST($18 AS BIGINT), \
             CAST($19 AS DOUBLE PRECISION), CAST(CAST($20 AS TEXT) AS {json})) \
             ON CONFLICT (run_id) DO UPDATE SET finished_at = EXCLUDED.finished_at, status = EXCLUDED.status, \
             seconds = EXCLUDED.seconds, stages = EXCLUDED.stages, api_calls = EXCLUDED.api_calls, \
             api_calls_total = EXCLUDED.api_calls_total, http_429 = EXCLUDED.http_429, retries = EXCLUDED.retries, \
             \"rows\" = EXCLUDED.\"rows\", rows_total = EXCLUDED.rows_total, bytes = EXCLUDED.bytes, \
             rejects = EXCLUDED.rejects, error = EXCLUDED.error, llm_tokens = EXCLUDED.llm_tokens, \
             llm_cost_usd = EXCLUDED.llm_cost_usd, details = EXCLUDED.details"
        );
        // The row is an upsert, so writing it again is safe: a run that outlived a database restart
        // (its connection closed) still gets its final row instead of staying `running`.
        let write = |store: &mut dyn SqlStore| -> Result<()> {
            ensure_table(store)?;
            store.execute(&sql, &params, "complete the _harbor_runs row")?;
            Ok(())
        };
        let mut attempt = 0;
        while let Err(e) = write(store) {
            attempt += 1;
            if attempt == FINISH_ATTEMPTS {
                return Err(e);
            }
            tracing::warn!(error = %e, attempt, "Cannot complete the run trace yet; trying again");
            std::thread::sleep(std::time::Duration::from_millis(250 << (2 * attempt)));
        }
        let mut rec = self.record;
        rec.started_at = rfc3339(&rec.started_at);
        rec.finished_at = rec.finished_at.as_deref().map(rfc3339);
        Ok(rec)
    }
}

/// Tries to write a run's final row: at once, after 1 s, after 4 s more.
const FINISH_ATTEMPTS: u32 = 3;

/// Marks the `running` traces of a pipeline other than `except` as failed (`interrupted`): their
/// process ended without finishing them. Call it only while holding the pipeline lock, so no other
/// run of the pipeline can be active. Returns how many were marked.
pub fn reap_interrupted(store: &mut dyn SqlStore, pipeline: &str, except: &str) -> Result<u64> {
    ensure_table(store)?;
    store.execute(
        "UPDATE _harbor_runs SET status = 'failed', error = 'interrupted: the process ended before the run finished' \
         WHERE pipeline = CAST($1 AS TEXT) AND status = 'running' AND run_id <> CAST($2 AS TEXT) \
         AND command IN ('collect', 'ingest', 'load', 'run', 'import')",
        &[pipeline.into(), except.into()],
        "mark interrupted runs",
    )
}

const SELECT: &str = "SELECT run_id, command, pipeline, CAST(started_at AS TEXT), CAST(finished_at AS TEXT), status, \
     seconds, CAST(stages AS TEXT), CAST(api_calls AS TEXT), api_calls_total, http_429, retries, CAST(\"rows\" AS TEXT), \
     rows_total, bytes, rejects, error, llm_tokens, llm_cost_usd, CAST(details AS TEXT) FROM _harbor_runs";

fn parse_map<T: serde::de::DeserializeOwned + Default>(v: &Value) -> T {
    v.as_text()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn record_from_row(row: &[Value]) -> RunRecord {
    let u = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0).max(0) as u64;
    let t = |i: usize| row.get(i).and_then(Value::as_text);
    let null = Value::Null;
    let cell = |i: usize| row.get(i).unwrap_or(&null);
    RunRecord {
        run_id: t(0).unwrap_or_default(),
        command: t(1).unwrap_or_default(),
        pipeline: t(2).unwrap_or_default(),
        started_at: t(3).map(|s| rfc3339(&s)).unwrap_or_default(),
        finished_at: t(4).map(|s| rfc3339(&s)),
        status: RunStatus::parse(&t(5).unwrap_or_default()),
        seconds: cell(6).as_f64(),
        api_calls_total: u(9),
        rows_total: u(13),
        error: t(16),
        stats: RunStats {
            stages: parse_map(cell(7)),
            api_calls: parse_map(cell(8)),
            http_429: u(10),
            retries: u(11),
            rows: parse_map(cell(12)),
            bytes: u(14),
            rejects: u(15),
            llm_tokens: u(17),
            llm_cost_usd: cell(18).as_f64().unwrap_or(0.0),
            details: parse_map(cell(19)),
        },
    }
}

/// The most recent runs, newest first, of one pipeline or all.
pub fn recent_runs(store: &mut dyn SqlStore, pipeline: Option<&str>, last: usize) -> Result<Vec<RunRecord>> {
    if !store.table_exists("_harbor_runs")? {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(last).unwrap_or(i64::MAX);
    let rows = match pipeline {
        Some(p) => store.query(
            &format!("{SELECT} WHERE pipeline = CAST($1 AS TEXT) ORDER BY started_at DESC, run_id DESC LIMIT CAST($2 AS BIGINT)"),
            &[p.into(), limit.into()],
            "read _harbor_runs",
        )?,
        None => store.query(
            &format!("{SELECT} ORDER BY started_at DESC, run_id DESC LIMIT CAST($1 AS BIGINT)"),
            &[limit.into()],
            "read _harbor_runs",
        )?,
    };
    Ok(rows.iter().map(|r| record_from_row(r)).collect())
}

/// Runs started within the last `seconds`, oldest first.
pub fn runs_since(
    store: &mut dyn SqlStore,
    pipeline: Option<&str>,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<RunRecord>> {
    if !store.table_exists("_harbor_runs")? {
        return Ok(Vec::new());
    }
    let rows = store.query(
        &format!(
            "{SELECT} WHERE started_at >= CAST(CAST($1 AS TEXT) AS TIMESTAMP) \
             AND (CAST($2 AS TEXT) IS NULL OR pipeline = CAST($2 AS TEXT)) ORDER BY started_at, run_id"
        ),
        &[sql_time(since).into(), pipeline.into()],
        "read _harbor_runs",
    )?;
    Ok(rows.iter().map(|r| record_from_row(r)).collect())
}

/// The current time as stored in timestamp columns (UTC, no zone).
pub fn sql_now() -> String {
    sql_time(now())
}
