//! `harbor serve`: the HTTP API and dashboard over the destination, with runs started in the
//! background in the same process (the database is opened once and shared).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use harbor_core::destination::Destination;
use harbor_duckdb::DuckDbDestination;
use harbor_pipeline::{Pipeline, PipelineOptions};
use harbor_server::{AppState, RunJob, RunLauncher, RunOutcome, ServerConfig, ServerParts};

use crate::dest::DestinationUrl;
use crate::output::dest_error;
use crate::settings::Settings;
use crate::traced::Traced;

/// Serve the HTTP API (/api/v1, /openapi.json, /metrics, /healthz) and the dashboard (/), and run
/// the [[schedules]] of harbor.toml in the same process (one run at a time).
///
/// Every API call needs a bearer token: create one with `harbor token create --scope read`.
/// Prints the URL on stdout once listening; stops on Ctrl-C or SIGTERM after in-flight requests end.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (port 0 picks a free port) [default: serve.bind, 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Browser origin allowed to call the API (CORS); repeat for several, `*` for any.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Directory that POST /api/v1/runs may load files from [default: <workdir>/inbox].
    #[arg(long, value_name = "DIR")]
    inbox: Option<PathBuf>,
}

struct LoadLauncher {
    settings: Settings,
    dest: Mutex<DuckDbDestination>,
}

impl RunLauncher for LoadLauncher {
    /// Loads the job's files, traced in `_harbor_runs` under the run id the API answered with.
    fn run(&self, job: &RunJob) -> Result<RunOutcome, String> {
        let dest = self
            .dest
            .lock()
            .map_err(|_| "database handle poisoned".to_owned())?
            .try_clone()
            .map_err(|e| e.to_string())?;
        let ops = dest
            .connection()
            .try_clone()
            .map_err(|e| format!("cannot open a connection for the run trace: {e}"))?;
        let store = harbor_ops::store::DuckStore::from_connection(ops, dest.describe());
        let mut traced = Traced::start_with_id(Box::new(store), "load", &job.run_id, &self.settings);
        let result = self.load(job, dest, &mut traced);
        traced.finish(&result);
        result.map_err(|e| format!("{e:#}"))
    }
}

impl LoadLauncher {
    fn load(&self, job: &RunJob, dest: DuckDbDestination, traced: &mut Traced) -> anyhow::Result<RunOutcome> {
        let opts = crate::cmd::load::options(&self.settings, job.table.clone(), None, job.force)?;
        let mut pipeline = Pipeline::open(
            PipelineOptions {
                name: self.settings.pipeline.clone(),
                workdir: self.settings.workdir.clone(),
                keep_packages: self.settings.load.keep_packages,
                wait_for_lock: false,
            },
            Box::new(dest),
        )
        .map_err(crate::output::pipeline_error)?;
        traced.locked();
        let bytes = crate::cmd::load::input_bytes(&job.files);
        let summary = pipeline
            .load_files(&job.files, &opts, Arc::new(AtomicU64::new(0)))
            .map_err(crate::output::pipeline_error)?;
        crate::cmd::load::record(traced, &summary, bytes);
        let rows = summary
            .load
            .map(|l| l.rows.into_iter().collect())
            .unwrap_or_default();
        Ok(RunOutcome {
            rows,
            rejects: summary.extract.rejects,
            bytes,
        })
    }
}

/// `/metrics` beyond the server's own counters: the run, cursor and cutover metrics of
/// `harbor metrics`, computed from the database at each scrape.
fn render_metrics(conn: &duckdb::Connection) -> String {
    let rendered = conn.try_clone().map_err(|e| e.to_string()).and_then(|c| {
        let mut store = harbor_ops::store::DuckStore::from_connection(c, "duckdb");
        harbor_ops::metrics::render_metrics(&mut store, None).map_err(|e| e.to_string())
    });
    rendered.unwrap_or_else(|e| {
        tracing::error!(error = %e, "Cannot render the run metrics");
        // Prometheus keeps scraping; the gauge says the run metrics are missing.
        "# HELP harbor_metrics_error Whether the run metrics could not be computed.\n\
         # TYPE harbor_metrics_error gauge\nharbor_metrics_error 1\n"
            .to_owned()
    })
}

pub fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let DestinationUrl::DuckDb(path) = DestinationUrl::parse(&settings.destination)? else {
        return Err(crate::output::UserError {
            message: format!(
                "harbor serve reads a DuckDB destination; `{}` is not one",
                crate::dest::redact(&settings.destination)
            ),
            hint: Some(
                "serve a DuckDB file (--destination duckdb:///path/harbor.duckdb); the API over \
                 Postgres and Parquet destinations is not built yet"
                    .into(),
            ),
        }
        .into());
    };
    let scheduler = super::serve_schedule::ServeScheduler::new(settings)?;
    let dest = DuckDbDestination::open(&path, &crate::dest::duckdb_options(settings)).map_err(dest_error)?;
    let described = dest.describe();
    // Scheduled runs execute in this process on clones of this handle (DuckDB admits one process).
    crate::dest::share_duckdb(&path, dest.try_clone().map_err(dest_error)?);
    let inbox = args
        .inbox
        .or_else(|| settings.serve.inbox.clone())
        .unwrap_or_else(|| settings.workdir.join("inbox"));
    let mut cors = settings.serve.cors_origins.clone();
    cors.extend(args.cors_origins);
    let config = ServerConfig {
        bind: args.bind.unwrap_or_else(|| settings.serve.bind.clone()),
        cors_origins: cors,
        request_timeout: Duration::from_secs(settings.serve.request_timeout_secs.max(1)),
        body_limit: settings.serve.body_limit,
        max_page: settings.serve.max_page.max(1),
        ..Default::default()
    };
    let bind = config.bind.clone();
    let state = AppState::new(
        dest.connection(),
        ServerParts {
            config,
            tokens: crate::cmd::token::store(settings).path().to_path_buf(),
            launcher: Some(Arc::new(LoadLauncher {
                settings: settings.clone(),
                dest: Mutex::new(dest.try_clone().map_err(dest_error)?),
            })),
            inbox,
            pipeline: settings.pipeline.clone(),
            destination: described,
            metrics: Some(Arc::new(render_metrics)),
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = harbor_server::bind(&bind).await?;
        let addr = listener.local_addr().context("listener address")?;
        println!("http://{addr}");
        eprintln!("serving the API and dashboard on http://{addr} (Ctrl-C stops)");
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(s) = scheduler {
            s.spawn(stop.clone())
                .context("cannot start the scheduler thread")?;
        }
        harbor_server::serve(listener, state, harbor_server::shutdown_signal()).await?;
        stop.store(true, Ordering::Relaxed);
        // The database handle closes after the last request, so the file is consistent on exit.
        drop(dest);
        anyhow::Ok(())
    })
}
