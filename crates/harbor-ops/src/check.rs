//! The rollback triggers of the migration plan, evaluated over a window: error rate, duplicate
//! primary keys, gaps in `created_utc` coverage per subreddit, rate-limit overruns, and runs over
//! the SLA. A report says which fired, with the values, thresholds and the offending items.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::CheckConfig;
use crate::cutover::Route;
use crate::error::Result;
use crate::metrics::epoch_of;
use crate::store::{SqlStore, Value, quote};
use crate::trace::{RunStatus, runs_since};

/// One trigger's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    /// `error_rate`, `duplicates`, `gaps`, `rate_limit`, `sla`.
    pub name: &'static str,
    /// Whether it fired.
    pub fired: bool,
    /// The measured value.
    pub value: f64,
    /// The threshold it is compared with (fires when the value is above it).
    pub threshold: f64,
    /// One line for humans.
    pub summary: String,
    /// The offending items (run ids, duplicated keys, subreddits with their gaps).
    pub items: Vec<String>,
}

/// The result of `harbor check`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// The pipeline.
    pub pipeline: String,
    /// Window start and end (RFC 3339 UTC).
    pub since: String,
    /// Window end.
    pub until: String,
    /// Every trigger, fired or not.
    pub triggers: Vec<Trigger>,
    /// Whether any fired.
    pub fired: bool,
}

impl CheckReport {
    /// The names of the triggers that fired.
    pub fn fired_names(&self) -> Vec<&'static str> {
        self.triggers.iter().filter(|t| t.fired).map(|t| t.name).collect()
    }
}

fn ts(t: f64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros((t * 1e6) as i64).unwrap_or_default()
}

/// Evaluates every trigger for `pipeline` over the window ending at `now` (epoch seconds; `None` is
/// the clock). Subreddits routed to legacy by the cutover are left out of the gap check.
pub fn evaluate(
    store: &mut dyn SqlStore,
    pipeline: &str,
    cfg: &CheckConfig,
    now: Option<f64>,
) -> Result<CheckReport> {
    let now = now.unwrap_or_else(|| chrono::Utc::now().timestamp_micros() as f64 / 1e6);
    let since = now - cfg.window_hours * 3600.0;
    let runs: Vec<_> = runs_since(store, Some(pipeline), ts(since))?
        .into_iter()
        .filter(|r| epoch_of(&r.started_at).unwrap_or(0.0) <= now)
        .collect();
    let mut triggers = Vec::new();

    // Error rate over finished runs.
    let finished: Vec<_> = runs.iter().filter(|r| r.status != RunStatus::Running).collect();
    let failed: Vec<_> = finished
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .collect();
    let rate = if finished.is_empty() {
        0.0
    } else {
        failed.len() as f64 / finished.len() as f64
    };
    triggers.push(Trigger {
        name: "error_rate",
        fired: finished.len() as u64 >= cfg.min_runs.max(1) && rate > cfg.max_error_rate,
        value: rate,
        threshold: cfg.max_error_rate,
        summary: format!(
            "{} of {} runs failed ({:.0}%)",
            failed.len(),
            finished.len(),
            rate * 100.0
        ),
        items: failed
            .iter()
            .map(|r| format!("{} {}: {}", r.run_id, r.command, r.error.as_deref().unwrap_or("")))
            .collect(),
    });

    // Duplicate primary keys.
    let mut dups = Vec::new();
    let mut dup_total = 0u64;
    for table in &cfg.duplicate_tables {
        if !store.columns(table)?.iter().any(|c| c == "id") {
            continue;
        }
        let q = quote(table);
        let rows = store.query(
            &format!("SELECT CAST(id AS TEXT), count(*) FROM {q} GROUP BY id HAVING count(*) > 1 ORDER BY 2 DESC, 1"),
            &[],
            &format!("find duplicate ids in {table}"),
        )?;
        dup_total += rows.len() as u64;
        dups.extend(rows.iter().take(20).map(|r| {
            format!(
                "{table}.id = {} ({} rows)",
                r.first().and_then(Value::as_text).unwrap_or_default(),
                r.get(1).and_then(Value::as_i64).unwrap_or(0)
            )
        }));
    }
    triggers.push(Trigger {
        name: "duplicates",
        fired: dup_total > 0,
        value: dup_total as f64,
        threshold: 0.0,
        summary: format!("{dup_total} primary keys appear more than once"),
        items: dups,
    });

    // Gaps in created_utc per subreddit.
    let gaps = gaps(store, pipeline, cfg, since, now)?;
    let worst = gaps.values().fold(0.0f64, |a, g| a.max(g.0));
    let limit = cfg.max_gap_hours * 3600.0;
    let mut over: Vec<_> = gaps.iter().filter(|(_, g)| g.0 > limit).collect();
    over.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    triggers.push(Trigger {
        name: "gaps",
        fired: !over.is_empty(),
        value: worst / 3600.0,
        threshold: cfg.max_gap_hours,
        summary: format!(
            "{} of {} subreddits have a gap over {} h in created_utc",
            over.len(),
            gaps.len(),
            cfg.max_gap_hours
        ),
        items: over
            .iter()
            .map(|(s, (g, from, to))| format!("r/{s}: {:.1} h without posts ({from} .. {to})", g / 3600.0))
            .collect(),
    });

    // Rate-limit overruns.
    let http_429: u64 = runs.iter().map(|r| r.stats.http_429).sum();
    triggers.push(Trigger {
        name: "rate_limit",
        fired: http_429 > cfg.max_429,
        value: http_429 as f64,
        threshold: cfg.max_429 as f64,
        summary: format!("{http_429} HTTP 429 responses in the window"),
        items: runs
            .iter()
            .filter(|r| r.stats.http_429 > 0)
            .map(|r| format!("{}: {} x 429", r.run_id, r.stats.http_429))
            .collect(),
    });

    // SLA: finished runs over it, and runs still going for longer than it.
    let misses: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let secs = match r.seconds {
                Some(s) => s,
                None if r.status == RunStatus::Running => now - epoch_of(&r.started_at)?,
                None => return None,
            };
            (secs > cfg.sla_seconds).then(|| format!("{} {}: {:.0} s", r.run_id, r.command, secs))
        })
        .collect();
    triggers.push(Trigger {
        name: "sla",
        fired: misses.len() as u64 > cfg.max_sla_misses,
        value: misses.len() as f64,
        threshold: cfg.max_sla_misses as f64,
        summary: format!("{} runs over the {} s SLA", misses.len(), cfg.sla_seconds),
        items: misses,
    });

    let fired = triggers.iter().any(|t| t.fired);
    Ok(CheckReport {
        pipeline: pipeline.to_owned(),
        since: ts(since).to_rfc3339(),
        until: ts(now).to_rfc3339(),
        triggers,
        fired,
    })
}

