//! `harbor collect`: collect subreddits from the Reddit API, incrementally, exactly once.

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use harbor_pipeline::Pipeline;
use harbor_pipeline::collect::{self, CollectOptions, CollectReport, FilterSetting, ListingSpec};
use harbor_reddit::{ClientEvent, CommentOptions, FilterMode, ProblemFilter, RedditClient, WalkOptions};

use crate::collect_print;
use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// The subreddit list of `harbor collect` and `harbor watch`: positional names and/or
/// `--subreddits a,b` (`--subreddits-list`, the old name, is a hidden alias).
#[derive(Debug, Clone, Default, Args)]
pub struct SubredditArgs {
    /// Subreddits (names without r/), instead of [collect] subreddits.
    #[arg(value_name = "SUBREDDIT")]
    pub subreddits: Vec<String>,
    /// Subreddits, comma-separated (same as the positional names; the flag of `harbor run`).
    #[arg(
        long = "subreddits",
        short = 's',
        alias = "subreddits-list",
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub subreddits_list: Vec<String>,
}

impl SubredditArgs {
    /// The names given, without `r/` and blanks, positional ones first.
    pub fn names(&self) -> Vec<String> {
        self.subreddits
            .iter()
            .chain(&self.subreddits_list)
            .map(|s| s.trim().trim_start_matches("r/").to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Collect subreddits from the Reddit API.
///
/// Walks each subreddit's listings from where the last run stopped (`new` stops at the first page
/// that reaches its cursor), refreshes posts of the refresh window with /api/info (100 a call),
/// fetches the comment trees of new posts and of posts whose comment count grew, tags problem
/// posts, and loads everything with the new cursors in one transaction.
///
/// Credentials come from REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT (plus
/// REDDIT_USERNAME and REDDIT_PASSWORD for a script app, or REDDIT_REFRESH_TOKEN), and are never
/// printed. HARBOR_REDDIT_API_URL and HARBOR_REDDIT_TOKEN_URL point the client at any compatible
/// server. Every option also has a `[collect]` entry in harbor.toml; flags override it for one run.
#[derive(Debug, Default, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub subs: SubredditArgs,
    /// Listings per subreddit, comma-separated: new, hot, rising, top:week, controversial:all...
    #[arg(long, value_delimiter = ',', value_name = "LISTINGS")]
    pub listings: Vec<String>,
    /// Most items read from one listing in this run (Reddit serves about 1000).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seconds below the `new` cursor read again, for posts that show up late.
    #[arg(long, value_name = "SECS")]
    pub lag_window: Option<f64>,
    /// Collect comment trees (the default).
    #[arg(long, overrides_with = "no_comments")]
    pub comments: bool,
    /// Do not collect comments.
    #[arg(long)]
    pub no_comments: bool,
    /// Calls per thread to expand "load more" stubs (like PRAW's replace_more(limit)); -1 = all.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub max_more_calls: Option<i64>,
    /// Refresh posts younger than this many days (score, comments, edits, deletions); 0 = off.
    #[arg(long, value_name = "DAYS")]
    pub refresh_window: Option<f64>,
    /// Problem filter: tag (keep all, tag problem posts), only (keep problem posts) or off.
    #[arg(long, value_parser = ["tag", "only", "off"])]
    pub filter: Option<String>,
    /// Keep a submission_history row (score, comments, ratio) per post and run.
    #[arg(long, overrides_with = "no_history")]
    pub history: bool,
    /// Do not keep history rows.
    #[arg(long)]
    pub no_history: bool,
    /// Collect /r/{sub}/about into the subreddits table.
    #[arg(long)]
    pub about: bool,
    /// Collect /user/{name}/about of new posts' authors into the redditors table.
    #[arg(long)]
    pub redditors: bool,
    /// Blank the text and author of deleted or removed content (removed_at is always recorded).
    #[arg(long)]
    pub purge_removed: bool,
    /// Forget the cursors and tracked posts of these subreddits first and collect them as a first
    /// run would (rows already loaded are merged, not duplicated).
    #[arg(long)]
    pub full_refresh: bool,
    /// Reference time (epoch seconds) of the refresh window, instead of the clock.
    #[arg(long, value_name = "EPOCH")]
    pub as_of: Option<f64>,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(settings: &Settings, args: CollectArgs) -> anyhow::Result<()> {
    let opts = options(settings, &args)?;
    let client = client(settings.reddit_config())?;
    let runtime = runtime()?;
    crate::traced::run_locked(settings, "collect", !args.no_wait, |dest, traced| {
        let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
        let destination = pipeline.destination().describe();
        let step = Step {
            runtime: &runtime,
            client: &client,
            full_refresh: args.full_refresh,
        };
        let collected = step.run(settings, opts, &mut pipeline, traced)?;
        crate::cmd::packages::report(&mut pipeline, traced);
        if args.json {
            println!("{}", collected.json(&destination));
        } else {
            collected.print(&destination);
        }
        collected.outcome()
    })
}

/// The collection step of `harbor collect` and `harbor run`.
pub struct Step<'a> {
    /// The runtime that drives the client.
    pub runtime: &'a tokio::runtime::Runtime,
    /// The Reddit client.
    pub client: &'a RedditClient,
    /// Forget the cursors of the subreddits first.
    pub full_refresh: bool,
}

/// What a collection step did: the report of the subreddits routed to harbor, and the subreddits
/// routed to the legacy collector by the cutover with its exit code.
pub struct Collected {
    /// The harbor share's collection (empty when every subreddit went to legacy).
    pub report: CollectReport,
    /// Subreddits the cutover routes to the legacy collector.
    pub legacy: Vec<String>,
    /// Exit code of the legacy command, when it ran.
    pub legacy_exit: Option<i32>,
}

impl Step<'_> {
    /// Collects the subreddits of `opts` that the cutover routes to harbor, then runs the legacy
    /// command for the others, keeping the counters in the run trace.
    pub fn run(
        &self,
        settings: &Settings,
        mut opts: CollectOptions,
        pipeline: &mut Pipeline,
        traced: &mut crate::traced::Traced,
    ) -> anyhow::Result<Collected> {
        let route = harbor_ops::cutover::status(traced.store(), &settings.pipeline, 0)?;
        let (harbor, legacy) = route.split(&opts.subreddits);
        opts.subreddits = harbor;
        let report = if opts.subreddits.is_empty() {
            eprintln!("cutover: no subreddit of this run is routed to harbor");
            CollectReport::default()
        } else {
            if self.full_refresh {
                let n = collect::reset(pipeline, &opts.subreddits).map_err(pipeline_error)?;
                eprintln!("full refresh: forgot {n} cursors and tracked-post lists");
            }
            collect::run(
                pipeline,
                self.runtime.handle(),
                self.client,
                &opts,
                &collect_print::print_event,
            )
            .map_err(pipeline_error)?
        };
        collect_print::record(traced, &report);
        traced
            .stats()
            .details
            .insert("subreddits".into(), serde_json::json!(opts.subreddits));
        let mut legacy_exit = None;
        if !legacy.is_empty() {
            eprintln!(
                "cutover: running the legacy collector for r/{}",
                legacy.join(", r/")
            );
            let t0 = std::time::Instant::now();
            legacy_exit = Some(crate::cmd::cutover::run_legacy(settings, &legacy)?);
            traced.stage("legacy", t0.elapsed().as_secs_f64());
            traced
                .stats()
                .details
                .insert("legacy_subreddits".into(), serde_json::json!(legacy));
        }
        Ok(Collected {
            report,
            legacy,
            legacy_exit,
        })
    }
}

impl Collected {
    /// The summary as JSON.
    pub fn json(&self, destination: &str) -> serde_json::Value {
        let mut v = collect_print::report_json(&self.report, destination);
        v["legacy_subreddits"] = serde_json::json!(self.legacy);
        v["legacy_exit"] = serde_json::json!(self.legacy_exit);
        v
    }

