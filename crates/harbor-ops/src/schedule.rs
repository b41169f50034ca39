//! The built-in scheduler: runs `harbor` commands on cron schedules (`[[schedules]]`), never two at
//! once for one pipeline.
//!
//! Missed-run policy (per schedule, `missed = "run_once" | "skip"`): a time that comes while the
//! previous run of the same pipeline is still going, or while the scheduler was not running (known
//! from the last start recorded in `<state_dir>/<schedule>.last`), is either coalesced into ONE run
//! started as soon as the pipeline is free (`run_once`, the default) or dropped (`skip`). Runs are
//! never queued up: however many times were missed, at most one catch-up run happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::CronParser;

use crate::config::{MissedPolicy, ScheduleConfig};
use crate::error::{Error, Result};

/// Parses a cron expression: 5 fields (minute first) or 6 (seconds first), UTC.
pub fn parse_cron(expr: &str) -> Result<Cron> {
    CronParser::new()
        .parse(expr)
        .map_err(|e| Error::invalid(format!("invalid cron expression `{expr}`: {e}")))
}

/// The next time a schedule is due after `after`.
pub fn next_after(cron: &Cron, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
    cron.find_next_occurrence(&after, false)
        .map_err(|e| Error::invalid(format!("cron `{}` has no next time: {e}", cron.pattern)))
}

/// What the scheduler did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A run started.
    Started {
        /// Schedule name.
        schedule: String,
        /// Why: `due`, `catch-up`.
        reason: &'static str,
    },
    /// A run ended.
    Finished {
        /// Schedule name.
        schedule: String,
        /// Exit code (-1 when killed by a signal).
        code: i32,
        /// Wall seconds.
        seconds: f64,
    },
    /// A due time found the pipeline busy (or passed while the scheduler was down).
    Missed {
        /// Schedule name.
        schedule: String,
        /// What happens to it: `coalesced` (one catch-up run) or `skipped`.
        outcome: &'static str,
    },
}

struct Job {
    cfg: ScheduleConfig,
    pipeline: String,
    cron: Cron,
    next: DateTime<Utc>,
    pending: bool,
}

struct Running {
    job: usize,
    child: Child,
    started: Instant,
}

/// Runs schedules until told to stop.
pub struct Scheduler {
    jobs: Vec<Job>,
    exe: PathBuf,
    global_args: Vec<String>,
    state_dir: PathBuf,
    running: BTreeMap<String, Running>,
}

