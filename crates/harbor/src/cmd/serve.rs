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
    /// The DuckDB file this process holds (runs load through clones of its handle); `None` for
    /// Postgres, where each run opens its own connections.
    duck: Option<Mutex<DuckDbDestination>>,
}

impl RunLauncher for LoadLauncher {
    /// Loads the job's files, traced in `_harbor_runs` under the run id the API answered with.
    fn run(&self, job: &RunJob) -> Result<RunOutcome, String> {
        let (dest, store): (Box<dyn Destination>, Box<dyn harbor_ops::store::SqlStore>) = match &self.duck {
            Some(duck) => {
                let dest = duck
                    .lock()
                    .map_err(|_| "database handle poisoned".to_owned())?
                    .try_clone()
                    .map_err(|e| e.to_string())?;
                let ops = dest
                    .connection()
                    .try_clone()
                    .map_err(|e| format!("cannot open a connection for the run trace: {e}"))?;
                let store = harbor_ops::store::DuckStore::from_connection(ops, dest.describe());
                (Box::new(dest), Box::new(store))
            }
            None => crate::dest::open_with_ops(&self.settings).map_err(|e| format!("{e:#}"))?,
        };
        let mut traced = Traced::start_with_id(store, "load", &job.run_id, &self.settings);
        let result = self.load(job, dest, &mut traced);
        traced.finish(&result);
        result.map_err(|e| format!("{e:#}"))
    }
}

