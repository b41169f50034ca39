//! `harbor demo`: the whole collection path against a built-in Reddit stand-in, no credentials.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use harbor_pipeline::Pipeline;
use harbor_pipeline::collect::{self, CollectOptions, CollectReport, ListingSpec, ProblemPost};
use harbor_reddit::RedditConfig;
use harbor_testkit::{FakeConfig, FakeReddit, RateLimit};
use serde_json::{Value, json};

use crate::cmd::collect::{client, failed_subreddits, runtime};
use crate::cmd::opportunities::OpportunitiesArgs;
use crate::cmd::score::{ScoreArgs, ScoreSummary};
use crate::collect_print;
use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// The command its run traces carry (`harbor runs` shows them beside `run` and `collect`).
pub const DEMO_COMMAND: &str = "demo";

/// Run a demo collection: a first run and an incremental run, no credentials needed.
///
/// Starts a Reddit stand-in in-process (the test kit's fake server on 127.0.0.1: a deterministic
/// synthetic corpus of 5 subreddits, OAuth, Reddit's rate-limit headers, with the limit raised to
/// --rate-limit requests a second so the pacing shows in seconds instead of minutes), collects every
/// subreddit with comments into the destination (./harbor.duckdb by default) and scores the problem
/// posts, lets time pass (new posts, score changes, a deletion per subreddit), then runs again
/// incrementally. Each of the two runs is traced in `_harbor_runs` (command `demo`) like a `harbor
/// run`, under the configured pipeline (default `reddit`), so `harbor status`, `harbor schema`,
/// `harbor runs` and the dashboard show the demo's data without extra flags.
///
/// The demo's data is synthetic: it refuses a pipeline that holds runs of other commands (give it
/// its own file with `-d duckdb:///tmp/demo.duckdb`). Running the demo again starts over and
/// leaves the same tables.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Posts per subreddit in the synthetic corpus.
    #[arg(long, default_value_t = 300)]
    posts: usize,
    /// New posts per subreddit between the first and the incremental run.
    #[arg(long, default_value_t = 40)]
    new_posts: usize,
    /// Requests per second the stand-in allows (Reddit allows 100 a minute; the client paces
    /// itself by the stand-in's rate-limit headers either way).
    #[arg(long, default_value_t = 300, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    rate_limit: u32,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// One traced run of the demo: the collection and the scoring after it.
struct DemoRun {
    run_id: String,
    report: CollectReport,
    score: ScoreSummary,
}

