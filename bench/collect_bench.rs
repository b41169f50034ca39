//! Collection benchmark: API calls and seconds of a first and an incremental collection of 5
//! subreddits against the fake Reddit (the `harbor demo` corpus), next to what the legacy approach
//! (full re-fetch each run, one call per post refresh) costs on the same corpus.
//!
//! Run: `cargo run -p harbor --example collect_bench -- [--posts 300] [--new-posts 40]`
//! It prints a Markdown section for `bench/RESULTS.md`.

use std::time::Instant;

use harbor_duckdb::{DuckDbDestination, DuckDbOptions};
use harbor_pipeline::collect::{self, CollectOptions, CollectReport};
use harbor_pipeline::{Pipeline, PipelineOptions};
use harbor_reddit::{CallStats, RedditClient, RedditConfig};
use harbor_testkit::{FakeConfig, FakeReddit};

/// Calls that fetch comment trees: the thread, morechildren and continue-this-thread.
const THREAD_ENDPOINTS: [&str; 3] = ["comments", "morechildren", "continue_thread"];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn calls(stats: &CallStats, endpoints: &[&str]) -> u64 {
    endpoints
        .iter()
        .map(|e| stats.calls.get(e).copied().unwrap_or(0))
        .sum()
}

fn total(stats: &CallStats) -> u64 {
    stats
        .calls
        .iter()
        .filter(|(k, _)| **k != "token")
        .map(|(_, v)| v)
        .sum()
}

