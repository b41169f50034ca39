//! Output of `harbor collect` and `harbor demo`: progress lines and the run summary (text on stderr
//! or JSON on stdout).

use harbor_pipeline::collect::{CollectEvent, CollectReport, ProblemPost, SubredditStatus};
use harbor_reddit::CallStats;
use serde_json::{Value, json};

/// Prints one progress event on stderr.
pub fn print_event(event: &CollectEvent) {
    match event {
        CollectEvent::Subreddit { name, index, total } => eprintln!("[{index}/{total}] r/{name}"),
        CollectEvent::Listing {
            listing, new, pages, ..
        } => eprintln!("  {listing}: {new} new posts ({pages} pages)"),
        CollectEvent::Refresh { posts, calls, .. } => {
            eprintln!("  refreshed {posts} posts ({calls} /api/info calls)")
        }
        CollectEvent::Comments { done, total, .. } => {
            if done == total {
                eprintln!("  comments: {total} threads");
            }
        }
        CollectEvent::Unavailable { subreddit, reason } => {
            eprintln!("  r/{subreddit} is unavailable (private, banned or missing), skipped: {reason}")
        }
        CollectEvent::Failed { subreddit, error } => {
            eprintln!("  r/{subreddit} failed, skipped: {error}")
        }
        CollectEvent::Loading { records } => eprintln!("loading {records} things"),
    }
}

/// Successful API calls per endpoint (the token endpoint excluded).
pub fn api_calls(stats: &CallStats) -> std::collections::BTreeMap<&'static str, u64> {
    stats
        .calls
        .iter()
        .filter(|(k, _)| **k != "token")
        .map(|(k, v)| (*k, *v))
        .collect()
}

/// Total API calls (the token endpoint excluded).
pub fn api_calls_total(stats: &CallStats) -> u64 {
    api_calls(stats).values().sum()
}

/// The summary as JSON.
pub fn report_json(r: &CollectReport, destination: &str) -> Value {
    json!({
        "destination": destination,
        "load_id": r.load_id,
        "subreddits": r.subreddits,
        "api_calls": api_calls(&r.stats),
        "api_calls_total": api_calls_total(&r.stats),
        "requests": r.stats.requests,
        "http_429": r.stats.rate_limited,
        "retries": r.stats.retries,
        "token_requests": r.stats.calls.get("token").copied().unwrap_or(0),
        "rate_limit_waits": r.stats.rate_limit_waits,
        "rate_limit_wait_seconds": r.stats.rate_limit_wait.as_secs_f64(),
        "rows": r.rows,
        "rows_total": r.rows_total(),
        "rejects": r.rejects,
        "recovered_loads": r.recovered,
        "top_problem_posts": r.top_problem_posts,
        "seconds": r.seconds(),
        "seconds_collect": r.seconds_collect,
        "seconds_load": r.seconds_load,
    })
}

/// Keeps the counters of a collection in the run trace: API calls per endpoint, 429s, retries,
/// rows per table, rejects, and the collect and load seconds.
pub fn record(traced: &mut crate::traced::Traced, r: &CollectReport) {
    traced.stage("collect", r.seconds_collect);
    traced.stage("load", r.seconds_load);
    let stats = traced.stats();
    for (endpoint, n) in api_calls(&r.stats) {
        *stats.api_calls.entry(endpoint.to_owned()).or_default() += n;
    }
    stats.http_429 += r.stats.rate_limited;
    stats.retries += r.stats.retries;
    for (t, n) in &r.rows {
        *stats.rows.entry(t.clone()).or_default() += n;
    }
    stats.rejects += r.rejects;
    if let Some(id) = &r.load_id {
        stats.details.insert("load_id".into(), json!(id));
    }
    let failed: Vec<&str> = r.failed().map(|s| s.subreddit.as_str()).collect();
    if !failed.is_empty() {
        stats.details.insert("failed_subreddits".into(), json!(failed));
    }
    let unavailable: Vec<&str> = r.unavailable().map(|s| s.subreddit.as_str()).collect();
    if !unavailable.is_empty() {
        stats
            .details
            .insert("unavailable_subreddits".into(), json!(unavailable));
    }
}

/// One line of API usage: `312 calls (comments 280, listing 6, ...), 0 x 429, 0 retries`.
pub fn calls_line(stats: &CallStats) -> String {
    let by: Vec<String> = api_calls(stats).iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "{} API calls ({}), {} x 429, {} retries, {:.1} s waiting on the rate limit",
        api_calls_total(stats),
        if by.is_empty() {
            "none".to_owned()
        } else {
            by.join(", ")
        },
        stats.rate_limited,
        stats.retries,
        stats.rate_limit_wait.as_secs_f64()
    )
}

/// The summary on stderr.
pub fn print_report(r: &CollectReport, destination: &str) {
    for id in &r.recovered {
        eprintln!("recovered: loaded package {id} left by an interrupted run");
    }
    match &r.load_id {
        Some(id) => eprintln!("collected into {destination} (load {id})"),
        None => eprintln!("nothing new to load into {destination}"),
    }
    let width = r
        .subreddits
        .iter()
        .map(|s| s.subreddit.len() + 2)
        .max()
        .unwrap_or(4);
    for s in &r.subreddits {
        let name = format!("r/{}", s.subreddit);
        match s.status {
            SubredditStatus::Collected => eprintln!(
                "  {name:<width$}  {} new posts, {} refreshed, {} threads, {} comments, {} problem posts{}",
                s.new_posts,
                s.refreshed,
                s.comment_threads,
                s.comments,
                s.problem_posts,
                if s.removed > 0 {
                    format!(", {} deleted or removed", s.removed)
                } else {
                    String::new()
                }
            ),
            SubredditStatus::Unavailable => eprintln!(
                "  {name:<width$}  unavailable: {}",
                s.message.as_deref().unwrap_or("")
            ),
            SubredditStatus::Failed => {
                eprintln!("  {name:<width$}  FAILED: {}", s.message.as_deref().unwrap_or(""))
            }
        }
    }
    eprintln!("  {}", calls_line(&r.stats));
    print_rows(r);
    eprintln!(
        "  {:.2} s (collect {:.2} s, normalize + load {:.2} s)",
        r.seconds(),
        r.seconds_collect,
        r.seconds_load
    );
}

fn print_rows(r: &CollectReport) {
    if r.rows.is_empty() {
        return;
    }
    let width = r.rows.keys().map(String::len).max().unwrap_or(5);
    eprintln!("  rows written:");
    for (t, n) in &r.rows {
        eprintln!("    {t:<width$}  {n:>8}");
    }
}

/// Prints ranked problem posts on stdout.
pub fn print_problem_posts(posts: &[ProblemPost]) {
    for (i, p) in posts.iter().enumerate() {
        let title: String = p.title.chars().take(70).collect();
        println!(
            "{:>2}. [{:>4} pts, {:>3} comments] r/{}: {title}  ({})",
            i + 1,
            p.score,
            p.num_comments,
            p.subreddit,
            p.keywords.join(", ")
        );
    }
}