fn last_start(dir: &Path, name: &str) -> Option<DateTime<Utc>> {
    let s = std::fs::read_to_string(dir.join(format!("{name}.last"))).ok()?;
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Scheduler {
    /// A scheduler that runs `exe global_args --pipeline P args...` for each schedule; the default
    /// pipeline is `pipeline`. `state_dir` keeps the last start of each schedule.
    pub fn new(
        schedules: &[ScheduleConfig],
        pipeline: &str,
        exe: PathBuf,
        global_args: Vec<String>,
        state_dir: PathBuf,
    ) -> Result<Scheduler> {
        let now = Utc::now();
        let mut jobs = Vec::new();
        for s in schedules {
            if s.args.is_empty() {
                return Err(Error::invalid(format!(
                    "schedule `{}` has no args (the harbor command to run)",
                    s.name
                )));
            }
            let cron = parse_cron(&s.cron)?;
            let mut pending = false;
            if let Some(last) = last_start(&state_dir, &s.name)
                && next_after(&cron, last)? < now
                && s.missed == MissedPolicy::RunOnce
            {
                pending = true;
            }
            jobs.push(Job {
                pipeline: s.pipeline.clone().unwrap_or_else(|| pipeline.to_owned()),
                next: next_after(&cron, now)?,
                cfg: s.clone(),
                cron,
                pending,
            });
        }
        Ok(Scheduler {
            jobs,
            exe,
            global_args,
            state_dir,
            running: BTreeMap::new(),
        })
    }

    /// `(schedule, pipeline, next due time)` of every schedule.
    pub fn next_runs(&self) -> Vec<(String, String, DateTime<Utc>)> {
        self.jobs
            .iter()
            .map(|j| (j.cfg.name.clone(), j.pipeline.clone(), j.next))
            .collect()
    }

    fn start(&mut self, i: usize, reason: &'static str, events: &mut dyn FnMut(Event)) {
        let job = &mut self.jobs[i];
        job.pending = false;
        let _ = std::fs::create_dir_all(&self.state_dir);
        let _ = std::fs::write(
            self.state_dir.join(format!("{}.last", job.cfg.name)),
            Utc::now().to_rfc3339(),
        );
        let mut cmd = Command::new(&self.exe);
        cmd.args(&self.global_args)
            .arg("--pipeline")
            .arg(&job.pipeline)
            .args(&job.cfg.args);
        match cmd.spawn() {
            Ok(child) => {
                tracing::info!(schedule = %job.cfg.name, pipeline = %job.pipeline, reason, "Scheduled run started");
                events(Event::Started {
                    schedule: job.cfg.name.clone(),
                    reason,
                });
                self.running.insert(
                    job.pipeline.clone(),
                    Running {
                        job: i,
                        child,
                        started: Instant::now(),
                    },
                );
            }
            Err(e) => {
                tracing::error!(schedule = %job.cfg.name, error = %e, "Cannot start the scheduled run");
                events(Event::Finished {
                    schedule: job.cfg.name.clone(),
                    code: -1,
                    seconds: 0.0,
                });
            }
        }
    }

    fn reap(&mut self, events: &mut dyn FnMut(Event)) {
        let done: Vec<String> = self
            .running
            .iter_mut()
            .filter_map(|(p, r)| matches!(r.child.try_wait(), Ok(Some(_)) | Err(_)).then(|| p.clone()))
            .collect();
        for p in done {
            if let Some(mut r) = self.running.remove(&p) {
                let code = r.child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
                let name = self.jobs[r.job].cfg.name.clone();
                tracing::info!(schedule = %name, code, "Scheduled run finished");
                events(Event::Finished {
                    schedule: name,
                    code,
                    seconds: r.started.elapsed().as_secs_f64(),
                });
            }
        }
    }

    /// One pass: reaps finished runs, starts due and pending ones. Returns the time until the
    /// next due schedule.
    pub fn tick(&mut self, events: &mut dyn FnMut(Event)) -> Result<Duration> {
        self.reap(events);
        let now = Utc::now();
        for i in 0..self.jobs.len() {
            let busy = self.running.contains_key(&self.jobs[i].pipeline);
            if now >= self.jobs[i].next {
                self.jobs[i].next = next_after(&self.jobs[i].cron, now)?;
                if busy {
                    let outcome = match self.jobs[i].cfg.missed {
                        MissedPolicy::RunOnce => {
                            self.jobs[i].pending = true;
                            "coalesced"
                        }
                        MissedPolicy::Skip => "skipped",
                    };
                    events(Event::Missed {
                        schedule: self.jobs[i].cfg.name.clone(),
                        outcome,
                    });
                } else {
                    self.start(i, "due", events);
                }
            } else if self.jobs[i].pending && !busy {
                self.start(i, "catch-up", events);
            }
        }
        let soonest = self
            .jobs
            .iter()
            .map(|j| j.next)
            .min()
            .unwrap_or(now + chrono::Duration::seconds(60));
        Ok((soonest - Utc::now()).to_std().unwrap_or_default())
    }

    /// Runs until `stop()` says so, then waits for the runs in progress.
    pub fn run(&mut self, stop: &dyn Fn() -> bool, events: &mut dyn FnMut(Event)) -> Result<()> {
        while !stop() {
            let wait = self.tick(events)?;
            std::thread::sleep(wait.min(Duration::from_millis(100)));
        }
        while !self.running.is_empty() {
            self.reap(events);
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_with_and_without_seconds() {
        let t = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let five = parse_cron("*/15 * * * *").expect("5 fields");
        assert_eq!(
            next_after(&five, t).expect("next").to_rfc3339(),
            "2025-01-02T03:15:00+00:00"
        );
        let six = parse_cron("*/10 * * * * *").expect("6 fields");
        assert_eq!(
            next_after(&six, t).expect("next").to_rfc3339(),
            "2025-01-02T03:04:10+00:00"
        );
        assert!(parse_cron("every day").is_err());
    }
}