/// The largest gap (seconds, from, to) per subreddit inside the window: between the window start
/// and the first post, between consecutive posts, and between the last post and the window end.
/// Subreddits are those with submissions before the window end; legacy-routed ones are skipped.
fn gaps(
    store: &mut dyn SqlStore,
    pipeline: &str,
    cfg: &CheckConfig,
    since: f64,
    now: f64,
) -> Result<BTreeMap<String, (f64, String, String)>> {
    let cols = store.columns("submissions")?;
    if !(cols.iter().any(|c| c == "subreddit") && cols.iter().any(|c| c == "created_utc")) {
        return Ok(BTreeMap::new());
    }
    let _ = cfg;
    let cut = crate::cutover::status(store, pipeline, 0)?;
    let fmt = |t: f64| ts(t).format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let subs = store.query(
        "SELECT DISTINCT lower(subreddit) FROM submissions WHERE subreddit IS NOT NULL \
         AND created_utc < CAST(CAST($1 AS TEXT) AS TIMESTAMP)",
        &[fmt(now).into()],
        "list subreddits",
    )?;
    let rows = store.query(
        "SELECT lower(subreddit), CAST(created_utc AS TEXT) FROM submissions WHERE subreddit IS NOT NULL \
         AND created_utc >= CAST(CAST($1 AS TEXT) AS TIMESTAMP) AND created_utc <= CAST(CAST($2 AS TEXT) AS TIMESTAMP) \
         ORDER BY 1, 2",
        &[fmt(since).into(), fmt(now).into()],
        "read created_utc per subreddit",
    )?;
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in subs {
        if let Some(s) = s.first().and_then(Value::as_text)
            && cut.route_of(&s) == Route::Harbor
        {
            times.insert(s, Vec::new());
        }
    }
    for r in rows {
        let (Some(s), Some(t)) = (
            r.first().and_then(Value::as_text),
            r.get(1).and_then(Value::as_text).and_then(|t| epoch_of(&t)),
        ) else {
            continue;
        };
        if let Some(v) = times.get_mut(&s) {
            v.push(t);
        }
    }
    let show = |t: f64| ts(t).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Ok(times
        .into_iter()
        .map(|(s, v)| {
            let mut best = (0.0, show(since), show(now));
            let mut prev = since;
            for t in v.iter().copied().chain(std::iter::once(now)) {
                if t - prev > best.0 {
                    best = (t - prev, show(prev), show(t));
                }
                prev = prev.max(t);
            }
            (s, best)
        })
        .collect())
}
