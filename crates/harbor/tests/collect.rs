//! End-to-end tests of `harbor collect` and `harbor demo`: the real binary against a fake Reddit
//! started by the test (127.0.0.1, random port), into a scratch DuckDB file.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::reddit::{Fake, command, corpus};
use common::{Harbor, table_digest};
use harbor_testkit::Fault;
use serde_json::Value;

fn collect(h: &Harbor, fake: &Fake, args: &[&str], extra: &[(&str, &str)]) -> (Value, Output) {
    let mut full = vec!["collect", "--json"];
    full.extend_from_slice(args);
    let out = command(h, fake, &full, extra).output().expect("run harbor");
    assert!(
        out.status.success(),
        "harbor {full:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "summary is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (json, out)
}

fn calls(report: &Value, endpoint: &str) -> u64 {
    report["api_calls"][endpoint].as_u64().unwrap_or(0)
}

fn rows(report: &Value, table: &str) -> u64 {
    report["rows"][table].as_u64().unwrap_or(0)
}

/// Every value (not only ids) of the data tables but the load id, to compare two runs.
fn values_digest(h: &Harbor) -> Vec<String> {
    ["submissions", "comments"]
        .iter()
        .map(|t| {
            h.query(&format!(
                "SELECT md5(string_agg(CAST(r AS VARCHAR), ',' ORDER BY r.id)) \
                 FROM (SELECT * EXCLUDE (_harbor_load_id) FROM {t}) r"
            ))
        })
        .collect()
}

#[test]
fn first_and_incremental_runs_load_exactly_the_new_posts() {
    let fake = Fake::start(corpus(&["alpha", "beta", "gamma"], 150));
    let h = Harbor::new();
    let as_of = fake.as_of();
    let (first, out) = collect(&h, &fake, &["alpha", "beta", "gamma", "--as-of", &as_of], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[2/3] r/beta"),
        "progress per subreddit:\n{stderr}"
    );
    // 150 posts: a page of 100 and a last page of 50, per subreddit.
    assert_eq!(calls(&first, "listing"), 6, "{first}");
    assert_eq!(fake.fake.count("listing"), 6);
    assert_eq!(calls(&first, "info"), 0, "every post was just listed");
    assert_eq!(h.count("submissions"), 450);
    let mut all_comments = BTreeSet::new();
    for sub in ["alpha", "beta", "gamma"] {
        all_comments.extend(fake.comment_ids(sub));
    }
    assert_eq!(h.strings("SELECT id FROM comments"), all_comments);
    assert_eq!(
        h.count("comments") as usize,
        all_comments.len(),
        "each comment once"
    );
    assert!(calls(&first, "morechildren") > 0, "big threads were expanded");

    // k new posts per subreddit: ceil(k/100) listing calls, plus one when k is a multiple of 100.
    let before = h.strings("SELECT id FROM submissions");
    let mut added = BTreeSet::new();
    for (sub, k) in [("alpha", 37), ("beta", 100), ("gamma", 0)] {
        added.extend(fake.fake.add_posts(sub, k));
    }
    fake.fake.reset_counts();
    let (second, _) = collect(
        &h,
        &fake,
        &[
            "alpha",
            "beta",
            "gamma",
            "--refresh-window",
            "0",
            "--as-of",
            &as_of,
        ],
        &[],
    );
    assert_eq!(calls(&second, "listing"), 1 + 2 + 1, "{second}");
    assert_eq!(fake.fake.count("listing"), 4);
    assert_eq!(
        rows(&second, "submissions"),
        137,
        "exactly the new posts are loaded"
    );
    let new_posts: Vec<u64> = (0..3)
        .map(|i| second["subreddits"][i]["new_posts"].as_u64().unwrap_or(99))
        .collect();
    assert_eq!(new_posts, [37, 100, 0]);
    let after = h.strings("SELECT id FROM submissions");
    assert_eq!(after, before.union(&added).cloned().collect());
    let with_comments = added
        .iter()
        .filter(|p| !fake.fake.comment_ids(p).is_empty())
        .count();
    assert_eq!(
        calls(&second, "comments") as usize,
        with_comments,
        "threads of new posts only"
    );
    assert_eq!(calls(&second, "info"), 0);

    // A refresh of n recent posts costs ceil(n/100) /api/info calls; edits and deletions land.
    let alpha = fake.fake.post_ids("alpha");
    assert!(fake.fake.edit_post(&alpha[3], |d| d["score"] = 99_999.into()));
    assert!(fake.fake.edit_post(&alpha[4], |d| {
        d["selftext"] = "[removed]".into();
        d["author"] = "[deleted]".into();
    }));
    fake.fake.reset_counts();
    let as_of = fake.as_of();
    let (third, _) = collect(&h, &fake, &["alpha", "beta", "gamma", "--as-of", &as_of], &[]);
    assert_eq!(calls(&third, "listing"), 3, "k = 0 still reads one page");
    // alpha 187, beta 250, gamma 150 tracked posts.
    assert_eq!(calls(&third, "info"), 2 + 3 + 2, "{third}");
    assert_eq!(fake.fake.count("info"), 7);
    assert_eq!(calls(&third, "comments"), 0, "no comment count grew");
    assert_eq!(h.count("submissions"), 587);
    let score: i64 = h.query(&format!(
        "SELECT score FROM submissions WHERE id = '{}'",
        alpha[3]
    ));
    assert_eq!(score, 99_999);
    let removed = h.strings("SELECT id FROM submissions WHERE removed_at IS NOT NULL");
    assert_eq!(removed, BTreeSet::from([alpha[4].clone()]));
}

#[test]
fn unavailable_subreddits_are_reported_and_the_others_load() {
    let fake = Fake::start(corpus(&["alpha", "omega"], 30));
    let h = Harbor::new();
    let (report, out) = collect(
        &h,
        &fake,
        &["alpha", "secretclub", "bannedsub", "nosuchsub", "omega"],
        &[],
    );
    let statuses: Vec<&str> = report["subreddits"]
        .as_array()
        .expect("subreddits")
        .iter()
        .map(|s| s["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
        [
            "collected",
            "unavailable",
            "unavailable",
            "unavailable",
            "collected"
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for sub in ["secretclub", "bannedsub", "nosuchsub"] {
        assert!(stderr.contains(&format!("r/{sub} is unavailable")), "{stderr}");
    }
    assert_eq!(h.count("submissions"), 60);
    assert_eq!(
        h.strings("SELECT DISTINCT subreddit FROM submissions"),
        BTreeSet::from(["alpha".to_owned(), "omega".to_owned()])
    );
}

#[test]
fn bad_credentials_fail_with_a_hint_and_never_print_secrets() {
    let fake = Fake::start(corpus(&["alpha"], 5));
    let h = Harbor::new();
    let secret = "s3cr3t-never-shown";
    let out = command(
        &h,
        &fake,
        &["collect", "alpha"],
        &[("REDDIT_CLIENT_SECRET", secret)],
    )
    .output()
    .expect("run harbor");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret));

    let out = h.run_env(&["collect", "alpha"], &[("REDDIT_CLIENT_ID", "")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("REDDIT_CLIENT_ID") && stderr.contains("harbor demo"),
        "{stderr}"
    );
    assert_eq!(h.count("submissions"), 0);
}

#[test]
fn a_run_under_faults_ends_with_the_same_tables_as_a_clean_run() {
    let config = corpus(&["alpha", "beta"], 60);
    let clean_fake = Fake::start(config.clone());
    let clean = Harbor::new();
    let as_of = clean_fake.as_of();
    collect(&clean, &clean_fake, &["alpha", "beta", "--as-of", &as_of], &[]);

    let fake = Fake::start(config);
    fake.fake.fault_every(
        3,
        vec![
            Fault::TooManyRequests {
                retry_after_secs: 0.05,
            },
            Fault::Status {
                status: 500,
                body: String::new(),
            },
            Fault::TruncatedBody,
            Fault::DropConnection,
            Fault::ExpireTokens,
            Fault::Status {
                status: 503,
                body: "<html>busy</html>".into(),
            },
            Fault::Slow(Duration::from_millis(800)),
            Fault::Status {
                status: 502,
                body: String::new(),
            },
        ],
    );
    let h = Harbor::new();
    let quick_retries = [
        ("HARBOR_REDDIT__TIMEOUT_MS", "400"),
        ("HARBOR_REDDIT__RETRY_MIN_DELAY_MS", "10"),
        ("HARBOR_REDDIT__RETRY_MAX_DELAY_MS", "100"),
    ];
    let (report, _) = collect(&h, &fake, &["alpha", "beta", "--as-of", &as_of], &quick_retries);
    assert!(report["retries"].as_u64().unwrap_or(0) >= 20, "{report}");
    assert!(report["http_429"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert!(fake.fake.unauthorized_sent() >= 1, "a token expired mid-run");
    assert_eq!(table_digest(&h), table_digest(&clean));
    assert_eq!(values_digest(&h), values_digest(&clean));
}

/// SIGKILL while collecting, after the package is written, inside the load transaction and after
/// the commit; the next run gives exactly the tables of a clean run.
#[test]
fn a_killed_collect_reruns_to_exactly_the_clean_result() {
    let fake = Fake::start(corpus(&["alpha", "beta"], 45));
    let as_of = fake.as_of();
    let args = ["collect", "alpha", "beta", "--as-of", &as_of];
    let clean = Harbor::new();
    assert!(
        command(&clean, &fake, &args, &[])
            .status()
            .expect("run")
            .success()
    );
    let expected = (table_digest(&clean), values_digest(&clean));
    assert_eq!(clean.count("submissions"), 90);

    for point in ["collect", "normalize", "package", "commit", "finalize"] {
        let h = Harbor::new();
        let mut child = command(&h, &fake, &args, &[("HARBOR_TEST_PAUSE_AT", point)])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn harbor");
        common::wait_for_pause(&mut child, point);
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let rerun = command(&h, &fake, &args, &[]).output().expect("rerun");
        assert!(
            rerun.status.success(),
            "{point}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(
            (table_digest(&h), values_digest(&h)),
            expected,
            "after a kill at {point}"
        );
    }
}

#[test]
fn demo_collects_twice_without_credentials_and_can_run_again() {
    let h = Harbor::new();
    let run = || {
        let out = h
            .command(&["demo", "--posts", "30", "--new-posts", "7", "--json"], &[])
            .env_remove("REDDIT_CLIENT_ID")
            .env_remove("HARBOR_REDDIT_API_URL")
            .output()
            .expect("run harbor demo");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).expect("demo JSON")
    };
    let report = run();
    let sum = |r: &Value, field: &str| -> u64 {
        r["subreddits"]
            .as_array()
            .expect("subreddits")
            .iter()
            .map(|s| s[field].as_u64().unwrap_or(0))
            .sum()
    };
    let (first, second) = (&report["first"], &report["incremental"]);
    assert_eq!(sum(first, "new_posts"), 150);
    assert_eq!(calls(first, "listing"), 5);
    assert_eq!(sum(second, "new_posts"), 35);
    assert_eq!(calls(second, "listing"), 5, "one page per subreddit");
    assert_eq!(
        calls(second, "info"),
        5,
        "30 recent posts per subreddit: one call each"
    );
    assert_eq!(sum(second, "refreshed"), 150);
    assert!(calls(second, "comments") <= 35);
    assert!(
        report["top_problem_posts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // The demo ends with the top opportunities: its problem posts scored by the heuristic.
    let top = report["top_opportunities"].as_array().expect("top_opportunities");
    assert!(!top.is_empty() && top.len() <= 10, "{top:?}");
    assert!(
        top.windows(2)
            .all(|w| w[0]["final_score"].as_f64() >= w[1]["final_score"].as_f64())
    );
    let scored: i64 = h.query("SELECT count(*) FROM opportunity_analysis WHERE scorer_id LIKE 'heuristic%'");
    let problem: i64 = h.query("SELECT count(*) FROM submissions WHERE is_problem");
    assert_eq!(scored, problem, "every problem post is scored");
    assert!(h.db().exists(), "writes ./harbor.duckdb");
    assert_eq!(h.count("submissions"), 185);
    assert_eq!(h.count("subreddits"), 5);
    let removed: i64 = h.query("SELECT count(*) FROM submissions WHERE removed_at IS NOT NULL");
    assert_eq!(removed, 5, "one deletion per subreddit");
    let dupes: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM comments");
    assert_eq!(dupes, 0);

    // Again: it starts over and leaves the same tables.
    let expected = (table_digest(&h), values_digest(&h));
    let again = run();
    assert_eq!(
        sum(&again["first"], "new_posts"),
        150,
        "a second demo starts over"
    );
    assert_eq!((table_digest(&h), values_digest(&h)), expected);
}
