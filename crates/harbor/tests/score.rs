//! End-to-end tests of `harbor score` and `harbor opportunities` on posts loaded with `harbor load`.

mod common;

use common::Harbor;
use serde_json::{Value, json};

/// A submission line: problem posts talk about a problem, the others do not.
fn post(id: &str, sub: &str, title: &str, body: &str, score: i64, comments: i64) -> String {
    json!({"id": id, "name": format!("t3_{id}"), "subreddit": sub, "title": title, "selftext": body,
        "author": "someone", "created_utc": 1_700_000_000.0, "score": score, "num_comments": comments,
        "permalink": format!("/r/{sub}/comments/{id}/"), "upvote_ratio": 0.9})
    .to_string()
}

fn comment(id: &str, post: &str, body: &str, score: i64) -> String {
    json!({"id": id, "name": format!("t1_{id}"), "link_id": format!("t3_{post}"),
        "parent_id": format!("t3_{post}"), "body": body, "score": score, "author": "x",
        "created_utc": 1_700_000_100.0, "subreddit": "smallbusiness"})
    .to_string()
}

fn corpus() -> String {
    [
        post(
            "p1",
            "smallbusiness",
            "I hate doing invoices manually every month",
            "It's a nightmare. Is there a tool that can automate invoicing? I would pay $20/month.",
            250,
            80,
        ),
        post(
            "p2",
            "rust",
            "Struggling with borrow checker errors",
            "So frustrating, can't find good docs",
            12,
            4,
        ),
        post(
            "p3",
            "python",
            "Annoying problem syncing my calendar",
            "Is there an app for this?",
            40,
            10,
        ),
        post("p4", "pics", "My cat sleeping", "", 900, 30),
        post(
            "p5",
            "rust",
            "Release notes for 1.95",
            "New features inside.",
            300,
            50,
        ),
    ]
    .join("\n")
        + "\n"
}