    /// The summary on stderr.
    pub fn print(&self, destination: &str) {
        if !self.report.subreddits.is_empty() {
            collect_print::print_report(&self.report, destination);
        }
        if let Some(code) = self.legacy_exit {
            eprintln!(
                "  legacy collector for r/{}: exit {code}",
                self.legacy.join(", r/")
            );
        }
    }

    /// An error naming what failed: subreddits whose collection failed, or the legacy command.
    pub fn outcome(&self) -> anyhow::Result<()> {
        failed_subreddits(&self.report)?;
        match self.legacy_exit {
            Some(code) if code != 0 => bail!("the legacy collector exited with {code}"),
            _ => Ok(()),
        }
    }
}

/// An error naming the subreddits whose collection failed (the others were loaded).
pub fn failed_subreddits(report: &CollectReport) -> anyhow::Result<()> {
    let failed: Vec<String> = report.failed().map(|s| format!("r/{}", s.subreddit)).collect();
    if failed.is_empty() {
        return Ok(());
    }
    bail!(
        "collecting {} failed (the other subreddits were loaded; the next run retries them)",
        failed.join(", ")
    )
}

/// The tokio runtime that drives the client (and, in the demo, the fake server).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A client that reports rate-limit waits and retries on stderr.
pub fn client(config: harbor_reddit::RedditConfig) -> anyhow::Result<RedditClient> {
    let hook: harbor_reddit::EventHook = Arc::new(|e: &ClientEvent| match e {
        ClientEvent::RateLimitWait { wait, remaining } => eprintln!(
            "  waiting {:.1} s on the rate limit ({remaining} requests left in the window)",
            wait.as_secs_f64()
        ),
        ClientEvent::Retry {
            request,
            attempt,
            delay,
            error,
        } => eprintln!(
            "  retry {attempt} of {request} in {:.1} s: {error}",
            delay.as_secs_f64()
        ),
        ClientEvent::TokenRefreshed => {}
    });
    RedditClient::with_hook(config, hook).map_err(|e| {
        UserError {
            message: e.to_string(),
            hint: Some(
                "set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT (and REDDIT_USERNAME / \
                 REDDIT_PASSWORD for a script app), or [reddit] client_id / user_agent in harbor.toml; \
                 `harbor demo` runs without credentials"
                    .into(),
            ),
        }
        .into()
    })
}

fn user_error(message: String, hint: &str) -> anyhow::Error {
    UserError {
        message,
        hint: Some(hint.into()),
    }
    .into()
}

/// Resolves `[collect]` and the flags into the options of one run.
pub fn options(settings: &Settings, args: &CollectArgs) -> anyhow::Result<CollectOptions> {
    let c = &settings.collect;
    let mut subreddits = args.subs.names();
    if subreddits.is_empty() {
        subreddits = c.subreddits.clone();
    }
    if subreddits.is_empty() {
        return Err(user_error(
            "no subreddits to collect".into(),
            "pass names (`harbor collect rust selfhosted`, `harbor run --subreddits rust,selfhosted`) \
             or set [collect] subreddits in harbor.toml",
        ));
    }
    let listing_names = if args.listings.is_empty() {
        &c.listings
    } else {
        &args.listings
    };
    let listings = listing_names
        .iter()
        .map(|l| l.parse::<ListingSpec>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| user_error(e, "listings are new, hot, rising, top:<t> or controversial:<t>"))?;
    let comments = (if args.no_comments {
        false
    } else {
        args.comments || c.comments
    })
    .then(|| CommentOptions {
        sort: c.comment_sort.clone(),
        max_more_calls: usize::try_from(args.max_more_calls.unwrap_or(c.max_more_calls)).ok(),
        ..CommentOptions::default()
    });
    let filter = match args.filter.as_deref().unwrap_or(&c.filter) {
        "off" => None,
        mode => {
            let mode = match mode {
                "tag" => FilterMode::Tag,
                "only" => FilterMode::Only,
                other => {
                    return Err(user_error(
                        format!("[collect] filter = {other:?}"),
                        "expected tag, only or off",
                    ));
                }
            };
            let filter = if c.keywords.is_empty() {
                ProblemFilter::default()
            } else {
                ProblemFilter::new(c.keywords.iter().map(String::as_str))
                    .context("invalid [collect] keywords")?
            };
            Some(FilterSetting { mode, filter })
        }
    };
    let history = if args.no_history {
        false
    } else {
        args.history || c.history
    };
    Ok(CollectOptions {
        subreddits,
        listings,
        walk: WalkOptions {
            limit: args.limit.unwrap_or(c.limit),
            lag_window_secs: args.lag_window.unwrap_or(c.lag_window_secs),
        },
        comments,
        refresh_window_secs: args.refresh_window.unwrap_or(c.refresh_window_days).max(0.0) * 86_400.0,
        history,
        purge_removed: args.purge_removed || c.purge_removed,
        filter,
        subreddit_about: args.about || c.subreddit_about,
        redditor_about: args.redditors || c.redditor_about,
        now_utc: args.as_of,
        extract: crate::cmd::pii::extract_options(settings)?,
        rejects_dir: settings.workdir.join(&settings.pipeline).join("rejects"),
    })
}
