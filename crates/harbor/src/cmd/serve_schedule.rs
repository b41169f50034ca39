//! The `[[schedules]]` of harbor.toml, run by `harbor serve` inside the server process.
//!
//! `harbor schedule` starts each run as a child process, which cannot work next to a server: DuckDB
//! admits one process per file and the server holds it. Here each run is the same `harbor` command
//! executed on a scheduler thread of the server, on a second handle of the database the server
//! already has open (see `dest::share_duckdb`). Runs happen one at a time, so two runs of one
//! pipeline never overlap. The missed-run policy is the one of `harbor schedule`: a due time that
//! passes while a run is going, or while the server was down (known from
//! `<workdir>/schedules/<name>.last`, shared with `harbor schedule`), is coalesced into one
//! catch-up run (`missed = "run_once"`) or dropped (`missed = "skip"`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use harbor_ops::config::{MissedPolicy, ScheduleConfig};
use harbor_ops::schedule::{next_after, parse_cron};

use crate::output::UserError;
use crate::settings::Settings;
use crate::{Cli, Command};

struct Job {
    cfg: ScheduleConfig,
    next: DateTime<Utc>,
    pending: bool,
}

/// The scheduler of a server: validated schedules and where their last starts are kept.
pub struct ServeScheduler {
    jobs: Vec<Job>,
    settings: Settings,
    state_dir: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("harbor".to_owned()).chain(args.iter().cloned()))
}

/// The next due time after `now` (the cron was validated in [`ServeScheduler::new`]; an invalid
/// one would never be due).
fn next_of(cfg: &ScheduleConfig, now: DateTime<Utc>) -> DateTime<Utc> {
    parse_cron(&cfg.cron)
        .and_then(|c| next_after(&c, now))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn last_start(dir: &std::path::Path, name: &str) -> Option<DateTime<Utc>> {
    let s = std::fs::read_to_string(dir.join(format!("{name}.last"))).ok()?;
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl ServeScheduler {
    /// Validates every schedule (cron and command) before the server starts.
    pub fn new(settings: &Settings) -> anyhow::Result<Option<ServeScheduler>> {
        if settings.schedules.is_empty() {
            return Ok(None);
        }
        let state_dir = settings.workdir.join("schedules");
        let now = Utc::now();
        let mut jobs = Vec::new();
        for s in &settings.schedules {
            let invalid = |message: String| UserError {
                message,
                hint: Some(
                    "each [[schedules]] needs a cron of 5 fields (or 6 with seconds first) and args \
                     naming a harbor command other than serve or schedule, e.g. [\"collect\"]"
                        .into(),
                ),
            };
            let cron = parse_cron(&s.cron).map_err(|e| invalid(format!("schedule `{}`: {e}", s.name)))?;
            let cli = parse_args(&s.args).map_err(|e| {
                invalid(format!(
                    "schedule `{}`: args {:?} are not a harbor command: {}",
                    s.name,
                    s.args,
                    e.kind()
                ))
            })?;
            if matches!(cli.command, Command::Serve(_) | Command::Schedule(_)) {
                return Err(invalid(format!(
                    "schedule `{}` would start another server or scheduler",
                    s.name
                ))
                .into());
            }
            let missed = last_start(&state_dir, &s.name)
                .map(|last| next_after(&cron, last).is_ok_and(|t| t < now))
                .unwrap_or(false);
            jobs.push(Job {
                next: next_after(&cron, now)?,
                pending: missed && s.missed == MissedPolicy::RunOnce,
                cfg: s.clone(),
            });
        }
        Ok(Some(ServeScheduler {
            jobs,
            settings: settings.clone(),
            state_dir,
        }))
    }

    /// Runs schedules on a thread of its own until `stop` is set; a run in progress then finishes
    /// (or is abandoned when the process exits: every load is one transaction).
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
        for j in &self.jobs {
            eprintln!(
                "schedule {}: next run {}{}",
                j.cfg.name,
                j.next.to_rfc3339(),
                if j.pending {
                    " (and a catch-up run now)"
                } else {
                    ""
                }
            );
        }
        std::thread::Builder::new()
            .name("harbor-schedule".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !self.tick() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
    }

    /// Runs every schedule that is due or pending now, one after the other; returns whether any
    /// ran. Times that come while they run follow the missed-run policy.
    fn tick(&mut self) -> bool {
        let now = Utc::now();
        let mut due = Vec::new();
        for (i, job) in self.jobs.iter_mut().enumerate() {
            let reason = if now >= job.next {
                "due"
            } else if job.pending {
                "catch-up"
            } else {
                continue;
            };
            job.pending = false;
            job.next = next_of(&job.cfg, now);
            due.push((i, reason));
        }
        for &(i, reason) in &due {
            self.run(i, reason);
            self.after_run();
        }
        !due.is_empty()
    }

    /// Due times that passed during a run: one catch-up run (`run_once`) or none (`skip`).
    fn after_run(&mut self) {
        let now = Utc::now();
        for job in &mut self.jobs {
            if job.next <= now {
                let outcome = match job.cfg.missed {
                    MissedPolicy::RunOnce => {
                        job.pending = true;
                        "coalesced"
                    }
                    MissedPolicy::Skip => "skipped",
                };
                eprintln!("missed schedule {}: a run was going, {outcome}", job.cfg.name);
                job.next = next_of(&job.cfg, now);
            }
        }
    }

    fn run(&self, i: usize, reason: &str) {
        let now = Utc::now();
        let job = &self.jobs[i];
        let _ = std::fs::create_dir_all(&self.state_dir);
        let _ = std::fs::write(
            self.state_dir.join(format!("{}.last", job.cfg.name)),
            now.to_rfc3339(),
        );
        let name = job.cfg.name.clone();
        let mut settings = self.settings.clone();
        if let Some(p) = &job.cfg.pipeline {
            settings.pipeline = p.clone();
        }
        let cli = match parse_args(&job.cfg.args) {
            Ok(cli) => cli,
            // Validated in `new`; kept as an error rather than a panic.
            Err(e) => {
                tracing::error!(schedule = %name, error = %e, "Invalid scheduled command");
                return;
            }
        };
        if let Some(p) = cli.pipeline {
            settings.pipeline = p;
        }
        if let Some(d) = cli.destination {
            settings.destination = d;
        }
        if let Some(w) = cli.workdir {
            settings.workdir = w;
        }
        eprintln!(
            "started schedule {name} ({reason}, pipeline {})",
            settings.pipeline
        );
        tracing::info!(schedule = %name, reason, "Scheduled run started");
        let t0 = Instant::now();
        let result = crate::dispatch(settings, cli.command);
        let seconds = t0.elapsed().as_secs_f64();
        match result {
            Ok(()) => eprintln!("finished schedule {name}: ok after {seconds:.1} s"),
            Err(e) => {
                let code = crate::output::report_error(&e);
                eprintln!("finished schedule {name}: exit {code} after {seconds:.1} s");
            }
        }
    }
}
