//! Per-subreddit status for `harbor status` and the API: cursor, rows, last successful run, next
//! scheduled run and cutover route.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::ScheduleConfig;
use crate::cutover::{self, Route};
use crate::error::Result;
use crate::store::{SqlStore, Value};
use crate::trace::{RunStatus, recent_runs};

/// One subreddit of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubredditStatus {
    /// Lowercased name.
    pub subreddit: String,
    /// Newest `created_utc` collected (the `new` listing cursor), RFC 3339.
    pub cursor: Option<String>,
    /// Rows in `submissions`.
    pub submissions: u64,
    /// End of the latest successful run of the pipeline that covered it (RFC 3339).
    pub last_success: Option<String>,
    /// Next time a schedule of the pipeline is due (RFC 3339).
    pub next_run: Option<String>,
    /// Where the cutover routes it.
    pub route: Route,
}

fn rfc(epoch: f64) -> String {
    chrono::DateTime::from_timestamp_micros((epoch * 1e6) as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The status of every subreddit the pipeline knows (from cursors, data and cutover routes).
pub fn subreddits(
    store: &mut dyn SqlStore,
    pipeline: &str,
    schedules: &[ScheduleConfig],
) -> Result<Vec<SubredditStatus>> {
    let mut cursors: BTreeMap<String, f64> = BTreeMap::new();
    for (p, key, max) in crate::metrics::cursors(store)? {
        if p != pipeline {
            continue;
        }
        if let Some(sub) = key.strip_prefix("reddit/r/").and_then(|k| k.strip_suffix("/new")) {
            cursors.insert(sub.to_ascii_lowercase(), max);
        }
    }
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    if store.columns("submissions")?.iter().any(|c| c == "subreddit") {
        for r in store.query(
            "SELECT lower(subreddit), count(*) FROM submissions WHERE subreddit IS NOT NULL GROUP BY 1",
            &[],
            "count submissions per subreddit",
        )? {
            if let (Some(s), Some(n)) = (
                r.first().and_then(Value::as_text),
                r.get(1).and_then(Value::as_i64),
            ) {
                rows.insert(s, n.max(0) as u64);
            }
        }
    }
    let cut = cutover::status(store, pipeline, 0)?;
    let runs = recent_runs(store, Some(pipeline), 200)?;
    let last_ok = |sub: &str| {
        runs.iter()
            .filter(|r| r.status == RunStatus::Ok)
            .find(|r| match r.stats.details.get("subreddits") {
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(sub))),
                _ => true,
            })
            .and_then(|r| r.finished_at.clone())
    };
    let now = chrono::Utc::now();
    let next_run = schedules
        .iter()
        .filter(|s| s.pipeline.as_deref().is_none_or(|p| p == pipeline))
        .filter_map(|s| crate::schedule::parse_cron(&s.cron).ok())
        .filter_map(|c| crate::schedule::next_after(&c, now).ok())
        .min()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let mut names: Vec<String> = cursors
        .keys()
        .chain(rows.keys())
        .chain(cut.routes.keys())
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .map(|s| SubredditStatus {
            cursor: cursors.get(&s).map(|t| rfc(*t)),
            submissions: rows.get(&s).copied().unwrap_or(0),
            last_success: last_ok(&s),
            next_run: next_run.clone(),
            route: cut.route_of(&s),
            subreddit: s,
        })
        .collect())
}
