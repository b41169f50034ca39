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
    let table = h.run(&["opportunities"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines().count() == 4 && text.contains("smallbusiness"),
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
