//! Runs started through the API: one at a time per server, executed on the blocking pool by a
//! [`RunLauncher`] the binary provides, followed in memory until they end (the run trace in
//! `_harbor_runs` is the durable record).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::{ApiError, ErrorCode};
use crate::model::{Run, RunCommand, RunRequest};

/// What a finished run reports.
#[derive(Debug, Default, Clone)]
pub struct RunOutcome {
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Rejected records.
    pub rejects: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// A validated run to execute.
#[derive(Debug, Clone)]
pub struct RunJob {
    /// Run id (also given to the trace).
    pub run_id: String,
    /// The command.
    pub command: RunCommand,
    /// Absolute input files inside the inbox.
    pub files: Vec<PathBuf>,
    /// Table for bare objects.
    pub table: Option<String>,
    /// Load again even if loaded before.
    pub force: bool,
}

/// Executes runs (implemented by the `harbor` binary with the same database the server reads).
pub trait RunLauncher: Send + Sync {
    /// Runs to completion on the calling (blocking) thread. The error text is shown to clients, so
    /// it must not contain secrets.
    fn run(&self, job: &RunJob) -> Result<RunOutcome, String>;
}

/// Runs started by this server.
pub struct RunRegistry {
    runs: Mutex<BTreeMap<String, Run>>,
    launcher: Option<Arc<dyn RunLauncher>>,
    inbox: PathBuf,
    pipeline: String,
    finished: AtomicU64,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl RunRegistry {
    /// A registry; without a launcher `POST /runs` answers 409.
    pub fn new(launcher: Option<Arc<dyn RunLauncher>>, inbox: PathBuf, pipeline: String) -> Self {
        Self {
            runs: Mutex::new(BTreeMap::new()),
            launcher,
            inbox,
            pipeline,
            finished: AtomicU64::new(0),
        }
    }

    /// A run this server started, if known.
    pub fn get(&self, run_id: &str) -> Option<Run> {
        self.runs.lock().ok()?.get(run_id).cloned()
    }

    /// All runs this server started.
    pub fn all(&self) -> Vec<Run> {
        self.runs
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The id of the run still going, if any.
    pub fn active(&self) -> Option<String> {
        let runs = self.runs.lock().ok()?;
        runs.values()
            .find(|r| r.status == "running")
            .map(|r| r.run_id.clone())
    }

    /// The inbox file `file` names, as a canonical path (no symlinks, no `..`) inside the canonical
    /// inbox. Symlinks are followed only to find where they lead: one that stays inside the inbox is
    /// accepted (and the run gets its target), one that leads outside (a file or a directory on
    /// the way) is refused, so no text of a file outside the inbox is ever read or copied into a
    /// reject file.
    fn resolve(&self, file: &str) -> Result<PathBuf, ApiError> {
        let p = Path::new(file);
        let safe = !file.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(ApiError::invalid(format!(
                "file `{file}` must be a relative path inside the inbox, without `..`"
            )));
        }
        let not_in_inbox = || ApiError::invalid(format!("file `{file}` is not in the inbox"));
        let inbox = std::fs::canonicalize(&self.inbox).map_err(|_| not_in_inbox())?;
        let full = std::fs::canonicalize(inbox.join(p)).map_err(|_| not_in_inbox())?;
        if !full.starts_with(&inbox) {
            return Err(ApiError::invalid(format!(
                "file `{file}` is a link that leads outside the inbox; copy the file into the inbox instead"
            )));
        }
        // Open, then check what was opened: a file swapped after canonicalize is caught here.
        let opened = std::fs::File::open(&full).map_err(|_| not_in_inbox())?;
        let meta = opened.metadata().map_err(|_| not_in_inbox())?;
        if !meta.is_file() {
            return Err(not_in_inbox());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let now = std::fs::symlink_metadata(&full).map_err(|_| not_in_inbox())?;
            if now.dev() != meta.dev() || now.ino() != meta.ino() || !now.is_file() {
                return Err(not_in_inbox());
            }
        }
        Ok(full)
    }

    /// Validates the request and starts the run in the background; returns its id.
    pub fn start(self: &Arc<Self>, req: RunRequest) -> Result<String, ApiError> {
        let Some(launcher) = self.launcher.clone() else {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "this server cannot start runs",
            ));
        };
        if req.files.is_empty() || req.files.len() > 100 {
            return Err(ApiError::invalid("`files` must name 1 to 100 files"));
        }
        if let Some(t) = &req.table
            && (t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(ApiError::invalid(
                "`table` must be 1-64 letters, digits or underscores",
            ));
        }
        let files = req
            .files
            .iter()
            .map(|f| self.resolve(f))
            .collect::<Result<Vec<_>, _>>()?;
        let id = crate::tokens::random_bytes::<6>().map_err(|e| ApiError::internal("run id", e))?;
        let run_id = format!(
            "api-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let job = RunJob {
            run_id: run_id.clone(),
            command: req.command,
            files,
            table: req.table,
            force: req.force,
        };
        {
            let mut runs = self
                .runs
                .lock()
                .map_err(|_| ApiError::internal("run registry", "poisoned"))?;
            if let Some(active) = runs.values().find(|r| r.status == "running") {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("run {} is still going; wait for it to end", active.run_id),
                ));
            }
            runs.insert(
                run_id.clone(),
                Run {
                    run_id: run_id.clone(),
                    command: Some("load".into()),
                    pipeline: Some(self.pipeline.clone()),
                    started_at: Some(now()),
                    status: "running".into(),
                    ..Default::default()
                },
            );
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let t0 = Instant::now();
            let result = launcher.run(&job);
            this.finish(&job.run_id, t0.elapsed().as_secs_f64(), result);
        });
        Ok(run_id)
    }

    /// Runs that have ended (their data is committed, or rolled back), for the response cache.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::SeqCst)
    }

    fn finish(&self, run_id: &str, seconds: f64, result: Result<RunOutcome, String>) {
        self.finished.fetch_add(1, Ordering::SeqCst);
        let Ok(mut runs) = self.runs.lock() else {
            return;
        };
        let Some(run) = runs.get_mut(run_id) else {
            return;
        };
        run.finished_at = Some(now());
        run.seconds = Some(seconds);
        match result {
            Ok(out) => {
                run.status = "ok".into();
                run.rows_total = Some(out.rows.values().sum::<u64>() as i64);
                run.rows = serde_json::to_value(&out.rows).ok();
                run.rejects = Some(out.rejects as i64);
                run.bytes = Some(out.bytes as i64);
                tracing::info!(run_id, seconds, "Run finished");
            }
            Err(e) => {
                tracing::warn!(run_id, error = %e, "Run failed");
                run.status = "failed".into();
                run.error = Some(e);
            }
        }
    }
}
