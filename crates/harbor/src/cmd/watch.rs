//! `harbor watch`: real-time collection of new posts and comments within a share of the rate limit.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use harbor_pipeline::watch::{self, PlanOptions, Polled, Stream, WatchOptions, Watcher, epoch_now};
use harbor_pipeline::{Pipeline, PipelineOptions};
use serde_json::json;

use crate::cmd::collect::{self, CollectArgs, SubredditArgs};
use crate::cmd::score::{self, ScoreArgs};
use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// Watch subreddits in real time: new posts and comments, committed within seconds.
///
/// Polls combined listings (`/r/a+b+c/new` and `/r/a+b+c/comments`, many subreddits for one call)
/// and reads each again as often as it is busy: subreddits are grouped so that what arrives between
/// two reads fits one page of 100, and the calls are spread over the groups within --budget (a
/// share of the per-minute allowance; the pacer enforces the share from Reddit's rate-limit
/// headers, so scheduled runs of the same app keep the rest). New items are committed in small
/// packages (every --commit-items items or --commit-secs seconds) together with the listing
/// cursors, in one transaction: after a crash, kill -9 or restart the watcher pages back to the
/// committed cursors, and nothing is missed or loaded twice. 429s, 5xx answers, truncated bodies
/// and token expiry are retried by the client; a listing that still fails is read again later.
///
/// The watcher holds the pipeline's run lock only while it commits, so `harbor run`, `harbor
/// collect` and scheduled runs of the same pipeline run beside it (the watcher buffers while one
/// of them holds the lock). Its lag per listing is on `/metrics` (`harbor_watch_lag_seconds`) and
/// in `harbor status` (the `watch/...` cursors). SIGTERM or Ctrl-C stops it after the last package
/// is committed (exit code 0).
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub subs: SubredditArgs,
    /// What to watch: posts, comments or both.
    #[arg(long, default_value = "both", value_parser = ["posts", "comments", "both"])]
    pub watch: String,
    /// Share of the rate limit's allowance the watcher may spend, e.g. 60% or 0.6; the rest is left
    /// to scheduled runs of the same OAuth app.
    #[arg(long, default_value = "60%", value_name = "SHARE")]
    pub budget: String,
    /// Requests per minute the API allows this app (Reddit: 100 for OAuth clients).
    #[arg(long, default_value_t = 100.0, value_name = "N")]
    pub allowance: f64,
    /// Commit a package once this many new items are waiting.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub commit_items: usize,
    /// Commit at least this often (seconds) while items are waiting.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub commit_secs: f64,
    /// Shortest interval between two reads of one listing (seconds).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub min_interval: f64,
    /// Longest interval between two reads of one listing (seconds): bounds the delay of quiet ones.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub max_interval: f64,
    /// Seconds below a listing's newest item whose ids are remembered (late or same-second items).
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub lag_window: f64,
    /// Problem filter on new posts: tag (keep all, tag problem posts), only (keep problem posts) or off.
    #[arg(long, value_parser = ["tag", "only", "off"])]
    pub filter: Option<String>,
    /// Score new problem posts after each commit (heuristic unless --scorer llm).
    #[arg(long)]
    pub score: bool,
    /// Scorer for --score: heuristic (offline, default) or llm.
    #[arg(long, value_parser = ["heuristic", "llm"])]
    pub scorer: Option<String>,
    /// Stop after this many seconds (with the last package committed), instead of running until a signal.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print one JSON line per commit on stdout (time, items, calls).
    #[arg(long)]
    pub json: bool,
}

/// `60%`, `0.6` or `60` as a share in (0, 1].
pub fn parse_share(s: &str) -> anyhow::Result<f64> {
    let t = s.trim();
    let v: f64 = t
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| bad_budget(s))?;
    let share = if t.ends_with('%') || v > 1.0 { v / 100.0 } else { v };
    if !(share > 0.0 && share <= 1.0) {
        return Err(bad_budget(s));
    }
    Ok(share)
}

