//! Prometheus metrics (text exposition format 0.0.4) computed from `_harbor_runs`, the pipeline
//! state and the cutover table. [`render_metrics`] serves `/metrics` and `harbor metrics`.
//!
//! Everything is derived from what the destination holds, so every process (a scheduler, the API
//! server, a one-shot `harbor metrics`) reports the same numbers, and a restart loses nothing.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::error::Result;
use crate::store::SqlStore;
use crate::trace::{RunStats, recent_runs};

/// The content type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Metric families in the order they are first declared, samples grouped per family.
#[derive(Default)]
struct Exposition {
    families: BTreeMap<&'static str, Family>,
}

/// Families whose every sample needs labels beyond the pipeline (a run's command and status, a
/// cursor, a subreddit), declared even when there is no sample yet.
const DECLARED: [(&str, &str, &str); 4] = [
    ("harbor_runs_total", "counter", "Runs recorded in _harbor_runs."),
    (
        "harbor_cursor_lag_seconds",
        "gauge",
        "Seconds between now and the newest item collected for a listing cursor.",
    ),
    (
        "harbor_watch_lag_seconds",
        "gauge",
        "Seconds since `harbor watch` last read a listing through to its cursor and committed it.",
    ),
    (
        "harbor_cutover_subreddits",
        "gauge",
        "Subreddits per cutover route.",
    ),
];

impl Exposition {
    /// A family with no samples yet (its HELP and TYPE lines are printed).
    fn declare(&mut self, name: &'static str, kind: &'static str, help: &'static str) {
        self.families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            samples: Vec::new(),
        });
    }

    fn add(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        let f = self.families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            samples: Vec::new(),
        });
        f.samples.push((labels, value));
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", f.help);
            let _ = writeln!(out, "# TYPE {name} {}", f.kind);
            for (labels, v) in &f.samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, val)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape_label(val));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*v));
            }
        }
        out
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Epoch seconds of a stored or RFC 3339 timestamp.
pub fn epoch_of(ts: &str) -> Option<f64> {
    let s = ts.trim_end_matches('Z').replacen('T', " ", 1);
    chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros() as f64 / 1e6)
}

#[derive(Default)]
struct Totals {
    runs: u64,
    seconds: f64,
    last_start: f64,
    last_seconds: f64,
}

/// Renders every metric of every pipeline in the store. `now` (epoch seconds) is the reference of
/// the cursor lag; pass `None` for the clock.
pub fn render_metrics(store: &mut dyn SqlStore, now: Option<f64>) -> Result<String> {
    render_metrics_for(store, now, None)
}

