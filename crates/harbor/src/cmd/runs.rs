//! `harbor runs`: the run traces in `_harbor_runs`.

use clap::Args;
use harbor_ops::trace::{RunRecord, recent_runs};

use crate::settings::Settings;

/// Print recent runs: command, status, duration, rows, API calls, 429s, errors.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// How many runs to show, newest first.
    #[arg(long, default_value_t = 20)]
    last: usize,
    /// Show runs of every pipeline, not only the configured one.
    #[arg(long)]
    all: bool,
    /// Print as JSON (an array of run records).
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: RunsArgs) -> anyhow::Result<()> {
    let mut store = crate::dest::open_ops(settings)?;
    let pipeline = (!args.all).then_some(settings.pipeline.as_str());
    let runs = recent_runs(store.as_mut(), pipeline, args.last)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        eprintln!("no runs recorded yet in {}", store.describe());
        return Ok(());
    }
    println!(
        "{:<28} {:<8} {:<10} {:<8} {:<20} {:>9} {:>9} {:>6} {:>5}  error",
        "run", "command", "pipeline", "status", "started", "seconds", "rows", "calls", "429"
    );
    for r in &runs {
        println!("{}", line(r));
    }
    Ok(())
}

fn line(r: &RunRecord) -> String {
    let started: String = r.started_at.replace('T', " ").chars().take(19).collect();
    let secs = r.seconds.map(|s| format!("{s:.2}")).unwrap_or_else(|| "-".into());
    let mut err: String = r.error.clone().unwrap_or_default().chars().take(80).collect();
    if err.contains('\n') {
        err = err.lines().next().unwrap_or_default().to_owned();
    }
    format!(
        "{:<28} {:<8} {:<10} {:<8} {:<20} {:>9} {:>9} {:>6} {:>5}  {}",
        r.run_id,
        r.command,
        r.pipeline,
        r.status.as_str(),
        started,
        secs,
        r.rows_total,
        r.api_calls_total,
        r.stats.http_429,
        err
    )
}
