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
        Self::start_as(store, RunTrace::begin(command, &settings.pipeline), settings)
    }

    /// Like [`Traced::start`] under a given run id (a run started through the HTTP API).
    pub fn start_with_id(
        store: Box<dyn SqlStore>,
        command: &str,
        run_id: &str,
        settings: &crate::settings::Settings,
    ) -> Traced {
        let trace = RunTrace::begin(command, &settings.pipeline).with_run_id(run_id);
        Self::start_as(store, trace, settings)
    }

    fn start_as(store: Box<dyn SqlStore>, trace: RunTrace, settings: &crate::settings::Settings) -> Traced {
        let mut t = Traced {
            trace,
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

    /// The id of this run (the `run_id` of its `_harbor_runs` row).
    pub fn run_id(&self) -> &str {
        self.trace.run_id()
    }

    /// The store of the operations tables (cutover routes, run traces) of the run's destination.
    pub fn store(&mut self) -> &mut dyn SqlStore {
        self.store.as_mut()
    }

    /// Adds seconds to a stage.
    pub fn stage(&mut self, name: &str, seconds: f64) {
        self.trace.stage(name, seconds);
    }

    /// Completes the trace with the run's outcome; sends an alert for a failure.
    pub fn finish<T>(mut self, result: &anyhow::Result<T>) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err(e) => Err(crate::output::error_text(e)),
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

/// Runs `body` as a command that writes: takes the run lock of the pipeline (waiting for another
/// run when `wait`), opens the destination with its operations store, and traces the run as
/// `command`. `body` gets the destination and the trace, and calls [`Traced::locked`] once it
/// holds the pipeline.
pub fn run_locked<T>(
    settings: &crate::settings::Settings,
    command: &str,
    wait: bool,
    body: impl FnOnce(Box<dyn harbor_core::destination::Destination>, &mut Traced) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let _run = crate::runlock::acquire(settings, wait)?;
    let (dest, ops) = crate::dest::open_with_ops(settings)?;
    let mut traced = Traced::start(ops, command, settings);
    let result = body(dest, &mut traced);
    traced.finish(&result);
    result
}

/// Opens the pipeline of the settings on `dest` (waiting for its lock when `wait`) and marks the
/// traces of interrupted runs as failed.
pub fn open_pipeline(
    settings: &crate::settings::Settings,
    dest: Box<dyn harbor_core::destination::Destination>,
    wait: bool,
    traced: &mut Traced,
) -> anyhow::Result<harbor_pipeline::Pipeline> {
    let mut pipeline = harbor_pipeline::Pipeline::open(
        harbor_pipeline::PipelineOptions {
            name: settings.pipeline.clone(),
            workdir: settings.workdir.clone(),
            keep_packages: settings.load.keep_packages,
            wait_for_lock: wait,
        },
        dest,
    )
    .map_err(crate::output::pipeline_error)?;
    pipeline.set_max_attempts(settings.load.max_package_attempts);
    traced.locked();
    Ok(pipeline)
}
