//! The operations sections of `harbor.toml`: `[cutover]`, `[check]` and `[[schedules]]`
//! (`[alerts]` is [`crate::alert::AlertConfig`]).

use serde::{Deserialize, Serialize};

/// `[cutover]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutoverConfig {
    /// The legacy collector, run for the subreddits routed to legacy; `{subreddits}` becomes their
    /// comma-separated names, e.g. `python scripts/collect_problem_posts.py --subreddits {subreddits}`.
    pub legacy_command: Option<String>,
    /// The subreddits the percentages share out (default: those given to `cutover set`).
    pub subreddits: Vec<String>,
}

/// `[check]`: the rollback triggers of the migration plan, evaluated over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// The window, in hours, ending now.
    pub window_hours: f64,
    /// Error rate (failed runs / finished runs) above which the trigger fires.
    pub max_error_rate: f64,
    /// Runs needed in the window before the error rate is judged.
    pub min_runs: u64,
    /// Tables checked for duplicate primary keys (`id`).
    pub duplicate_tables: Vec<String>,
    /// Largest allowed gap, in hours, between consecutive `created_utc` of one subreddit's
    /// submissions inside the window (and from the newest one to the end of the window).
    pub max_gap_hours: f64,
    /// HTTP 429 responses allowed in the window.
    pub max_429: u64,
    /// A run longer than this many seconds misses the SLA.
    pub sla_seconds: f64,
    /// SLA misses allowed in the window ("missed repeatedly" = more than this).
    pub max_sla_misses: u64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            window_hours: 6.0,
            max_error_rate: 0.20,
            min_runs: 1,
            duplicate_tables: vec!["submissions".into(), "comments".into()],
            max_gap_hours: 24.0,
            max_429: 10,
            sla_seconds: 1800.0,
            max_sla_misses: 1,
        }
    }
}

/// What to do with runs whose time came while the scheduler was down or the previous run of the
/// same pipeline was still going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Run once as soon as possible, however many times were missed (coalesce).
    #[default]
    RunOnce,
    /// Drop missed runs; wait for the next time.
    Skip,
}

/// One `[[schedules]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// A name for logs and traces.
    pub name: String,
    /// Cron expression (5 fields, or 6 with seconds first), UTC.
    pub cron: String,
    /// The harbor arguments to run, e.g. `["run", "--subreddits", "rust,golang"]`.
    pub args: Vec<String>,
    /// Pipeline (default: the configured one). Two runs of one pipeline never overlap.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Missed-run policy.
    #[serde(default)]
    pub missed: MissedPolicy,
}