fn by_endpoint(stats: &CallStats) -> String {
    stats
        .calls
        .iter()
        .filter(|(k, _)| **k != "token")
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the legacy collector spends on one run over `posts` posts per subreddit, `known` of which
/// it refreshes: every listing page again (100 a page), one call per refreshed post, and every
/// thread again (a post without comments still costs its one call).
fn legacy_run(posts_per_sub: &[usize], known_per_sub: &[usize], thread_calls: u64, empty: u64) -> u64 {
    let pages: u64 = posts_per_sub.iter().map(|p| p.div_ceil(100) as u64).sum();
    let refresh: u64 = known_per_sub.iter().map(|k| *k as u64).sum();
    pages + refresh + thread_calls + empty
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let posts = arg("--posts", 300);
    let new_posts = arg("--new-posts", 40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut config = FakeConfig::demo();
    let mut subreddits = Vec::new();
    if let Some(c) = config.corpus.as_mut() {
        c.posts_per_subreddit = posts;
        subreddits = c.subreddits.clone();
    }
    let fake = rt.block_on(FakeReddit::start(config.clone()))?;
    let vars = [
        ("REDDIT_CLIENT_ID", config.client_id.clone()),
        ("REDDIT_CLIENT_SECRET", config.client_secret.clone()),
        (
            "REDDIT_USER_AGENT",
            "bench:redditharbor:0.1 (by /u/harbor_bench)".to_owned(),
        ),
        ("HARBOR_REDDIT_API_URL", fake.api_url()),
        ("HARBOR_REDDIT_TOKEN_URL", fake.token_url()),
    ];
    let client = RedditClient::new(
        RedditConfig::default()
            .with_overrides(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())),
    )?;
    let dir = tempfile::tempdir()?;
    let dest = DuckDbDestination::open(dir.path().join("bench.duckdb"), &DuckDbOptions::default())?;
    let mut pipeline = Pipeline::open(
        PipelineOptions {
            name: "bench".into(),
            workdir: dir.path().join(".harbor"),
            keep_packages: false,
            wait_for_lock: true,
        },
        Box::new(dest),
    )?;
    let mut opts = CollectOptions {
        subreddits: subreddits.clone(),
        rejects_dir: dir.path().join("rejects"),
        ..CollectOptions::default()
    };
    let quiet = |_: &collect::CollectEvent| {};

    // Posts without comments cost the legacy collector a thread call each; we skip them.
    let empty_threads =
        |ids: &[String]| -> u64 { ids.iter().filter(|id| fake.comment_ids(id).is_empty()).count() as u64 };

    opts.now_utc = Some(fake.newest_created_utc() + 60.0);
    let t = Instant::now();
    let first: CollectReport = collect::run(&mut pipeline, rt.handle(), &client, &opts, &quiet)?;
    let first_secs = t.elapsed().as_secs_f64();
    let first_ids: Vec<String> = subreddits.iter().flat_map(|s| fake.post_ids(s)).collect();

    for sub in &subreddits {
        fake.add_posts(sub, new_posts);
    }
    opts.now_utc = Some(fake.newest_created_utc() + 60.0);
    let t = Instant::now();
    let second = collect::run(&mut pipeline, rt.handle(), &client, &opts, &quiet)?;
    let second_secs = t.elapsed().as_secs_f64();
    let all_ids: Vec<String> = subreddits.iter().flat_map(|s| fake.post_ids(s)).collect();

    let n = subreddits.len();
    let first_threads = calls(&first.stats, &THREAD_ENDPOINTS);
    let new_threads = calls(&second.stats, &THREAD_ENDPOINTS);
    // The legacy first run: every page, every thread (no refresh yet).
    let legacy_first = legacy_run(
        &vec![posts; n],
        &vec![0; n],
        first_threads,
        empty_threads(&first_ids),
    );
    // The legacy second run: every page and every thread again, and one call per known post.
    let legacy_second = legacy_run(
        &vec![posts + new_posts; n],
        &vec![posts; n],
        first_threads + new_threads,
        empty_threads(&all_ids),
    );
    let (ours_first, ours_second) = (total(&first.stats), total(&second.stats));
    let limit = config.rate_limit;
    let at_reddit = |c: u64| c as f64 * 60.0 / 100.0;

    println!("## Reddit collection (issue 4)\n");
    println!(
        "Command: `cargo run -p harbor --example collect_bench -- --posts {posts} --new-posts {new_posts}` \
         (the `harbor demo` corpus: {n} subreddits x {posts} posts, comment trees with \"load more\" and \
         \"continue this thread\" stubs; the fake enforces {} requests per {:.0} s with Reddit's headers; \
         into DuckDB).\n",
        limit.requests,
        limit.window.as_secs_f64()
    );
    println!(
        "| run | new posts | refreshed | harbor API calls | harbor s | 429s | legacy API calls | harbor / legacy | fewer calls | minutes at 100 req/min: harbor / legacy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, r, secs, ours, legacy) in [
        ("first", &first, first_secs, ours_first, legacy_first),
        ("incremental", &second, second_secs, ours_second, legacy_second),
    ] {
        let new: usize = r.subreddits.iter().map(|s| s.new_posts).sum();
        let refreshed: usize = r.subreddits.iter().map(|s| s.refreshed).sum();
        println!(
            "| {name} | {new} | {refreshed} | {ours} | {secs:.1} | {} | {legacy} | {:.3} | {:.1}% | {:.1} / {:.1} |",
            r.stats.rate_limited,
            ours as f64 / legacy as f64,
            100.0 * (1.0 - ours as f64 / legacy as f64),
            at_reddit(ours) / 60.0,
            at_reddit(legacy) / 60.0,
        );
    }
    println!();
    println!("- harbor first run: {}", by_endpoint(&first.stats));
    println!("- harbor incremental run: {}", by_endpoint(&second.stats));
    println!(
        "- legacy cost, computed from the corpus: every run re-reads each listing (ceil(posts/100) pages per \
         subreddit), re-fetches every thread (one call per post, plus the morechildren / continue-thread calls \
         the thread needs, counted as harbor needs them: {first_threads} for the first {} posts, {new_threads} \
         for the new ones; PRAW's replace_more makes one morechildren call per stub, so this is a lower bound) \
         and refreshes each known post with one call ({} posts in the incremental run).",
        first_ids.len(),
        posts * n
    );
    println!(
        "- harbor incremental: one listing page per subreddit ({new_posts} new posts each), /api/info for the \
         {} known posts at 100 per call, threads only for new posts with comments (and posts whose \
         num_comments grew: none here).",
        posts * n
    );
    Ok(())
}