fn bad_budget(s: &str) -> anyhow::Error {
    UserError {
        message: format!("--budget {s:?} is not a share of the rate limit"),
        hint: Some("give a percentage (60%) or a fraction (0.6) above 0 and at most 100%".into()),
    }
    .into()
}

/// Flags set by SIGTERM / Ctrl-C.
fn shutdown_signal(runtime: &tokio::runtime::Runtime) -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let _guard = runtime.enter();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    runtime.spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    });
    Ok(rx)
}

pub fn run(settings: &Settings, args: WatchArgs) -> anyhow::Result<()> {
    let share = parse_share(&args.budget)?;
    let collect_args = CollectArgs {
        subs: args.subs.clone(),
        filter: args.filter.clone(),
        ..CollectArgs::default()
    };
    let copts = collect::options(settings, &collect_args)?;
    let streams = match args.watch.as_str() {
        "posts" => vec![Stream::New],
        "comments" => vec![Stream::Comments],
        _ => vec![Stream::New, Stream::Comments],
    };
    if !(args.min_interval > 0.0 && args.max_interval >= args.min_interval) {
        return Err(UserError {
            message: format!(
                "--min-interval {} / --max-interval {}: intervals must be positive, the longest at least the shortest",
                args.min_interval, args.max_interval
            ),
            hint: None,
        }
        .into());
    }
    let opts = WatchOptions {
        subreddits: copts.subreddits.clone(),
        streams,
        plan: PlanOptions {
            calls_per_minute: (args.allowance * share).max(0.1),
            min_interval: Duration::from_secs_f64(args.min_interval),
            max_interval: Duration::from_secs_f64(args.max_interval),
            ..PlanOptions::default()
        },
        lag_secs: args.lag_window.max(0.0),
        filter: copts.filter.clone(),
        ..WatchOptions::default()
    };
    let client = collect::client(settings.reddit_config())?;
    client.set_budget_share(share);
    let runtime = collect::runtime()?;
    let mut stop = shutdown_signal(&runtime)?;

    // Start from the committed cursors (loading what an interrupted watcher left packaged).
    let state = with_pipeline(settings, true, |p| {
        p.recover().map_err(pipeline_error)?;
        crate::cmd::packages::print_notices(&p.package_notices());
        p.state().map_err(pipeline_error)
    })?
    .context("the pipeline could not be opened")?;
    let mut watcher = Watcher::new(opts, &state, epoch_now()).map_err(|m| UserError {
        message: m,
        hint: None,
    })?;
    eprintln!(
        "watching {} subreddits in {} listings, {:.0}% of {} calls a minute (Ctrl-C or SIGTERM stops)",
        copts.subreddits.len(),
        watcher.groups().len(),
        share * 100.0,
        args.allowance
    );
    for g in watcher.groups() {
        tracing::info!(listing = %format!("r/{}/{}", g.members.join("+"), g.stream.as_str()),
            interval = g.interval.as_secs_f64(), "listing");
    }
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + Duration::from_secs_f64(d));
    let mut last_commit = Instant::now();
    let mut busy_notice = false;
    loop {
        if *stop.borrow() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let due =
            watcher.pending() >= args.commit_items || last_commit.elapsed().as_secs_f64() >= args.commit_secs;
        if due {
            match commit(settings, &args, &copts, &mut watcher, false)? {
                Some(()) => {
                    last_commit = Instant::now();
                    busy_notice = false;
                }
                None => {
                    if !busy_notice {
                        eprintln!(
                            "  pipeline `{}` is busy with another run: buffering {} items",
                            settings.pipeline,
                            watcher.pending()
                        );
                        busy_notice = true;
                    }
                    // Try again in a second.
                    last_commit = Instant::now()
                        .checked_sub(Duration::from_secs_f64((args.commit_secs - 1.0).max(0.0)))
                        .unwrap_or_else(Instant::now);
                }
            }
        }
        // A read in flight is never cancelled (the pacer counts it until it is answered); only the
        // waits between reads are cut short by a signal.
        match runtime.block_on(watcher.poll(&client)) {
            Ok(Polled::Idle { secs }) => {
                let commit_in =
                    Duration::from_secs_f64(args.commit_secs).saturating_sub(last_commit.elapsed());
                let mut wait = Duration::from_secs_f64(secs.max(0.0)).min(commit_in);
                if let Some(d) = deadline {
                    wait = wait.min(d.saturating_duration_since(Instant::now()));
                }
                runtime.block_on(async {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                    }
                });
            }
            Ok(Polled::Failed { listing, error }) => {
                eprintln!("  {listing}: {error} (read again later)");
            }
            Ok(Polled::Read { .. }) => {}
            Err(e) => {
                // Credentials or configuration: every listing would fail. Commit what was read first.
                let _ = commit(settings, &args, &copts, &mut watcher, true);
                return Err(anyhow::Error::new(e).context("watching stopped"));
            }
        }
    }
    // The last package: wait for another run to finish rather than lose it.
    commit(settings, &args, &copts, &mut watcher, true)?;
    let s = &watcher.stats;
    eprintln!(
        "watch stopped: {} items in {} packages, {} listing calls, {} failed reads, {} gaps, {:.0} s",
        s.committed,
        s.commits,
        s.calls,
        s.errors,
        s.gaps,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `f` on the pipeline under its run lock. `Ok(None)`: another run holds the lock and
/// `wait` is false.
fn with_pipeline<T>(
    settings: &Settings,
    wait: bool,
    f: impl FnOnce(&mut Pipeline) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    let _run = match crate::runlock::acquire(settings, wait) {
        Ok(l) => l,
        Err(e) if !wait && e.downcast_ref::<UserError>().is_some() => return Ok(None),
        Err(e) => return Err(e),
    };
    let dest = crate::dest::open(settings)?;
    let mut p = Pipeline::open(
        PipelineOptions {
            name: settings.pipeline.clone(),
            workdir: settings.workdir.clone(),
            keep_packages: settings.load.keep_packages,
            wait_for_lock: true,
        },
        dest,
    )
    .map_err(pipeline_error)?;
    p.set_max_attempts(settings.load.max_package_attempts);
    f(&mut p).map(Some)
}

/// Commits the watcher's buffer and cursors (and scores with --score). `Ok(None)`: the pipeline
/// is busy (only when not `wait`); the buffer is kept for the next try.
fn commit(
    settings: &Settings,
    args: &WatchArgs,
    copts: &harbor_pipeline::collect::CollectOptions,
    watcher: &mut Watcher,
    wait: bool,
) -> anyhow::Result<Option<()>> {
    let calls = watcher.stats.calls;
    with_pipeline(settings, wait, |p| {
        let loaded = watch::commit(p, watcher, copts).map_err(pipeline_error)?;
        let Some((load, names)) = loaded else {
            return Ok(());
        };
        let posts: Vec<&str> = names
            .iter()
            .filter(|(n, _)| n.starts_with("t3_"))
            .map(|(n, _)| n.as_str())
            .collect();
        if args.score && !posts.is_empty() {
            let score_args = ScoreArgs {
                scorer: args.scorer.clone(),
                subreddit: copts.subreddits.clone(),
                ..ScoreArgs::default()
            };
            if let Err(e) = score::score(settings, &score_args, p) {
                eprintln!(
                    "  scoring after commit {} failed: {e:#} (the items are committed)",
                    load.load_id
                );
            }
        }
        if args.json {
            let v = json!({
                "event": "commit",
                "at": epoch_now(),
                "load_id": load.load_id,
                "items": names.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                "calls": calls,
            });
            println!("{v}");
        } else if !names.is_empty() {
            eprintln!(
                "  committed {} items ({} posts) in {}; {} listing calls so far",
                names.len(),
                posts.len(),
                load.load_id,
                calls
            );
        }
        Ok(())
    })
}
