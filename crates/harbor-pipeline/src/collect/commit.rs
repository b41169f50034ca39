//! The writing half of a collection run: every collected thing and the new cursors go into ONE load
//! package, loaded in one destination transaction, so data and cursors commit together.

use std::collections::BTreeMap;
use std::time::Instant;

use harbor_core::destination::LoadReport;
use harbor_core::normalize::SourceRef;
use harbor_core::state::PipelineState;
use harbor_reddit::{CallStats, RedditClient};
use serde::Serialize;

use super::gather::{CollectEvent, Gathered, SubredditReport, SubredditStatus, gather};
use super::options::CollectOptions;
use crate::error::Result;
use crate::extract::{ExtractSummary, extract_records};
use crate::input::RawRecord;
use crate::rejects::RejectSink;
use crate::run::Pipeline;

/// What one collection run did.
#[derive(Debug, Default, Serialize)]
pub struct CollectReport {
    /// One entry per subreddit, in run order.
    pub subreddits: Vec<SubredditReport>,
    /// API calls, retries, 429s and rate-limit waits of this run.
    pub stats: CallStats,
    /// The load id, when something was loaded.
    pub load_id: Option<String>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Packages of an interrupted earlier run that were loaded first.
    pub recovered: Vec<String>,
    /// Seconds spent collecting (network).
    pub seconds_collect: f64,
    /// Seconds spent normalizing and loading.
    pub seconds_load: f64,
}

impl CollectReport {
    /// Subreddits whose collection failed (not merely unavailable).
    pub fn failed(&self) -> impl Iterator<Item = &SubredditReport> {
        self.subreddits
            .iter()
            .filter(|s| s.status == SubredditStatus::Failed)
    }
}

/// One collection run: replays packages left by an interrupted run, reads the cursors, collects
/// (on `runtime`, which must not be the caller's own runtime thread), then writes and loads one
/// package with the data and the new cursors.
pub fn run(
    pipeline: &mut Pipeline,
    runtime: &tokio::runtime::Handle,
    client: &RedditClient,
    opts: &CollectOptions,
    progress: &(dyn Fn(&CollectEvent) + Sync),
) -> Result<CollectReport> {
    let recovered = pipeline.recover()?.into_iter().map(|r| r.load_id).collect();
    let state = pipeline.state()?;
    let gathered = runtime.block_on(gather(client, &state, opts, progress))?;
    let started = Instant::now();
    let mut report = CollectReport {
        subreddits: gathered.reports.clone(),
        stats: gathered.stats.clone(),
        recovered,
        seconds_collect: gathered.seconds,
        ..Default::default()
    };
    if let Some((load, _)) = commit(pipeline, gathered, &state, opts, progress)? {
        report.load_id = Some(load.load_id);
        report.rows = load.rows.into_iter().collect();
    }
    report.seconds_load = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Writes the gathered things and state as one package and loads it. Returns `None` when there is
/// nothing new to write (no things, no changed state value).
pub fn commit(
    pipeline: &mut Pipeline,
    gathered: Gathered,
    stored: &PipelineState,
    opts: &CollectOptions,
    progress: &(dyn Fn(&CollectEvent) + Sync),
) -> Result<Option<(LoadReport, ExtractSummary)>> {
    let mut state = PipelineState::default();
    let mut things = Vec::new();
    for batch in gathered.batches {
        things.extend(batch.things);
        for (k, v) in batch.state {
            state.set(k, v);
        }
    }
    let changed = state.values.iter().any(|(k, v)| stored.get(k) != Some(v));
    if things.is_empty() && !changed {
        return Ok(None);
    }
    progress(&CollectEvent::Loading {
        records: things.len(),
    });
    let collected: Vec<&str> = gathered
        .reports
        .iter()
        .filter(|r| r.status == SubredditStatus::Collected)
        .map(|r| r.subreddit.as_str())
        .collect();
    let source = format!("reddit api: r/{}", collected.join(", r/"));
    let rejects_dir = opts.rejects_dir.clone();
    let (package, summary) = pipeline.build_package(&source, None, |writer, schema, load_id| {
        let mut rejects = RejectSink::new(rejects_dir.join(format!("{load_id}.ndjson")), Vec::new());
        let read = move |emit: &mut dyn FnMut(RawRecord) -> bool| -> Result<u64> {
            let mut n = 0;
            for (i, t) in things.into_iter().enumerate() {
                n += 1;
                if !emit(RawRecord::value(t, SourceRef { file: 0, line: i as u64 + 1 })) {
                    break;
                }
            }
            Ok(n)
        };
        let summary = extract_records(read, writer, schema, &opts.extract, load_id, &mut rejects)?;
        if summary.rejects > 0 {
            tracing::warn!(rejects = summary.rejects, dir = %rejects_dir.display(), "Some things could not be normalized");
        }
        Ok((summary, state))
    })?;
    let load = pipeline.load_package(package)?;
    Ok(Some((load, summary)))
}