/// [`render_metrics`], with the per-pipeline counters of `pipeline` at zero when it has no runs
/// yet: a new database shows every family a scraper will see (families whose samples need labels
/// that do not exist yet, such as a run's command, are declared with no samples).
pub fn render_metrics_for(
    store: &mut dyn SqlStore,
    now: Option<f64>,
    pipeline: Option<&str>,
) -> Result<String> {
    let now = now.unwrap_or_else(|| chrono::Utc::now().timestamp_micros() as f64 / 1e6);
    let mut x = Exposition::default();
    for (name, kind, help) in DECLARED {
        x.declare(name, kind, help);
    }
    let runs = recent_runs(store, None, usize::MAX)?;
    let mut by_status: BTreeMap<(String, String, String), Totals> = BTreeMap::new();
    let mut sums: BTreeMap<String, RunStats> = BTreeMap::new();
    if let Some(p) = pipeline {
        sums.entry(p.to_owned()).or_default();
    }
    let mut last_success: BTreeMap<String, f64> = BTreeMap::new();
    let mut running: BTreeMap<String, u64> = BTreeMap::new();
    // Oldest first, so "last" values end up being the newest.
    for r in runs.iter().rev() {
        let started = epoch_of(&r.started_at).unwrap_or(0.0);
        let t = by_status
            .entry((
                r.pipeline.clone(),
                r.command.clone(),
                r.status.as_str().to_owned(),
            ))
            .or_default();
        t.runs += 1;
        t.seconds += r.seconds.unwrap_or(0.0);
        t.last_start = started;
        t.last_seconds = r.seconds.unwrap_or(0.0);
        match r.status {
            crate::trace::RunStatus::Ok => {
                let end = r.finished_at.as_deref().and_then(epoch_of).unwrap_or(started);
                last_success.insert(r.pipeline.clone(), end);
            }
            crate::trace::RunStatus::Running => *running.entry(r.pipeline.clone()).or_default() += 1,
            crate::trace::RunStatus::Failed => {}
        }
        let s = sums.entry(r.pipeline.clone()).or_default();
        for (k, v) in &r.stats.api_calls {
            *s.api_calls.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.stats.rows {
            *s.rows.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.stats.stages {
            *s.stages.entry(k.clone()).or_default() += v;
        }
        s.http_429 += r.stats.http_429;
        s.retries += r.stats.retries;
        s.bytes += r.stats.bytes;
        s.rejects += r.stats.rejects;
        s.llm_tokens += r.stats.llm_tokens;
        s.llm_cost_usd += r.stats.llm_cost_usd;
    }
    for ((p, c, st), t) in &by_status {
        let l = || {
            vec![
                ("pipeline", p.clone()),
                ("command", c.clone()),
                ("status", st.clone()),
            ]
        };
        x.add(
            "harbor_runs_total",
            "counter",
            "Runs recorded in _harbor_runs.",
            l(),
            t.runs as f64,
        );
        x.add(
            "harbor_run_duration_seconds_sum",
            "counter",
            "Total wall seconds of finished runs.",
            l(),
            t.seconds,
        );
        x.add(
            "harbor_run_last_start_timestamp_seconds",
            "gauge",
            "Start time of the latest run.",
            l(),
            t.last_start,
        );
        x.add(
            "harbor_run_last_duration_seconds",
            "gauge",
            "Wall seconds of the latest run.",
            l(),
            t.last_seconds,
        );
    }
    for (p, s) in &sums {
        let pl = || vec![("pipeline", p.clone())];
        for (e, n) in &s.api_calls {
            x.add(
                "harbor_api_calls_total",
                "counter",
                "Reddit API requests by endpoint.",
                vec![("pipeline", p.clone()), ("endpoint", e.clone())],
                *n as f64,
            );
        }
        for (t, n) in &s.rows {
            x.add(
                "harbor_rows_loaded_total",
                "counter",
                "Rows written per table.",
                vec![("pipeline", p.clone()), ("table", t.clone())],
                *n as f64,
            );
        }
        for (st, secs) in &s.stages {
            x.add(
                "harbor_stage_seconds_total",
                "counter",
                "Seconds spent per stage.",
                vec![("pipeline", p.clone()), ("stage", st.clone())],
                *secs,
            );
        }
        x.add(
            "harbor_http_429_total",
            "counter",
            "HTTP 429 (rate limited) responses received.",
            pl(),
            s.http_429 as f64,
        );
        x.add(
            "harbor_retries_total",
            "counter",
            "Retries after transient failures.",
            pl(),
            s.retries as f64,
        );
        x.add(
            "harbor_bytes_total",
            "counter",
            "Bytes read or written by runs.",
            pl(),
            s.bytes as f64,
        );
        x.add(
            "harbor_rejects_total",
            "counter",
            "Records rejected.",
            pl(),
            s.rejects as f64,
        );
        x.add(
            "harbor_llm_tokens_total",
            "counter",
            "LLM tokens spent.",
            pl(),
            s.llm_tokens as f64,
        );
        x.add(
            "harbor_llm_cost_usd_total",
            "counter",
            "LLM cost in US dollars.",
            pl(),
            s.llm_cost_usd,
        );
        let failed: u64 = by_status
            .iter()
            .filter(|((pp, _, st), _)| pp == p && st == "failed")
            .map(|(_, t)| t.runs)
            .sum();
        x.add(
            "harbor_run_errors_total",
            "counter",
            "Runs that failed.",
            pl(),
            failed as f64,
        );
        x.add(
            "harbor_runs_running",
            "gauge",
            "Runs started and not finished.",
            pl(),
            running.get(p).copied().unwrap_or(0) as f64,
        );
        if let Some(t) = last_success.get(p) {
            x.add(
                "harbor_last_success_timestamp_seconds",
                "gauge",
                "End time of the latest successful run.",
                pl(),
                *t,
            );
        }
    }
    for (pipeline, key, max) in cursors(store)? {
        x.add(
            "harbor_cursor_lag_seconds",
            "gauge",
            "Seconds between now and the newest item collected for a listing cursor.",
            vec![("pipeline", pipeline), ("cursor", key)],
            (now - max).max(0.0),
        );
    }
    for w in watch_cursors(store)? {
        x.add(
            "harbor_watch_lag_seconds",
            "gauge",
            "Seconds since `harbor watch` last read a listing through to its cursor and committed it.",
            vec![
                ("pipeline", w.pipeline),
                ("subreddit", w.subreddit),
                ("stream", w.stream),
            ],
            (now - w.polled_at).max(0.0),
        );
    }
    for (pipeline, route, n) in crate::cutover::route_counts(store)? {
        x.add(
            "harbor_cutover_subreddits",
            "gauge",
            "Subreddits per cutover route.",
            vec![("pipeline", pipeline), ("route", route)],
            n as f64,
        );
    }
    Ok(x.render())
}

/// `(pipeline, key, value)` of the `_harbor_state` entries whose key starts with `prefix` (a
/// constant), with the value parsed as JSON; empty when there is no state table.
fn state_entries(store: &mut dyn SqlStore, prefix: &str) -> Result<Vec<(String, String, serde_json::Value)>> {
    if !store.table_exists("_harbor_state")? {
        return Ok(Vec::new());
    }
    let rows = store.query(
        &format!(
            "SELECT pipeline, key, CAST(value AS TEXT) FROM _harbor_state WHERE key LIKE '{prefix}%' ORDER BY pipeline, key"
        ),
        &[],
        "read _harbor_state",
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let v = serde_json::from_str(&r.get(2)?.as_text()?).ok()?;
            Some((r.first()?.as_text()?, r.get(1)?.as_text()?, v))
        })
        .collect())
}

