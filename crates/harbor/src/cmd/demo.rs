//! `harbor demo`: the whole collection path against a built-in Reddit stand-in, no credentials.

use clap::Args;
use harbor_pipeline::collect::{self, CollectOptions, CollectReport, ListingSpec, ProblemPost};
use harbor_reddit::RedditConfig;
use harbor_testkit::{FakeConfig, FakeReddit};
use serde_json::json;

use crate::cmd::collect::{client, failed_subreddits, open_pipeline, runtime};
use crate::cmd::opportunities::OpportunitiesArgs;
use crate::cmd::score::ScoreArgs;
use crate::collect_print;
use crate::output::pipeline_error;
use crate::settings::Settings;

/// The pipeline the demo writes its state under, so it never moves the cursors of a real one.
const DEMO_PIPELINE: &str = "demo";

/// Run a demo collection: a first run and an incremental run, no credentials needed.
///
/// Starts a Reddit stand-in in-process (the test kit's fake server on 127.0.0.1: a deterministic
/// synthetic corpus of 5 subreddits, OAuth, Reddit's rate-limit headers with the window scaled to 2
/// seconds), collects every subreddit with comments into the destination (./harbor.duckdb by
/// default), lets time pass (new posts, score changes, a deletion per subreddit), collects again
/// incrementally, and prints what each run cost and found. State is kept under the pipeline `demo`;
/// running the demo again starts over and leaves the same tables.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Posts per subreddit in the synthetic corpus.
    #[arg(long, default_value_t = 300)]
    posts: usize,
    /// New posts per subreddit between the first and the incremental run.
    #[arg(long, default_value_t = 40)]
    new_posts: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let mut config = FakeConfig::demo();
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
    let mut pipeline = open_pipeline(settings, DEMO_PIPELINE, true)?;
    let destination = pipeline.destination().describe();
    let forgotten = collect::reset(&mut pipeline, &subreddits).map_err(pipeline_error)?;
    if forgotten > 0 {
        eprintln!("starting over: forgot the cursors of an earlier demo in {destination}");
    }
    let limit = config.rate_limit;
    eprintln!(
        "Reddit stand-in at {} with {} subreddits of {} posts; rate limit {} requests per {:.0} s",
        fake.api_url(),
        subreddits.len(),
        args.posts,
        limit.requests,
        limit.window.as_secs_f64()
    );
    let mut opts = CollectOptions {
        subreddits: subreddits.clone(),
        listings: vec![ListingSpec::NEW],
        subreddit_about: true,
        extract: settings.extract_options()?,
        rejects_dir: settings.workdir.join(DEMO_PIPELINE).join("rejects"),
        ..CollectOptions::default()
    };

    // One collection at the fake's clock: the synthetic corpus lives in the past, and the refresh
    // window is measured from it.
    let mut collect_now = |opts: &mut CollectOptions| -> anyhow::Result<_> {
        opts.now_utc = Some(fake.newest_created_utc() + 60.0);
        let report = collect::run(
            &mut pipeline,
            runtime.handle(),
            &client,
            opts,
            &collect_print::print_event,
        )
        .map_err(pipeline_error)?;
        if !args.json {
            collect_print::print_report(&report, &destination);
        }
        failed_subreddits(&report)?;
        Ok(report)
    };

    eprintln!("\n== first run: everything is new");
    let first = collect_now(&mut opts)?;

    let changed = time_passes(&fake, &subreddits, args.new_posts);
    eprintln!(
        "\n== time passes: {} new posts per subreddit, {changed} posts changed score or were deleted",
        args.new_posts
    );
    eprintln!("== incremental run: new posts only, one /api/info call per 100 recent posts");
    let second = collect_now(&mut opts)?;

    // The refreshed versions (second run) rank first.
    let top = ProblemPost::top(
        second
            .top_problem_posts
            .iter()
            .chain(&first.top_problem_posts)
            .cloned(),
        10,
    );
    let opportunities = score_demo(settings, &subreddits, &mut pipeline)?;
    if args.json {
        let v = json!({
            "destination": destination,
            "pipeline": DEMO_PIPELINE,
            "first": collect_print::report_json(&first, &destination),
            "incremental": collect_print::report_json(&second, &destination),
            "top_problem_posts": top,
            "top_opportunities": opportunities,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_summary(&first, &second, &top, &destination);
        println!("\ntop opportunities (heuristic scorer; `harbor score --scorer llm` asks an LLM):");
        crate::cmd::opportunities::print_table(&opportunities);
        println!(
            "\nnext: `harbor status --pipeline {DEMO_PIPELINE}`; with Reddit credentials \
             (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT), `harbor run --subreddits <names>` \
             collects and scores the same way from reddit.com"
        );
    }
    Ok(())
}

/// Scores the demo's problem posts with the heuristic (new and changed posts only) and returns the
/// top opportunities of the demo subreddits.
fn score_demo(
    settings: &Settings,
    subreddits: &[String],
    pipeline: &mut harbor_pipeline::Pipeline,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut demo = settings.clone();
    demo.pipeline = DEMO_PIPELINE.to_owned();
    let args = ScoreArgs {
        scorer: Some("heuristic".into()),
        subreddit: subreddits.to_vec(),
        ..ScoreArgs::default()
    };
    let summary = crate::cmd::score::score(&demo, &args, pipeline)?;
    eprintln!(
        "\n== scoring: {} problem posts, {} scored, {} unchanged since the last scoring",
        summary.problem_posts, summary.heuristic.scored, summary.heuristic_cached
    );
    let top = OpportunitiesArgs {
        top: 10,
        subreddit: subreddits.to_vec(),
        scorer: None,
        json: false,
    };
    crate::cmd::opportunities::top(pipeline.destination(), &top)
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

fn print_summary(first: &CollectReport, second: &CollectReport, top: &[ProblemPost], dest: &str) {
    let new_posts = |r: &CollectReport| r.subreddits.iter().map(|s| s.new_posts).sum::<usize>();
    let refreshed = |r: &CollectReport| r.subreddits.iter().map(|s| s.refreshed).sum::<usize>();
    println!("\nRedditHarbor demo -> {dest} (pipeline `{DEMO_PIPELINE}`)\n");
    println!(
        "{:<12} {:>9} {:>10} {:>10} {:>6} {:>8} {:>8}",
        "run", "new posts", "refreshed", "API calls", "429s", "rows", "seconds"
    );
    for (name, r) in [("first", first), ("incremental", second)] {
        println!(
            "{:<12} {:>9} {:>10} {:>10} {:>6} {:>8} {:>8.1}",
            name,
            new_posts(r),
            refreshed(r),
            collect_print::api_calls_total(&r.stats),
            r.stats.rate_limited,
            r.rows_total(),
            r.seconds()
        );
    }
    println!("\nincremental run: {}", collect_print::calls_line(&second.stats));
    println!("\ntop problem posts:");
    collect_print::print_problem_posts(top);
}
