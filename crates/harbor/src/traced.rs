//! Run traces for the commands that run the pipeline: a `_harbor_runs` row from start to end, and
//! an alert when the run fails. Tracing never fails a run: problems writing the trace are warnings.

use harbor_ops::alert::{Alert, AlertConfig};
use harbor_ops::store::SqlStore;
use harbor_ops::trace::{RunStats, RunTrace, reap_interrupted};

/// A traced run.
pub struct Traced {
    trace: RunTrace,
    store: Box<dyn SqlStore>,
    alerts: AlertConfig,
    pipeline: String,
}

impl Traced {
    /// Starts the trace of `command` and writes its `running` row.
    pub fn start(store: Box<dyn SqlStore>, command: &str, settings: &crate::settings::Settings) -> Traced {
        let mut t = Traced {
            trace: RunTrace::begin(command, &settings.pipeline),
            store,
            alerts: settings.alerts.clone(),
            pipeline: settings.pipeline.clone(),
        };
        if let Err(e) = t.trace.write_start(t.store.as_mut()) {
            tracing::warn!(error = %e, "Cannot write the run trace");
        }
        t
    }

    /// Call once the pipeline lock is held: marks traces of runs that died as failed.
    pub fn locked(&mut self) {
        let id = self.trace.run_id().to_owned();
        match reap_interrupted(self.store.as_mut(), &self.pipeline, &id) {
            Ok(n) if n > 0 => tracing::warn!(runs = n, "Marked runs that ended without finishing as failed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Cannot update run traces"),
        }
    }

    /// The counters.
    pub fn stats(&mut self) -> &mut RunStats {
        self.trace.stats()
    }

    /// Adds seconds to a stage.
    pub fn stage(&mut self, name: &str, seconds: f64) {
        self.trace.stage(name, seconds);
    }

    /// Completes the trace with the run's outcome; sends an alert for a failure.
    pub fn finish<T>(mut self, result: &anyhow::Result<T>) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{e:#}")),
        };
        match self.trace.finish(self.store.as_mut(), outcome) {
            Ok(rec) => {
                if rec.status == harbor_ops::trace::RunStatus::Failed
                    && self.alerts.on_failed_run
                    && let Err(e) = harbor_ops::alert::send(&self.alerts, &Alert::run_failed(&rec))
                {
                    tracing::warn!(error = %e, "Cannot deliver the failure alert");
                }
            }
            Err(e) => tracing::warn!(error = %e, "Cannot complete the run trace"),
        }
    }
}