/// `(pipeline, key, max_created_utc)` of every listing cursor in `_harbor_state`.
pub fn cursors(store: &mut dyn SqlStore) -> Result<Vec<(String, String, f64)>> {
    Ok(state_entries(store, "reddit/")?
        .into_iter()
        .filter_map(|(pipeline, key, v)| Some((pipeline, key, v.get("max_created_utc")?.as_f64()?)))
        .filter(|(_, _, max)| *max > 0.0)
        .collect())
}

/// One `harbor watch` cursor (`watch/r/{subreddit}/{stream}` in `_harbor_state`).
#[derive(Debug, Clone, PartialEq)]
pub struct WatchLag {
    /// Pipeline.
    pub pipeline: String,
    /// Subreddit (lower case).
    pub subreddit: String,
    /// `new` or `comments`.
    pub stream: String,
    /// Epoch seconds of the committed read: the data is complete up to this instant.
    pub polled_at: f64,
    /// Newest `created_utc` the listing showed then.
    pub head_utc: f64,
}

/// The watch cursors of every pipeline in `_harbor_state`.
pub fn watch_cursors(store: &mut dyn SqlStore) -> Result<Vec<WatchLag>> {
    Ok(state_entries(store, "watch/r/")?
        .into_iter()
        .filter_map(|(pipeline, key, v)| {
            let (subreddit, stream) = key.strip_prefix("watch/r/")?.rsplit_once('/')?;
            Some(WatchLag {
                pipeline,
                subreddit: subreddit.to_owned(),
                stream: stream.to_owned(),
                polled_at: v.get("polled_at")?.as_f64()?,
                head_utc: v
                    .get("head_utc")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_numbers_formatted() {
        let mut x = Exposition::default();
        x.add("m", "gauge", "h", vec![("l", "a\"b\\c\nd".into())], 1.5);
        x.add("m", "gauge", "h", vec![], 3.0);
        let s = x.render();
        assert!(s.contains("m{l=\"a\\\"b\\\\c\\nd\"} 1.5\n"), "{s}");
        assert!(s.contains("\nm 3\n"), "{s}");
        assert_eq!(s.matches("# TYPE m gauge").count(), 1);
        assert_eq!(epoch_of("1970-01-01 00:01:40.5"), Some(100.5));
        assert_eq!(epoch_of("1970-01-01T00:01:40Z"), Some(100.0));
    }

    #[test]
    fn an_empty_store_shows_the_families_at_zero() {
        let mut store = crate::store::DuckStore::in_memory("memory").expect("duckdb");
        let text = render_metrics_for(&mut store, Some(0.0), Some("reddit")).expect("metrics");
        for family in [
            "harbor_runs_total",
            "harbor_http_429_total",
            "harbor_run_errors_total",
            "harbor_watch_lag_seconds",
        ] {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}:\n{text}");
        }
        assert!(
            text.contains("harbor_http_429_total{pipeline=\"reddit\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("harbor_runs_running{pipeline=\"reddit\"} 0\n"),
            "{text}"
        );
        // Without a pipeline, nothing is made up: the families are declared, no samples.
        let bare = render_metrics(&mut store, Some(0.0)).expect("metrics");
        assert!(
            bare.contains("# TYPE harbor_runs_total counter") && !bare.contains("pipeline="),
            "{bare}"
        );
    }

    #[test]
    fn value_numbers_are_read() {
        assert_eq!(crate::store::Value::Text("3".into()).as_i64(), Some(3));
    }
}
