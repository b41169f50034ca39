//! The writing half of a collection run: every collected thing and the new cursors go into ONE load
//! package, loaded in one destination transaction, so data and cursors commit together.

use std::time::Instant;

use harbor_core::destination::LoadReport;
use harbor_core::normalize::SourceRef;
use harbor_core::state::PipelineState;
use harbor_reddit::RedditClient;

use super::gather::{Gathered, gather};
use super::options::CollectOptions;
use super::report::{CollectEvent, CollectReport, ProblemPost, SubredditStatus, TOP_PROBLEM_POSTS};
use crate::error::Result;
use crate::extract::{ExtractSummary, extract_records};
use crate::input::RawRecord;
use crate::rejects::RejectSink;
use crate::run::Pipeline;

/// One collection run, the library entry point behind `harbor collect` and `harbor demo`.
///
/// 1. Loads packages an interrupted earlier run left behind (their ids go to
///    [`CollectReport::recovered`]).
/// 2. Reads the committed pipeline state (listing cursors, tracked posts).
/// 3. Collects every subreddit of `opts` on `runtime` (a handle of a runtime that is driven by its
///    own worker threads; call this from a thread outside that runtime, e.g. `main`), reporting
///    [`CollectEvent`]s to `progress` as it goes. A private, banned or missing subreddit becomes
///    [`SubredditStatus::Unavailable`], any other error of one subreddit
///    [`SubredditStatus::Failed`]; the others go on. Errors that would fail every subreddit alike
///    (credentials, config) stop the run with [`crate::Error::Reddit`].
/// 4. Writes everything collected plus the new state values into ONE load package and loads it in
///    one destination transaction: rows and cursors commit together, exactly once. A crash at any
///    point leaves the old state (the next run collects again) or a complete package (the next run
///    loads it first).
///
/// ```no_run
/// # fn demo(pipeline: &mut harbor_pipeline::Pipeline, client: &harbor_reddit::RedditClient) -> harbor_pipeline::Result<()> {
/// use harbor_pipeline::collect::{self, CollectOptions};
/// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
/// let opts = CollectOptions { subreddits: vec!["rust".into()], ..CollectOptions::default() };
/// let report = collect::run(pipeline, rt.handle(), client, &opts, &|event| eprintln!("{event:?}"))?;
/// println!("{} API calls, rows: {:?}", report.stats.api_requests(), report.rows);
/// # Ok(()) }
/// ```
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
        top_problem_posts: ProblemPost::top(
            gathered
                .batches
                .iter()
                .flat_map(|b| b.problem_posts.iter().cloned()),
            TOP_PROBLEM_POSTS,
        ),
        ..Default::default()
    };
    if let Some((load, summary)) = commit(pipeline, gathered, &state, opts, progress)? {
        report.load_id = Some(load.load_id);
        report.rows = load.rows.into_iter().collect();
        report.rejects = summary.rejects;
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
        rejects.finish();
        if summary.rejects > 0 {
            tracing::warn!(rejects = summary.rejects, dir = %rejects_dir.display(), "Some things could not be normalized");
        }
        Ok((summary, state))
    })?;
    let load = pipeline.load_package(package)?;
    Ok(Some((load, summary)))
}
