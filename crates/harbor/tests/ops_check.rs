//! `harbor check`: each rollback trigger fires on data built to trip it and stays quiet on clean
//! data; `--rollback` rolls the cutover back and sends an alert.

#[allow(unused_imports)]
mod common;
mod ops_common;

use common::Harbor;
use harbor_ops::store::{SqlStore, Value};
use ops_common::{Webhook, now, posts};

const CHECK: &str = "[check]\nwindow_hours = 6\nmax_error_rate = 0.2\nmax_gap_hours = 2\nmax_429 = 10\nsla_seconds = 60\nmax_sla_misses = 1\n";

/// Two subreddits with a post every 30 minutes for 12 hours, four good runs.
fn clean(extra_toml: &str) -> Harbor {
    let h = Harbor::new();
    h.write("harbor.toml", &format!("{CHECK}{extra_toml}"));
    let t = now() - 600.0;
    let mut data = posts("r", "rust", 24, t, 1800.0);
    data.push_str(&posts("g", "golang", 24, t - 60.0, 1800.0));
    let f = h.write("posts.ndjson", &data);
    let out = h.run(&["load", f.to_str().unwrap_or_default()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut s = ops_common::store(&h.db());
    for i in 0..3 {
        insert_run(s.as_mut(), &format!("good{i}"), "ok", 5.0, 0);
    }
    h
}

fn insert_run(s: &mut dyn SqlStore, id: &str, status: &str, seconds: f64, http_429: i64) {
    harbor_ops::trace::ensure_table(s).expect("table");
    let started = chrono::Utc::now() - chrono::Duration::minutes(60);
    s.execute(
        "INSERT INTO _harbor_runs (run_id, command, pipeline, started_at, finished_at, status, seconds, http_429, error) \
         VALUES ($1, 'collect', 'reddit', CAST($2 AS TIMESTAMP), CAST($2 AS TIMESTAMP), $3, $4, $5, $6)",
        &[
            id.into(),
            started.format("%Y-%m-%d %H:%M:%S").to_string().into(),
            status.into(),
            seconds.into(),
            http_429.into(),
            Value::from((status == "failed").then_some("listing r/rust: HTTP 503")),
        ],
        "insert run",
    )
    .expect("insert run");
}

fn check(h: &Harbor, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let out = h.run(&all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn fired(v: &serde_json::Value) -> Vec<String> {
    v["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .filter(|t| t["fired"] == true)
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn items(v: &serde_json::Value, name: &str) -> String {
    v["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .find(|t| t["name"] == name)
        .map(|t| t["items"].to_string())
        .unwrap_or_default()
}

#[test]
fn clean_data_fires_nothing() {
    let h = clean("");
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), Vec::<String>::new(), "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(v["triggers"].as_array().map(Vec::len), Some(5));
}

#[test]
fn error_rate_fires_on_failed_runs() {
    let h = clean("");
    let mut s = ops_common::store(&h.db());
    insert_run(s.as_mut(), "bad1", "failed", 3.0, 0);
    insert_run(s.as_mut(), "bad2", "failed", 3.0, 0);
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), ["error_rate"], "{v:#}");
    assert_eq!(code, 3);
    assert!(items(&v, "error_rate").contains("bad1"));
}

#[test]
fn duplicates_fire_on_a_repeated_primary_key() {
    let h = clean("");
    let mut s = ops_common::store(&h.db());
    s.execute(
        "INSERT INTO submissions SELECT * FROM submissions WHERE id = 'r3'",
        &[],
        "dup",
    )
    .expect("dup");
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), ["duplicates"], "{v:#}");
    assert_eq!(code, 3);
    assert!(items(&v, "duplicates").contains("submissions.id = r3"), "{v:#}");
}

#[test]
fn gaps_fire_on_a_hole_in_one_subreddit() {
    let h = clean("");
    let mut s = ops_common::store(&h.db());
    let cut = |hours: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    s.execute(
        "DELETE FROM submissions WHERE subreddit = 'golang' AND created_utc > CAST($1 AS TIMESTAMP) AND created_utc < CAST($2 AS TIMESTAMP)",
        &[cut(5).into(), cut(1).into()],
        "hole",
    )
    .expect("hole");
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), ["gaps"], "{v:#}");
    assert_eq!(code, 3);
    let it = items(&v, "gaps");
    assert!(it.contains("r/golang") && !it.contains("r/rust"), "{it}");
}

#[test]
fn rate_limit_fires_on_429_overruns() {
    let h = clean("");
    let mut s = ops_common::store(&h.db());
    insert_run(s.as_mut(), "throttled", "ok", 5.0, 25);
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), ["rate_limit"], "{v:#}");
    assert_eq!(code, 3);
}

#[test]
fn sla_fires_on_repeated_slow_runs() {
    let h = clean("");
    let mut s = ops_common::store(&h.db());
    insert_run(s.as_mut(), "slow1", "ok", 120.0, 0);
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(
        (code, fired(&v)),
        (0, Vec::<String>::new()),
        "one miss is allowed: {v:#}"
    );
    let mut s = ops_common::store(&h.db());
    insert_run(s.as_mut(), "slow2", "ok", 150.0, 0);
    drop(s);
    let (code, v) = check(&h, &[]);
    assert_eq!(fired(&v), ["sla"], "{v:#}");
    assert_eq!(code, 3);
}

#[test]
fn rollback_flag_rolls_back_and_alerts() {
    let hook = Webhook::start(vec![]);
    let h = clean(&format!("\n[alerts]\nwebhook = \"{}\"\n", hook.url));
    let set = h.run(&["cutover", "set", "100%", "--subreddits", "rust,golang"]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    // Clean: --rollback does nothing.
    let (code, v) = check(&h, &["--rollback"]);
    assert_eq!((code, v["rolled_back"].as_bool()), (0, Some(false)));
    assert!(hook.received().is_empty());

    let mut s = ops_common::store(&h.db());
    insert_run(s.as_mut(), "bad1", "failed", 3.0, 0);
    insert_run(s.as_mut(), "bad2", "failed", 3.0, 0);
    drop(s);
    let (code, v) = check(&h, &["--rollback"]);
    assert_eq!(code, 3);
    assert_eq!(v["rolled_back"], true);
    let st = h.run(&["cutover", "status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).expect("status");
    assert_eq!(st["phase"], "manual_only");
    assert!(
        st["routes"]
            .as_object()
            .expect("routes")
            .values()
            .all(|r| r == "legacy")
    );
    assert_eq!(st["audit"][0]["who"], "harbor check");
    assert!(
        st["audit"][0]["why"]
            .as_str()
            .unwrap_or_default()
            .contains("error_rate")
    );
    let got = hook.received();
    assert_eq!(got.len(), 1);
    let text = got[0].body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("rolled pipeline reddit back to legacy") && text.contains("error_rate"),
        "{text}"
    );
}