fn score_json(h: &Harbor, args: &[&str]) -> Value {
    let mut all = vec!["score", "--json"];
    all.extend_from_slice(args);
    let out = h.run(&all);
    assert!(
        out.status.success(),
        "score failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("score --json prints JSON")
}

fn load(h: &Harbor, name: &str, text: &str, table: &str) {
    let f = h.write(name, text);
    let out = h.run(&["load", f.to_str().expect("utf-8 path"), "--table", table]);
    assert!(
        out.status.success(),
        "load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn heuristic_scores_problem_posts_once_and_deterministically() {
    let h = Harbor::new();
    load(&h, "posts.ndjson", &corpus(), "submissions");
    load(
        &h,
        "comments.ndjson",
        &[
            comment("c1", "p1", "Same here, following", 30),
            comment("c2", "p1", "QuickBooks is too expensive", 5),
        ]
        .join("\n"),
        "comments",
    );
    let s = score_json(&h, &[]);
    assert_eq!(s["posts"], 5);
    assert_eq!(s["problem_posts"], 3, "{s}");
    assert_eq!(s["heuristic"]["scored"], 3);
    assert_eq!(s["rows"], 3);
    assert_eq!(
        h.strings("SELECT post_id FROM opportunity_analysis"),
        ["p1", "p2", "p3"].map(String::from).into()
    );
    let first =
        h.strings("SELECT post_id || '=' || final_score::VARCHAR || content_hash FROM opportunity_analysis");
    // The evidence explains the score: the matched phrases and the engagement are stored.
    let evidence: String = h.query("SELECT evidence::VARCHAR FROM opportunity_analysis WHERE post_id = 'p1'");
    let evidence: Value = serde_json::from_str(&evidence).expect("evidence is JSON");
    assert_eq!(evidence["market_demand"]["score"], 250);
    assert_eq!(
        evidence["market_demand"]["echoing_comments"], 1,
        "top comments are read: {evidence}"
    );
    assert!(
        evidence["pain_intensity"]["pain_phrases"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("nightmare")))
    );
    let status: String = h.query("SELECT min(status) || max(status) FROM opportunity_analysis");
    assert_eq!(status, "scoredscored");

    // A re-run scores nothing and writes nothing; the stored scores are unchanged.
    let again = score_json(&h, &[]);
    assert_eq!(again["heuristic"]["scored"], 0);
    assert_eq!(again["heuristic_cached"], 3);
    assert_eq!(again["load_id"], Value::Null);
    assert_eq!(h.count("opportunity_analysis"), 3);
    // --rescore scores every post again: same numbers, still one row per post (merge).
    let re = score_json(&h, &["--rescore"]);
    assert_eq!(re["heuristic"]["scored"], 3);
    assert_eq!(h.count("opportunity_analysis"), 3);
    assert_eq!(
        h.strings("SELECT post_id || '=' || final_score::VARCHAR || content_hash FROM opportunity_analysis"),
        first
    );
}

#[test]
fn an_edited_post_is_rescored_alone() {
    let h = Harbor::new();
    load(&h, "posts.ndjson", &corpus(), "submissions");
    score_json(&h, &[]);
    let before: f64 = h.query("SELECT final_score FROM opportunity_analysis WHERE post_id = 'p2'");
    load(
        &h,
        "edit.ndjson",
        &post(
            "p2",
            "rust",
            "Struggling with borrow checker errors",
            "EDIT: I hate this, it is a nightmare and a waste of time. I would pay for a tool.",
            12,
            4,
        ),
        "submissions",
    );
    let s = score_json(&h, &[]);
    assert_eq!(s["heuristic"]["scored"], 1, "{s}");
    assert_eq!(s["heuristic_cached"], 2);
    assert_eq!(h.count("opportunity_analysis"), 3);
    let after: f64 = h.query("SELECT final_score FROM opportunity_analysis WHERE post_id = 'p2'");
    assert!(
        after > before,
        "more pain and willingness to pay: {before} -> {after}"
    );
}

#[test]
fn opportunities_ranks_and_filters() {
    let h = Harbor::new();
    let empty = h.run(&["opportunities"]);
    assert!(empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no scored opportunities"));
    load(&h, "posts.ndjson", &corpus(), "submissions");
    score_json(&h, &[]);
    let out = h.run(&["opportunities", "--json", "--top", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["post_id"], "p1",
        "the invoicing pain ranks first: {rows:?}"
    );
    assert!(rows[0]["final_score"].as_f64() >= rows[1]["final_score"].as_f64());
    assert_eq!(rows[0]["title"], "I hate doing invoices manually every month");
    let out = h.run(&["opportunities", "--json", "--subreddit", "rust"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    assert_eq!(
        rows.iter().map(|r| r["post_id"].clone()).collect::<Vec<_>>(),
        vec![json!("p2")]
    );
    // --json keeps the raw evidence (an object, not its text) beside its sentences.
    let out = h.run(&["opportunities", "--json", "--top", "1"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    assert_eq!(rows[0]["evidence"]["market_demand"]["score"], 250, "{rows:?}");
    assert_eq!(rows[0]["reasons"][0]["dimension"], "market_demand");

    // The table: a line per post, then its evidence as a sentence per dimension, no JSON.
    let table = h.run(&["opportunities"]);
    let text = String::from_utf8_lossy(&table.stdout);
    let posts = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert!(posts == 3 && text.contains("smallbusiness"), "{text}");
    assert!(
        text.contains("demand       250 points, 80 comments; no comment echoes it"),
        "{text}"
    );
    assert!(text.contains("pain         says 'hate', 'nightmare'"), "{text}");
    assert!(
        !text.contains('{') && !text.contains("\"pain_phrases\""),
        "{text}"
    );
    // The view joins results with their submissions.
    let n: i64 = h.query("SELECT count(*) FROM opportunities WHERE permalink IS NOT NULL");
    assert_eq!(n, 3);
}

#[test]
fn recorded_reddit_data_scores_every_problem_post() {
    let h = Harbor::new();
    assert!(
        common::fixtures_dir().join("api").is_dir(),
        "shared fixtures are present"
    );
    // Every recorded response that holds submissions, loaded as the API returned it.
    let mut files = Vec::new();
    for (i, (_, body)) in common::api_bodies().into_iter().enumerate() {
        let mut ids = std::collections::BTreeSet::new();
        common::thing_ids(&body, "t3", &mut ids);
        if !ids.is_empty() {
            files.push(h.write(&format!("r{i}.json"), &body.to_string()));
        }
    }
    assert!(!files.is_empty(), "fixtures hold submissions");
    let mut args = vec!["load".to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = h.run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = score_json(&h, &["--all-posts"]);
    let posts = s["posts"].as_i64().expect("posts");
    assert_eq!(posts, h.count("submissions"));
    assert_eq!(s["heuristic"]["scored"].as_i64(), Some(posts), "{s}");
    assert_eq!(h.count("opportunity_analysis"), posts);
    let bad: i64 = h.query(
        "SELECT count(*) FROM opportunity_analysis WHERE NOT (final_score BETWEEN 0 AND 100) \
         OR evidence IS NULL OR post_id NOT IN (SELECT id FROM submissions)",
    );
    assert_eq!(bad, 0);
    // The default (problem posts only) is a subset, and a re-run scores nothing new.
    let again = score_json(&h, &[]);
    assert_eq!(again["heuristic"]["scored"], 0);
    assert!(again["problem_posts"].as_i64() <= Some(posts));
}

mod llm {
    use super::*;
    use crate::common::reddit::fake_llm as fake;
    use harbor_testkit::llm::MALFORMED_ALWAYS;
    use harbor_testkit::{FakeLlm, FakeLlmConfig};

    fn project(fake: &FakeLlm, extra: &str) -> Harbor {
        let h = Harbor::new();
        h.write(
            "harbor.toml",
            &format!(
                "[score.llm]\nbase_url = \"{}\"\nmin_delay_ms = 1\nmax_delay_ms = 5\nmax_retries = 8\n{extra}",
                fake.base_url()
            ),
        );
        h
    }

    fn llm_score(h: &Harbor, args: &[&str]) -> Value {
        let mut all = vec!["--scorer", "llm", "--threshold", "0"];
        all.extend_from_slice(args);
        score_json(h, &all)
    }

    #[test]
    fn rerun_makes_zero_calls_and_an_edit_rescores_exactly_that_post() {
        let (_rt, f) = fake(FakeLlmConfig::default());
        let h = project(&f, "");
        load(&h, "posts.ndjson", &corpus(), "submissions");
        let s = llm_score(&h, &[]);
        assert_eq!(s["llm"]["scored"], 3, "{s}");
        assert_eq!(f.request_count(), 3);
        let tokens = s["llm"]["prompt_tokens"].as_u64().unwrap_or(0)
            + s["llm"]["completion_tokens"].as_u64().unwrap_or(0);
        assert!(tokens > 0 && s["llm"]["cost_usd"].as_f64() > Some(0.0));
        let stored: i64 = h.query(
            "SELECT sum(prompt_tokens + completion_tokens) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'",
        );
        assert_eq!(stored as u64, tokens, "tokens are stored per result");
        let model: String = h.query("SELECT min(model) || ' ' || min(prompt_version) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        assert_eq!(model, "anthropic/claude-haiku-4.5 opportunity-v1");

        // No new posts: zero calls, zero tokens.
        let again = llm_score(&h, &[]);
        assert_eq!(f.request_count(), 3);
        assert_eq!(again["llm"]["requests"], 0);
        assert_eq!(again["llm"]["prompt_tokens"], 0);
        assert_eq!(again["llm_cached"], 3);

        // One edited post: exactly that post is sent again.
        load(
            &h,
            "edit.ndjson",
            &post(
                "p3",
                "python",
                "Annoying problem syncing my calendar",
                "Edit: still broken, I would pay for a fix.",
                40,
                10,
            ),
            "submissions",
        );
        let edited = llm_score(&h, &[]);
        assert_eq!(edited["llm"]["scored"], 1, "{edited}");
        assert_eq!(f.request_count(), 4);
        let last = f.requests().pop().expect("request");
        assert!(last.body.to_string().contains("I would pay for a fix"));
        assert_eq!(
            h.count("opportunity_analysis"),
            6,
            "3 heuristic + 3 llm rows, merged"
        );
        // The ranking prefers the LLM's result per post.
        let out = h.run(&["opportunities", "--json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("rows");
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|r| r["scorer_id"].as_str().is_some_and(|s| s.starts_with("llm:")))
        );
    }

    #[test]
    fn faults_end_scored_or_failed_and_counts_add_up() {
        let (_rt, f) = fake(FakeLlmConfig {
            every_nth_429: Some(3),
            every_nth_500: Some(5),
            ..Default::default()
        });
        let h = project(&f, "");
        let mut lines = Vec::new();
        for i in 0..12 {
            let body = if i == 4 {
                format!("It hurts. {MALFORMED_ALWAYS}")
            } else {
                "It hurts.".to_owned()
            };
            lines.push(post(
                &format!("q{i}"),
                "smallbusiness",
                &format!("I struggle with task {i}"),
                &body,
                5,
                1,
            ));
        }
        load(&h, "posts.ndjson", &(lines.join("\n") + "\n"), "submissions");
        let s = llm_score(&h, &["--concurrency", "3"]);
        let l = &s["llm"];
        assert_eq!(l["scored"], 11, "{s}");
        assert_eq!(l["failed"], 1);
        assert_eq!(l["left_unscored"], 0);
        let st = &s["llm_stats"];
        assert!(st["http_429"].as_u64() > Some(0) && st["http_5xx"].as_u64() > Some(0));
        assert_eq!(st["requests"].as_u64(), Some(f.request_count() as u64));
        assert_eq!(st["malformed"], 2);
        let failed: String = h.query(
            "SELECT post_id || ': ' || failure_reason FROM opportunity_analysis WHERE status = 'failed'",
        );
        assert!(
            failed.starts_with("q4: answer did not match the schema"),
            "{failed}"
        );
        let llm_rows: i64 = h.query("SELECT count(*) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        assert_eq!(
            llm_rows, 12,
            "every eligible post is scored or recorded as failed"
        );
        // The failed post is tried again by the next run; the scored ones are not.
        let n = f.request_count();
        let again = llm_score(&h, &[]);
        assert_eq!(again["llm"]["failed"], 1);
        assert_eq!(again["llm_cached"], 11);
        assert!(f.request_count() > n);
    }

    #[test]
    fn cost_cap_stops_at_the_cap_and_says_so() {
        let (_rt, f) = fake(FakeLlmConfig::default());
        let h = project(&f, "");
        let mut lines = Vec::new();
        for i in 0..20 {
            lines.push(post(
                &format!("c{i}"),
                "rust",
                &format!("I struggle with build {i}"),
                "Annoying.",
                5,
                1,
            ));
        }
        load(&h, "posts.ndjson", &(lines.join("\n") + "\n"), "submissions");
        let out = h.run(&[
            "score",
            "--scorer",
            "llm",
            "--threshold",
            "0",
            "--max-cost",
            "0.02",
            "--concurrency",
            "2",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("stopped early: cost cap reached"), "{err}");
        let spent: f64 =
            h.query("SELECT sum(cost_usd) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        let one: f64 = h.query("SELECT max(cost_usd) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        assert!(spent <= 0.02 + one, "spent {spent}");
        let rows: i64 = h.query("SELECT count(*) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        assert!(rows > 0 && rows < 20, "{rows}");
        assert_eq!(
            rows as usize,
            f.request_count(),
            "no retries here: one request per scored post"
        );
        assert!(
            err.contains(&format!("{} posts left unscored", 20 - rows)),
            "{err}"
        );
    }

    const LIVE_KEY: &str = "sk-live-4f3e2d1c0b9a8f7e6d5c";

    #[test]
    fn a_refused_key_fails_the_run_and_sends_nothing_more() {
        let (_rt, f) = fake(FakeLlmConfig {
            echo_error: Some(401),
            ..Default::default()
        });
        let h = project(&f, "");
        let mut lines = Vec::new();
        for i in 0..40 {
            lines.push(post(
                &format!("k{i}"),
                "smallbusiness",
                &format!("I struggle with invoices {i}"),
                "Annoying.",
                5,
                1,
            ));
        }
        load(&h, "posts.ndjson", &(lines.join("\n") + "\n"), "submissions");
        let out = h.run_env(
            &[
                "score",
                "--scorer",
                "llm",
                "--threshold",
                "0",
                "--concurrency",
                "2",
            ],
            &[("HARBOR_LLM_API_KEY", LIVE_KEY)],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a refused key exited 0: {err}");
        assert!(
            err.contains("refused the API key (HTTP 401)") && err.contains("HARBOR_LLM_API_KEY"),
            "{err}"
        );
        assert!(err.contains("40 posts left unscored"), "{err}");
        assert!(!err.contains(LIVE_KEY), "{err}");
        assert!(
            f.request_count() <= 2,
            "{} requests after the key was refused",
            f.request_count()
        );
        let llm_rows: i64 = h.query("SELECT count(*) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'");
        assert_eq!(llm_rows, 0, "the posts are left for a run with a working key");
        let trace: String = h.query(
            "SELECT status || ' ' || coalesce(error, '') FROM _harbor_runs WHERE command = 'score' \
             ORDER BY started_at DESC LIMIT 1",
        );
        assert!(
            trace.starts_with("failed ") && trace.contains("HARBOR_LLM_API_KEY"),
            "{trace}"
        );
        assert!(!trace.contains(LIVE_KEY), "{trace}");
    }

    #[test]
    fn echoed_keys_never_reach_failure_reason() {
        let (_rt, f) = fake(FakeLlmConfig {
            echo_error: Some(400),
            ..Default::default()
        });
        let h = project(&f, "");
        load(&h, "posts.ndjson", &corpus(), "submissions");
        let out = h.run_env(
            &["score", "--json", "--scorer", "llm", "--threshold", "0"],
            &[("HARBOR_LLM_API_KEY", LIVE_KEY)],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let reasons: String = h.query(
            "SELECT string_agg(failure_reason, ' | ') FROM opportunity_analysis WHERE status = 'failed'",
        );
        assert!(
            reasons.contains("HTTP 400") && reasons.contains("invalid api key"),
            "{reasons}"
        );
        for secret in [LIVE_KEY, "4f3e2d1c0b9a", "zz9plural9x"] {
            assert!(!reasons.contains(secret), "{secret} stored: {reasons}");
        }
    }

    #[test]
    fn pii_never_reaches_the_database_or_the_llm() {
        let (_rt, f) = fake(FakeLlmConfig::default());
        let h = project(&f, "\n[pii]\nenabled = true\n");
        let secret_post = json!({"id": "s1", "name": "t3_s1", "subreddit": "smallbusiness",
            "title": "Problem: my clients email jane.doe@example.com about invoices",
            "selftext": "I hate this. Call me at +1 (555) 123-4567 or ask u/janedoe_42.",
            "author": "janedoe_42", "created_utc": 1_700_000_000.0, "score": 10, "num_comments": 1});
        load(
            &h,
            "posts.ndjson",
            &(secret_post.to_string() + "\n"),
            "submissions",
        );
        let s = llm_score(&h, &[]);
        assert_eq!(s["llm"]["scored"], 1, "{s}");
        let db: String =
            h.query("SELECT string_agg(title || ' ' || selftext || ' ' || author, ' ') FROM submissions");
        let results: String =
            h.query("SELECT string_agg(to_json(o)::VARCHAR, ' ') FROM opportunity_analysis o");
        let sent = f.log_text();
        for secret in ["jane.doe@example.com", "(555)", "123-4567", "janedoe"] {
            assert!(!db.contains(secret), "{secret} reached the database: {db}");
            assert!(!results.contains(secret), "{secret} reached opportunity_analysis");
            assert!(!sent.contains(secret), "{secret} reached the LLM");
        }
        assert!(
            db.contains("[email]") && db.contains("[phone]") && db.contains("u/[user]"),
            "{db}"
        );
        let author: String = h.query("SELECT author FROM submissions");
        assert!(author.starts_with("user_"), "{author}");
        // The key is kept, so the same author hashes the same way on the next load.
        assert!(h.path().join(".harbor/reddit/pii.key").exists());
    }
}
