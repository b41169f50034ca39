//! The first hour of a new user: `harbor demo` writes traced runs under the default pipeline, so
//! the commands it suggests afterwards (run here one by one) show its data without extra flags;
//! the demo refuses a pipeline that collects for real.

mod common;

use std::time::Instant;

use common::{Harbor, ok};
use serde_json::Value;

fn demo(h: &Harbor, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["demo", "--posts", "30", "--new-posts", "7"];
    args.extend_from_slice(extra);
    h.command(&args, &[])
        .env_remove("REDDIT_CLIENT_ID")
        .env_remove("HARBOR_REDDIT_API_URL")
        .output()
        .expect("run harbor demo")
}

#[test]
fn the_demo_traces_its_runs_and_every_suggested_command_shows_its_data() {
    let h = Harbor::new();
    let started = Instant::now();
    let report: Value = serde_json::from_str(&ok(&demo(&h, &["--json"]))).expect("demo JSON");
    eprintln!("demo took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(report["pipeline"], "reddit", "the default pipeline");

    // Two traced runs, with their API calls, like `harbor run`.
    let runs: Value = serde_json::from_str(&ok(&h.run(&["runs", "--json"]))).expect("runs JSON");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{runs:?}");
    for r in runs {
        assert_eq!(r["command"], "demo");
        assert_eq!(r["status"], "ok");
        assert!(r["api_calls_total"].as_u64().unwrap_or(0) > 0, "{r}");
        assert!(r["rows_total"].as_u64().unwrap_or(0) > 0, "{r}");
    }
    let ids: Vec<&str> = runs.iter().filter_map(|r| r["run_id"].as_str()).collect();
    assert!(ids.contains(&report["first"]["run_id"].as_str().expect("first run id")));
    assert!(ids.contains(&report["incremental"]["run_id"].as_str().expect("second run id")));

    // Every command the demo suggests (but the long-running server) works as printed and shows
    // the demo's data.
    let next = report["next"].as_array().expect("next commands");
    assert!(next.len() >= 6, "{next:?}");
    for item in next {
        let line = item["command"].as_str().expect("command");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "harbor");
        if words[1] == "serve" {
            continue;
        }
        let out = h.run(&words[1..]);
        let stdout = ok(&out);
        let shown = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        match words[1] {
            "status" | "schema" => assert!(shown.contains("submissions"), "{line}:\n{shown}"),
            "runs" => assert!(shown.contains("demo"), "{line}:\n{shown}"),
            "opportunities" => assert!(shown.contains("rank"), "{line}:\n{shown}"),
            "metrics" => assert!(shown.contains("harbor_"), "{line}:\n{shown}"),
            "token" => assert!(!stdout.trim().is_empty(), "{line}:\n{shown}"),
            other => panic!("no check for the suggested command `{other}`"),
        }
    }

    // Scoring the demo's posts adds no posts of its own: the demo still runs again on them.
    ok(&h.run(&["score"]));
    ok(&demo(&h, &[]));
    assert_eq!(h.count("submissions"), 185, "the demo starts over");
}

#[test]
fn the_demo_refuses_a_pipeline_that_collects_for_real() {
    let h = Harbor::new();
    h.write("posts.ndjson", "{\"id\": \"a1\", \"title\": \"hello\"}\n");
    ok(&h.run(&["load", "posts.ndjson", "--table", "submissions"]));
    let out = demo(&h, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("harbor load") && stderr.contains("harbor demo -d"),
        "{stderr}"
    );
    assert_eq!(h.count("submissions"), 1, "nothing written");
    // Its own database is fine.
    ok(&demo(&h, &["-d", "duckdb://demo.duckdb"]));
}