impl LoadLauncher {
    fn load(
        &self,
        job: &RunJob,
        dest: Box<dyn Destination>,
        traced: &mut Traced,
    ) -> anyhow::Result<RunOutcome> {
        let opts = crate::cmd::load::options(&self.settings, job.table.clone(), None, job.force)?;
        let mut pipeline = Pipeline::open(
            PipelineOptions {
                name: self.settings.pipeline.clone(),
                workdir: self.settings.workdir.clone(),
                keep_packages: self.settings.load.keep_packages,
                wait_for_lock: false,
            },
            dest,
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
fn render_metrics(store: &mut dyn harbor_ops::store::SqlStore) -> String {
    harbor_ops::metrics::render_metrics(store, None).unwrap_or_else(|e| metrics_error(&e.to_string()))
}

fn metrics_error(e: &str) -> String {
    tracing::error!(error = %e, "Cannot render the run metrics");
    // Prometheus keeps scraping; the gauge says the run metrics are missing.
    "# HELP harbor_metrics_error Whether the run metrics could not be computed.\n\
     # TYPE harbor_metrics_error gauge\nharbor_metrics_error 1\n"
        .to_owned()
}

/// The database the server reads, how runs it starts load, and how `/metrics` reads run traces.
struct Backend {
    db: harbor_server::db::Db,
    duck: Option<DuckDbDestination>,
    described: String,
    metrics: Arc<harbor_server::MetricsRenderer>,
}

/// Opens the file the server will own, saying plainly when another process holds it.
fn open_owned(settings: &Settings, path: &std::path::Path) -> anyhow::Result<DuckDbDestination> {
    if let Some(other) = crate::proxy::client::connect(path).map_err(dest_error)? {
        return Err(crate::output::UserError {
            message: format!(
                "harbor serve (pid {}) already serves {}",
                other.pid(),
                path.display()
            ),
            hint: Some("stop that server first, or serve another file".into()),
        }
        .into());
    }
    DuckDbDestination::open(path, &crate::dest::duckdb_options(settings)).map_err(|e| {
        if e.message.contains("Could not set lock") || e.message.contains("Conflicting lock") {
            crate::output::UserError {
                message: e.message,
                hint: Some(
                    "another process (a harbor command that is running) has the file open, and DuckDB allows \
                     one process per file: start the server when it has finished; while the server runs, \
                     other harbor commands on the file go through it"
                        .into(),
                ),
            }
            .into()
        } else {
            dest_error(e)
        }
    })
}

fn duckdb_backend(settings: &Settings, path: &std::path::Path, pool: usize) -> anyhow::Result<Backend> {
    let dest = open_owned(settings, path)?;
    // Scheduled runs execute in this process on clones of this handle (DuckDB admits one process).
    crate::dest::share_duckdb(path, dest.try_clone().map_err(dest_error)?);
    let db = harbor_server::db::Db::new(dest.connection(), pool)?;
    let ops = Mutex::new(dest.connection().try_clone()?);
    let metrics = move || match ops.lock() {
        Ok(conn) => match conn.try_clone() {
            Ok(c) => render_metrics(&mut harbor_ops::store::DuckStore::from_connection(c, "duckdb")),
            Err(e) => metrics_error(&e.to_string()),
        },
        Err(_) => metrics_error("connection poisoned"),
    };
    Ok(Backend {
        db,
        described: dest.describe(),
        duck: Some(dest),
        metrics: Arc::new(metrics),
    })
}

fn postgres_backend(url: &str, pool: usize) -> anyhow::Result<Backend> {
    let cfg = harbor_postgres::PgConfig::parse(url).map_err(dest_error)?;
    let db = harbor_server::db::Db::postgres(url, pool)?;
    // A connection per scrape, opened and closed on the blocking thread that renders: a
    // synchronous client must never be dropped on the async runtime (at shutdown it would be).
    let url = url.to_owned();
    let metrics = move || match harbor_ops::store::PgStore::connect(&url) {
        Ok(mut store) => render_metrics(&mut store),
        Err(e) => metrics_error(&e.to_string()),
    };
    Ok(Backend {
        db,
        duck: None,
        described: cfg.describe(),
        metrics: Arc::new(metrics),
    })
}

pub fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let pool = |default: usize| settings.serve.pool_size.unwrap_or(default).max(1);
    let mut owned = None;
    let (backend, pool) = match DestinationUrl::parse(&settings.destination)? {
        DestinationUrl::DuckDb(path) => {
            let backend = duckdb_backend(settings, &path, pool(4))?;
            owned = Some(path);
            (backend, pool(4))
        }
        DestinationUrl::Postgres(url) => (postgres_backend(&url, pool(16))?, pool(16)),
        DestinationUrl::Parquet(_) => {
            return Err(crate::output::UserError {
                message: format!(
                    "harbor serve answers queries, and `{}` is a Parquet directory without a query engine",
                    crate::dest::redact(&settings.destination)
                ),
                hint: Some(
                    "serve a DuckDB file (-d duckdb:///path/harbor.duckdb) or a Postgres database \
                     (-d postgres://...); `harbor export` writes Parquet from either"
                        .into(),
                ),
            }
            .into());
        }
    };
    let scheduler = super::serve_schedule::ServeScheduler::new(settings)?;
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
        pool_size: pool,
        page_index_bytes: settings.serve.page_index_mb << 20,
        ..Default::default()
    };
    let bind = config.bind.clone();
    let Backend {
        db,
        duck,
        described,
        metrics,
    } = backend;
    let launcher = LoadLauncher {
        settings: settings.clone(),
        duck: match &duck {
            Some(d) => Some(Mutex::new(d.try_clone().map_err(dest_error)?)),
            None => None,
        },
    };
    let state = AppState::new(
        db,
        ServerParts {
            config,
            tokens: crate::cmd::token::store(settings).path().to_path_buf(),
            launcher: Some(Arc::new(launcher)),
            inbox,
            pipeline: settings.pipeline.clone(),
            destination: described.clone(),
            metrics: Some(metrics),
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let Err(e) = state.db.check().await {
            return Err(crate::output::UserError {
                message: format!("cannot query {described}: {e}"),
                hint: Some("check the destination URL, that the server is up, and the user's rights; the server log has the details".into()),
            }
            .into());
        }
        let listener = harbor_server::bind(&bind).await?;
        let addr = listener.local_addr().context("listener address")?;
        // Other harbor commands on the file reach it through this process (see `crate::proxy`).
        let socket = match (&owned, &duck) {
            (Some(path), Some(d)) => {
                let st = Arc::clone(&state);
                let on_write: crate::proxy::server::OnWrite = Arc::new(move || st.db.invalidate());
                Some(crate::proxy::server::ProxyServer::start(
                    path,
                    d.try_clone().map_err(dest_error)?,
                    &format!("http://{addr}"),
                    on_write,
                )?)
            }
            _ => None,
        };
        // Ready means fast: the listings' page index is built before the URL is printed (bounded
        // by [serve] page_index_mb, so this takes seconds at most).
        state.pages.build_now(&state).await;
        println!("http://{addr}");
        eprintln!("serving the API and dashboard for {described} on http://{addr} (Ctrl-C stops)");
        if let Some(s) = &socket {
            eprintln!(
                "other harbor commands on this file run through the server ({})",
                s.socket().display()
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(s) = scheduler {
            s.spawn(stop.clone())
                .context("cannot start the scheduler thread")?;
        }
        harbor_server::serve(listener, state, harbor_server::shutdown_signal()).await?;
        stop.store(true, Ordering::Relaxed);
        // No new calls from other commands; those running end first.
        drop(socket);
        // The database handle closes after the last request, so the file is consistent on exit.
        drop(duck);
        anyhow::Ok(())
    })
}