pub fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    refuse_real_pipeline(settings)?;
    let runtime = runtime()?;
    let mut config = FakeConfig::demo();
    // Half-second windows: the stand-in's X-Ratelimit-Reset then has fractions, so the client's
    // pacing spreads requests over the window the way it does over Reddit's 600 s.
    config.rate_limit = RateLimit {
        requests: args.rate_limit / 2,
        window: Duration::from_millis(500),
    };
    let mut subreddits = Vec::new();
    if let Some(corpus) = config.corpus.as_mut() {
        corpus.posts_per_subreddit = args.posts;
        subreddits = corpus.subreddits.clone();
    }
    let fake = runtime.block_on(FakeReddit::start(config.clone()))?;
    let vars = [
        ("REDDIT_CLIENT_ID", config.client_id.clone()),
        ("REDDIT_CLIENT_SECRET", config.client_secret.clone()),
        (
            "REDDIT_USER_AGENT",
            format!(
                "demo:redditharbor:{} (by /u/harbor_demo)",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ("HARBOR_REDDIT_API_URL", fake.api_url()),
        ("HARBOR_REDDIT_TOKEN_URL", fake.token_url()),
    ];
    // Only these values: credentials in the environment are for reddit.com, never for the fake.
    let reddit = RedditConfig::default()
        .with_overrides(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()));
    let client = client(reddit)?;
    eprintln!(
        "Reddit stand-in at {} with {} subreddits of {} posts; rate limit {} requests a second \
         (Reddit: 100 a minute)",
        fake.api_url(),
        subreddits.len(),
        args.posts,
        args.rate_limit,
    );
    let opts = CollectOptions {
        subreddits: subreddits.clone(),
        listings: vec![ListingSpec::NEW],
        subreddit_about: true,
        extract: settings.extract_options()?,
        rejects_dir: settings.workdir.join(&settings.pipeline).join("rejects"),
        ..CollectOptions::default()
    };

    // One traced run: lock, destination, `_harbor_runs` row, collection at the fake's clock (the
    // synthetic corpus lives in the past, and the refresh window is measured from it), scoring.
    let traced_run = |first: bool| -> anyhow::Result<DemoRun> {
        crate::traced::run_locked(settings, DEMO_COMMAND, true, |dest, traced| {
            let mut pipeline = crate::traced::open_pipeline(settings, dest, true, traced)?;
            let destination = pipeline.destination().describe();
            if first {
                let forgotten = collect::reset(&mut pipeline, &subreddits).map_err(pipeline_error)?;
                if forgotten > 0 {
                    eprintln!("starting over: forgot the cursors of an earlier demo in {destination}");
                }
            }
            let mut opts = opts.clone();
            opts.now_utc = Some(fake.newest_created_utc() + 60.0);
            let report = collect::run(
                &mut pipeline,
                runtime.handle(),
                &client,
                &opts,
                &collect_print::print_event,
            )
            .map_err(pipeline_error)?;
            collect_print::record(traced, &report);
            traced
                .stats()
                .details
                .insert("subreddits".into(), json!(subreddits));
            if !args.json {
                collect_print::print_report(&report, &destination);
            }
            failed_subreddits(&report)?;
            let score = score_demo(settings, &subreddits, &mut pipeline, traced)?;
            Ok(DemoRun {
                run_id: traced.run_id().to_owned(),
                report,
                score,
            })
        })
    };

    eprintln!("\n== first run: everything is new");
    let first = traced_run(true)?;

    let changed = time_passes(&fake, &subreddits, args.new_posts);
    eprintln!(
        "\n== time passes: {} new posts per subreddit, {changed} posts changed score or were deleted",
        args.new_posts
    );
    eprintln!("== incremental run: new posts only, one /api/info call per 100 recent posts");
    let second = traced_run(false)?;

    // The refreshed versions (second run) rank first.
    let top = ProblemPost::top(
        second
            .report
            .top_problem_posts
            .iter()
            .chain(&first.report.top_problem_posts)
            .cloned(),
        10,
    );
    let opportunities = top_opportunities(settings, &subreddits)?;
    let next = next_commands(settings);
    if args.json {
        let shown = crate::dest::redact(&settings.destination);
        let mut first_json = collect_print::report_json(&first.report, &shown);
        first_json["run_id"] = json!(first.run_id);
        let mut second_json = collect_print::report_json(&second.report, &shown);
        second_json["run_id"] = json!(second.run_id);
        let v = json!({
            "destination": shown,
            "pipeline": settings.pipeline,
            "rate_limit_per_second": args.rate_limit,
            "first": first_json,
            "incremental": second_json,
            "scored": [first.score.heuristic.scored, second.score.heuristic.scored],
            "top_problem_posts": top,
            "top_opportunities": opportunities,
            "next": next.iter().map(|(cmd, what)| json!({"command": cmd, "shows": what})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_summary(settings, &first, &second, &top);
        println!("\ntop opportunities (heuristic scorer; `harbor score --scorer llm` asks an LLM):");
        crate::cmd::opportunities::print_table(&opportunities);
        println!("\ntry next:");
        let width = next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
        for (cmd, what) in &next {
            println!("  {cmd:<width$}  {what}");
        }
        println!(
            "\nwith Reddit credentials (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT; \
             `harbor init` writes a .env template), `harbor run --subreddits <names>` collects and \
             scores the same way from reddit.com"
        );
    }
    Ok(())
}

/// Commands whose runs only derive rows from posts already collected (scores, themes): a user who
/// tries `harbor score` after the demo has still only the demo's posts.
const DERIVING_COMMANDS: [&str; 2] = ["score", "themes"];

/// The demo writes synthetic posts and resets the cursors of its subreddits (real names such as
/// r/selfhosted): it must never do that to a pipeline that collects or loads for real.
fn refuse_real_pipeline(settings: &Settings) -> anyhow::Result<()> {
    let mut store = crate::dest::open_ops(settings)?;
    let runs = harbor_ops::trace::recent_runs(store.as_mut(), Some(&settings.pipeline), 10_000)
        .context("cannot read the run traces")?;
    let mut others: Vec<&str> = runs
        .iter()
        .map(|r| r.command.as_str())
        .filter(|c| *c != DEMO_COMMAND && !DERIVING_COMMANDS.contains(c))
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        return Ok(());
    }
    Err(UserError {
        message: format!(
            "pipeline `{}` in {} holds runs of `harbor {}`; the demo would mix its synthetic posts into \
             that data and reset its cursors",
            settings.pipeline,
            store.describe(),
            others.join("`, `harbor ")
        ),
        hint: Some(
            "give the demo its own database: `harbor demo -d duckdb:///tmp/harbor-demo.duckdb`".into(),
        ),
    }
    .into())
}

/// The flags that make a suggested command read what the demo wrote.
fn target_flags(settings: &Settings) -> String {
    let defaults = Settings::default();
    let mut flags = String::new();
    // A destination from HARBOR_DESTINATION reaches the suggested commands the same way (and its
    // password is not printed).
    let from_env = std::env::var("HARBOR_DESTINATION").is_ok_and(|d| d == settings.destination);
    if settings.destination != defaults.destination && !from_env {
        flags.push_str(&format!(" -d {}", crate::dest::redact(&settings.destination)));
    }
    if settings.pipeline != defaults.pipeline {
        flags.push_str(&format!(" --pipeline {}", settings.pipeline));
    }
    if settings.workdir != defaults.workdir {
        flags.push_str(&format!(" --workdir {}", settings.workdir.display()));
    }
    flags
}

/// Commands that read what the demo wrote, each with what it shows (the CLI test runs each one).
pub fn next_commands(settings: &Settings) -> Vec<(String, &'static str)> {
    let f = target_flags(settings);
    vec![
        (
            format!("harbor status{f}"),
            "tables, loads, cursors and tracked posts",
        ),
        (format!("harbor runs{f}"), "the demo's two traced runs"),
        (
            format!("harbor schema{f}"),
            "the tables and columns the demo created",
        ),
        (
            format!("harbor opportunities{f} --top 5"),
            "the ranked posts and their dimension scores",
        ),
        (format!("harbor metrics{f}"), "what /metrics serves to Prometheus"),
        (
            format!("harbor token create{f} --scope read"),
            "a token for the API and the dashboard",
        ),
        (
            format!("harbor serve{f}"),
            "the dashboard at http://127.0.0.1:8080/ (paste the token)",
        ),
    ]
}

/// Scores the demo's problem posts with the heuristic (new and changed posts only) in the run's
/// trace.
fn score_demo(
    settings: &Settings,
    subreddits: &[String],
    pipeline: &mut Pipeline,
    traced: &mut crate::traced::Traced,
) -> anyhow::Result<ScoreSummary> {
    let args = ScoreArgs {
        scorer: Some("heuristic".into()),
        subreddit: subreddits.to_vec(),
        ..ScoreArgs::default()
    };
    pipeline.recover().map_err(pipeline_error)?;
    let summary = crate::cmd::score::score_traced(settings, &args, pipeline, traced)?;
    eprintln!(
        "== scoring: {} problem posts, {} scored, {} unchanged since the last scoring",
        summary.problem_posts, summary.heuristic.scored, summary.heuristic_cached
    );
    Ok(summary)
}

/// The top opportunities of the demo subreddits.
fn top_opportunities(settings: &Settings, subreddits: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut dest = crate::dest::open(settings)?;
    let top = OpportunitiesArgs {
        top: 10,
        subreddit: subreddits.to_vec(),
        ..OpportunitiesArgs::default()
    };
    crate::cmd::opportunities::top(dest.as_mut(), &top)
}

/// New posts in every subreddit, score changes on recent posts and one deletion per subreddit.
/// Returns how many existing posts changed.
fn time_passes(fake: &FakeReddit, subreddits: &[String], new_posts: usize) -> usize {
    let mut changed = 0;
    for sub in subreddits {
        let ids = fake.post_ids(sub);
        for (i, id) in ids.iter().rev().take(10).enumerate() {
            let edited = fake.edit_post(id, |d| {
                if i == 9 {
                    d["selftext"] = json!("[deleted]");
                    d["author"] = json!("[deleted]");
                } else {
                    let score = d["score"].as_i64().unwrap_or(0);
                    d["score"] = json!(score + 25 * (10 - i as i64));
                }
            });
            changed += usize::from(edited);
        }
        fake.add_posts(sub, new_posts);
    }
    changed
}

fn print_summary(settings: &Settings, first: &DemoRun, second: &DemoRun, top: &[ProblemPost]) {
    let new_posts = |r: &CollectReport| r.subreddits.iter().map(|s| s.new_posts).sum::<usize>();
    let refreshed = |r: &CollectReport| r.subreddits.iter().map(|s| s.refreshed).sum::<usize>();
    println!(
        "\nRedditHarbor demo -> {} (pipeline `{}`)\n",
        crate::dest::redact(&settings.destination),
        settings.pipeline
    );
    println!(
        "{:<12} {:>9} {:>10} {:>10} {:>6} {:>9} {:>8} {:>7} {:>8}  trace",
        "run", "new posts", "refreshed", "API calls", "429s", "paced (s)", "rows", "scored", "seconds"
    );
    for (name, run) in [("first", first), ("incremental", second)] {
        let r = &run.report;
        println!(
            "{:<12} {:>9} {:>10} {:>10} {:>6} {:>9.1} {:>8} {:>7} {:>8.1}  {}",
            name,
            new_posts(r),
            refreshed(r),
            collect_print::api_calls_total(&r.stats),
            r.stats.rate_limited,
            r.stats.rate_limit_wait.as_secs_f64(),
            r.rows_total(),
            run.score.heuristic.scored,
            r.seconds(),
            run.run_id
        );
    }
    println!(
        "\nincremental run: {}",
        collect_print::calls_line(&second.report.stats)
    );
    println!("\ntop problem posts:");
    collect_print::print_problem_posts(top);
}
