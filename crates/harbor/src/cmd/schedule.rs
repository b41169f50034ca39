//! `harbor schedule`: run the `[[schedules]]` of harbor.toml.

use std::time::{Duration, Instant};

use clap::Args;
use harbor_ops::schedule::{Event, Scheduler};

use crate::output::UserError;
use crate::settings::Settings;

/// Run the cron schedules of harbor.toml ([[schedules]]: name, cron, args, pipeline, missed) until
/// stopped. Each run is `harbor --pipeline P <args>` in its own process. Two runs of one pipeline
/// never overlap: a time that comes while the pipeline is busy, or passed while the scheduler was
/// down, is coalesced into one catch-up run (missed = "run_once", the default) or dropped
/// (missed = "skip").
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Print each schedule's next time and exit.
    #[arg(long)]
    list: bool,
    /// Stop starting runs after this many seconds, wait for the running ones, and exit.
    #[arg(long, value_name = "SECONDS")]
    r#for: Option<f64>,
}

pub fn run(settings: &Settings, args: ScheduleArgs) -> anyhow::Result<()> {
    if settings.schedules.is_empty() {
        return Err(UserError {
            message: "no schedules configured".into(),
            hint: Some(
                "add [[schedules]] with name = \"hourly\", cron = \"0 * * * *\", args = [\"run\"] to harbor.toml".into(),
            ),
        }
        .into());
    }
    let exe = std::env::current_exe()?;
    let global = vec![
        "--destination".to_owned(),
        settings.destination.clone(),
        "--workdir".to_owned(),
        settings.workdir.display().to_string(),
    ];
    let state_dir = settings.workdir.join("schedules");
    let mut sched =
        Scheduler::new(&settings.schedules, &settings.pipeline, exe, global, state_dir).map_err(|e| {
            UserError {
                message: e.to_string(),
                hint: Some(
                    "cron takes 5 fields (minute hour day month weekday) or 6 with seconds first".into(),
                ),
            }
        })?;
    for (name, pipeline, next) in sched.next_runs() {
        eprintln!(
            "schedule {name} (pipeline {pipeline}): next run {}",
            next.to_rfc3339()
        );
    }
    if args.list {
        return Ok(());
    }
    let t0 = Instant::now();
    let limit = args.r#for.map(Duration::from_secs_f64);
    // Without --for it runs until the process is stopped (SIGINT/SIGTERM also reach the runs).
    let stop = || limit.is_some_and(|l| t0.elapsed() >= l);
    sched.run(&stop, &mut |e| match e {
        Event::Started { schedule, reason } => eprintln!("started {schedule} ({reason})"),
        Event::Finished {
            schedule,
            code,
            seconds,
        } => eprintln!("finished {schedule}: exit {code} after {seconds:.1} s"),
        Event::Missed { schedule, outcome } => eprintln!("missed {schedule}: pipeline busy, {outcome}"),
    })?;
    Ok(())
}
