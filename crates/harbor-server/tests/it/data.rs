//! What the read endpoints return: filters, search, pagination, comment trees, rankings, runs.
//! Every test runs on every engine the server supports (DuckDB, Postgres, Postgres through
//! pgbouncer in transaction mode), on the same seeded data.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use harbor_server::Scope;
use serde_json::Value;

use crate::harness::{Api, Engine};

crate::on_every_engine!(
    submissions_paginate_without_gaps_or_duplicates,
    submission_filters_combine,
    search_and_filters_match_injection_attempts_literally,
    invalid_filters_are_400_with_a_code,
    unknown_ids_and_routes_are_404,
    submission_detail_has_the_comment_tree,
    opportunities_are_ranked_filtered_and_paginated,
    opportunity_pages_follow_ties_and_unscored_rows,
    subreddits_status_and_runs,
    post_run_starts_in_background_and_can_be_followed,
    list_answers_are_reused_until_a_run_changes_the_data,
    cutover_set_and_rollback_are_audited
);

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .or(i["post_id"].as_str())
                .or(i["run_id"].as_str())
                .expect("id")
                .to_owned()
        })
        .collect()
}

async fn submissions_paginate_without_gaps_or_duplicates(engine: Engine) {
    let api = Api::on(engine);
    let mut seen = Vec::new();
    let mut uri = "/api/v1/submissions?limit=17".to_owned();
    loop {
        let page = api.get(&uri).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/submissions?limit=17&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, api.count("SELECT count(*) FROM submissions"));
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
    let first = api.get("/api/v1/submissions?limit=1").await;
    assert_eq!(ids(&first), vec!["p120"], "newest first");
    assert_eq!(first["items"][0]["created_utc"], "2025-01-06T00:00:00Z");
}

async fn submission_filters_combine(engine: Engine) {
    let api = Api::on(engine);
    let v = api
        .get("/api/v1/submissions?subreddit=saas&is_problem=true&min_score=600&limit=500")
        .await;
    let expected = api.count(
        "SELECT count(*) FROM submissions WHERE lower(subreddit)='saas' AND is_problem AND score >= 600",
    );
    assert_eq!(ids(&v).len() as i64, expected);
    assert!(expected > 0);
    for item in v["items"].as_array().expect("items") {
        assert_eq!(item["subreddit"], "SaaS");
        assert_eq!(item["is_problem"], true);
        assert!(item["score"].as_i64().expect("score") >= 600);
    }
    let v = api
        .get("/api/v1/submissions?since=2025-01-02&until=2025-01-02T05:00:00Z&limit=500")
        .await;
    assert_eq!(ids(&v), vec!["p028", "p027", "p026", "p025", "p024"]);
    let v = api.get("/api/v1/submissions?q=INVOICES%2012&limit=500").await;
    assert_eq!(ids(&v), vec!["p120", "p012"]);
}

async fn search_and_filters_match_injection_attempts_literally(engine: Engine) {
    let api = Api::on(engine);
    let before = api.count("SELECT count(*) FROM submissions");
    // Only the post whose title holds these characters matches; wildcards are not wildcards.
    for (q, want) in [
        ("100%25 of my_data's", vec!["q001"]),
        ("%25", vec!["q001"]),
        ("_", vec!["q001"]),
        ("%5C", vec!["q001"]),
        ("; DROP TABLE submissions; --", vec!["q001"]),
        ("'; DROP TABLE submissions; --", vec![]),
        ("' OR '1'='1", vec![]),
        ("%22export%22", vec!["q001"]),
    ] {
        let v = api
            .get(&format!(
                "/api/v1/submissions?limit=500&q={}",
                q.replace(' ', "%20").replace('\'', "%27").replace(';', "%3B")
            ))
            .await;
        assert_eq!(ids(&v), want, "q={q}");
    }
    for uri in [
        "/api/v1/submissions?subreddit=SaaS'%20OR%20'1'='1",
        "/api/v1/submissions?subreddit=x%22;%20DROP%20TABLE%20comments;--",
        "/api/v1/opportunities?subreddit=%27%29%20OR%201%3D1--",
        "/api/v1/opportunities?scorer_id=x%27%20OR%20%271%27%3D%271",
    ] {
        let v = api.get(uri).await;
        assert!(ids(&v).is_empty(), "{uri}: {v}");
    }
    let (s, code) = api.error("/api/v1/submissions/p001'%20OR%20'1'='1").await;
    assert_eq!((s, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    let (s, _) = api.error("/api/v1/runs/run-1'%20OR%20'1'='1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(api.count("SELECT count(*) FROM submissions"), before);
    assert_eq!(api.count("SELECT count(*) FROM comments"), 5);
}

async fn invalid_filters_are_400_with_a_code(engine: Engine) {
    let api = Api::on(engine);
    for uri in [
        "/api/v1/submissions?limit=0",
        "/api/v1/submissions?limit=501",
        "/api/v1/submissions?limit=-1",
        "/api/v1/submissions?limit=ten",
        "/api/v1/submissions?since=yesterday",
        "/api/v1/submissions?until=2025-13-01",
        "/api/v1/submissions?is_problem=maybe",
        "/api/v1/submissions?min_score=high",
        "/api/v1/submissions?cursor=not-a-cursor",
        "/api/v1/submissions?cursor=",
        "/api/v1/submissions?q=",
        "/api/v1/submissions?nope=1",
        "/api/v1/opportunities?min_score=101",
        "/api/v1/opportunities?min_score=NaN",
        "/api/v1/opportunities?cursor=%%%",
        "/api/v1/runs?status=weird",
        "/api/v1/submissions/UPPER",
    ] {
        let (s, code) = api.error(uri).await;
        assert_eq!(
            (s, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_parameter"),
            "{uri}"
        );
    }
    let long = "a".repeat(201);
    let (s, _) = api.error(&format!("/api/v1/submissions?q={long}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn unknown_ids_and_routes_are_404(engine: Engine) {
    let api = Api::on(engine);
    for uri in [
        "/api/v1/submissions/zzz999",
        "/api/v1/runs/no-such-run",
        "/api/v1/nothing",
        "/api/v2/submissions",
    ] {
        let (s, code) = api.error(uri).await;
        assert_eq!((s, code.as_str()), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
    }
    let (s, v) = api
        .call(
            "DELETE",
            "/api/v1/submissions",
            Some(api.token(Scope::Admin)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(v["error"]["code"], "method_not_allowed");
}

async fn submission_detail_has_the_comment_tree(engine: Engine) {
    let api = Api::on(engine);
    let v = api.get("/api/v1/submissions/t3_p003").await;
    assert_eq!(v["submission"]["id"], "p003");
    assert_eq!(v["comment_count"], 4);
    let top: Vec<&str> = v["comments"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(top, vec!["c1", "c4"]);
    assert_eq!(v["comments"][0]["replies"][0]["id"], "c2");
    assert_eq!(v["comments"][0]["replies"][0]["replies"][0]["body"], "deeper");
    let none = api.get("/api/v1/submissions/p001").await;
    assert_eq!(none["comments"], serde_json::json!([]));
}

async fn opportunities_are_ranked_filtered_and_paginated(engine: Engine) {
    let api = Api::on(engine);
    let v = api.get("/api/v1/opportunities?limit=500").await;
    let scores: Vec<f64> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["final_score"].as_f64().expect("score"))
        .collect();
    assert_eq!(
        scores.len() as i64,
        api.count("SELECT count(*) FROM opportunity_analysis WHERE status = 'scored'")
    );
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let top = &v["items"][0];
    let best = api.scalar(
        "SELECT post_id FROM opportunity_analysis WHERE status='scored' ORDER BY final_score DESC, post_id LIMIT 1",
    );
    assert_eq!(top["post_id"], best.as_str());
    assert_eq!(top["evidence"]["matched"][0], "struggle");
    // Evidence of a shape the sentences do not know is shown key by key.
    assert_eq!(top["reasons"][0]["dimension"], "matched", "{top}");
    assert_eq!(top["reasons"][0]["text"], "'struggle'");
    assert_eq!(top["core_functions"][1], "remind");
    assert!(top["title"].as_str().expect("joined title").contains("struggle"));
    let high = api.get("/api/v1/opportunities?min_score=85&subreddit=SAAS").await;
    for o in high["items"].as_array().expect("items") {
        assert!(o["final_score"].as_f64().expect("score") >= 85.0 && o["subreddit"] == "SaaS");
    }
    let mut all = Vec::new();
    let mut uri = "/api/v1/opportunities?limit=7".to_owned();
    loop {
        let p = api.get(&uri).await;
        all.extend(ids(&p));
        match p["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/opportunities?limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(all.len(), scores.len());
}

async fn subreddits_status_and_runs(engine: Engine) {
    let api = Api::on(engine);
    let v = api.get("/api/v1/subreddits").await;
    assert_eq!(v["items"][0]["name"], "SaaS");
    assert_eq!(v["items"][0]["submissions"], 61);
    assert_eq!(v["items"][1]["problem_submissions"], 20);
    let runs = api.get("/api/v1/runs").await;
    assert_eq!(ids(&runs), vec!["run-3", "run-2", "run-1"]);
    let failed = api.get("/api/v1/runs?status=failed").await;
    assert_eq!(ids(&failed), vec!["run-2"]);
    let one = api.get("/api/v1/runs/run-1").await;
    assert_eq!(one["api_calls"]["listing"], 12);
    assert_eq!(one["http_429"], 1);
    assert_eq!(one["started_at"], "2025-01-01T00:00:00.000Z");
    let st = api.get("/api/v1/status").await;
    assert_eq!(st["tables"]["submissions"], 121);
    assert_eq!(st["last_run"]["run_id"], "run-3");
    assert_eq!(st["loads"][0]["load_id"], "load-1");
    let page = api.get("/api/v1/runs?limit=2").await;
    let next = page["next_cursor"].as_str().expect("next");
    let rest = api.get(&format!("/api/v1/runs?limit=2&cursor={next}")).await;
    assert_eq!(ids(&rest), vec!["run-1"]);
}

async fn post_run_starts_in_background_and_can_be_followed(engine: Engine) {
    let api = Api::on(engine);
    let id = start_load(&api, "a.ndjson", "{}\n{}\n{}\n").await;
    let run = follow(&api, &id).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["rows"]["submissions"], 3);
    let listed = api.get("/api/v1/runs").await;
    assert_eq!(ids(&listed)[0], id);
    let bad = start_load(&api, "bad.ndjson", "FAIL\n").await;
    let run = follow(&api, &bad).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], "input says FAIL");
    for body in [
        r#"{"command":"load","files":["../h.duckdb"]}"#,
        r#"{"command":"load","files":["/etc/passwd"]}"#,
        r#"{"command":"load","files":[]}"#,
        r#"{"command":"load","files":["a.ndjson"],"table":"x; DROP"}"#,
        r#"{"command":"rm","files":["a.ndjson"]}"#,
        r#"{"command":"load","files":["a.ndjson"],"extra":1}"#,
        r#"{"command":"#,
    ] {
        let (s, v) = api
            .call("POST", "/api/v1/runs", Some(api.token(Scope::Write)), Some(body))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
}

async fn list_answers_are_reused_until_a_run_changes_the_data(engine: Engine) {
    let api = Api::on(engine);
    for uri in ["/api/v1/submissions?limit=5", "/api/v1/opportunities?limit=5"] {
        let (first, cache) = api.get_cached(uri).await;
        assert_eq!(cache, "miss", "{uri}");
        let (again, cache) = api.get_cached(uri).await;
        assert_eq!((&again, cache.as_str()), (&first, "hit"), "{uri}");
    }
    // Another query string is another answer.
    let (_, cache) = api.get_cached("/api/v1/submissions?limit=6").await;
    assert_eq!(cache, "miss");
    let gate = api.dir.path().join("gate");
    let line = serde_json::json!({"id": "z999", "wait_for": gate.display().to_string()});
    let run_id = start_load(&api, "new.ndjson", &format!("{line}\n")).await;
    // While the run works, answers are computed and reused again; its end makes them stale.
    let (during, _) = api.get_cached("/api/v1/submissions?limit=5").await;
    let (_, cache) = api.get_cached("/api/v1/submissions?limit=5").await;
    assert_eq!(cache, "hit");
    assert_ne!(ids(&during)[0], "z999");
    std::fs::write(&gate, "").expect("open the gate");
    let run = follow(&api, &run_id).await;
    assert_eq!(run["status"], "ok", "{run}");
    let (page, cache) = api.get_cached("/api/v1/submissions?limit=5").await;
    assert_eq!(cache, "miss");
    assert_eq!(ids(&page)[0], "z999", "the run's post is first: {page}");
    let (_, cache) = api.get_cached("/api/v1/submissions?limit=5").await;
    assert_eq!(cache, "hit");
}

/// Writes `text` as `inbox/<file>` and starts a load of it; returns the run id.
async fn start_load(api: &Api, file: &str, text: &str) -> String {
    std::fs::write(api.dir.path().join("inbox").join(file), text).expect("write");
    let body = format!(r#"{{"command":"load","files":["{file}"]}}"#);
    let (s, v) = api
        .call("POST", "/api/v1/runs", Some(api.token(Scope::Write)), Some(&body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["run_id"].as_str().expect("run id").to_owned()
}

async fn follow(api: &Api, id: &str) -> Value {
    for _ in 0..200 {
        let run = api.get(&format!("/api/v1/runs/{id}")).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} did not finish");
}

async fn cutover_set_and_rollback_are_audited(engine: Engine) {
    let api = Api::on(engine);
    let v = api.get("/api/v1/cutover").await;
    // No cutover set: everything is collected by harbor.
    assert_eq!(v["phase"], "off");
    assert_eq!(v["default_route"], "harbor");
    assert_eq!(v["harbor_share"], 1.0);
    let admin = api.token(Scope::Admin).to_owned();
    let (s, v) = api
        .call(
            "POST",
            "/api/v1/cutover",
            Some(&admin),
            Some(r#"{"action":"set","phase":"100%","reason":"parallel test passed"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["phase"], "100%");
    assert_eq!(v["harbor_share"], 1.0);
    let (_, v) = api
        .call(
            "POST",
            "/api/v1/cutover",
            Some(&admin),
            Some(r#"{"action":"set","subreddits":["SaaS"]}"#),
        )
        .await;
    let routes: Vec<(String, String)> = v["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["subreddit"].as_str().expect("s").to_owned(),
                r["route"].as_str().expect("r").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        vec![
            ("saas".into(), "harbor".into()),
            ("smallbusiness".into(), "legacy".into())
        ]
    );
    let (_, v) = api
        .call(
            "POST",
            "/api/v1/cutover",
            Some(&admin),
            Some(r#"{"action":"rollback","reason":"429 storm"}"#),
        )
        .await;
    assert_eq!(v["phase"], "manual_only");
    assert_eq!(v["default_route"], "legacy");
    assert_eq!(v["harbor_share"], 0.0);
    assert_eq!(v["audit"][0]["phase_from"], "list");
    assert_eq!(api.count("SELECT count(*) FROM _harbor_cutover_audit"), 3);
    assert_eq!(v["audit"][0]["action"], "rollback");
    assert!(
        v["audit"][0]["actor"]
            .as_str()
            .expect("actor")
            .starts_with("token:")
    );
    for body in [
        r#"{"action":"set"}"#,
        r#"{"action":"set","phase":"101%"}"#,
        r#"{"action":"set","subreddits":["no/such name"]}"#,
        r#"{"action":"explode"}"#,
    ] {
        let (s, _) = api
            .call("POST", "/api/v1/cutover", Some(&admin), Some(body))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    }
}

/// On Postgres other processes load while the server runs: a cached answer goes stale as soon as
/// their commit shows in `_harbor_loads`, well before the cache's TTL.
async fn loads_by_other_processes_make_cached_answers_stale(engine: Engine) {
    let api = Api::on(engine);
    let uri = "/api/v1/submissions?limit=3";
    let (first, _) = api.get_cached(uri).await;
    let (_, cache) = api.get_cached(uri).await;
    assert_eq!(cache, "hit");
    // What a `harbor load` in another process commits: its rows and its `_harbor_loads` row.
    api.scalar(
        "CREATE TABLE IF NOT EXISTS _harbor_loads (load_id TEXT NOT NULL, pipeline TEXT NOT NULL, \
         status TEXT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, rows BIGINT NOT NULL, \
         schema_version BIGINT NOT NULL, source TEXT); \
         INSERT INTO submissions (id, title, created_utc) VALUES ('zz_external', 'from another process', now() + interval '1 day'); \
         INSERT INTO _harbor_loads (load_id, pipeline, status, inserted_at, rows, schema_version) \
         VALUES ('external-1', 'shard_9', 'loaded', now(), 1, 1)",
    );
    tokio::time::sleep(harbor_server::db::EXTERNAL_CHECK + Duration::from_millis(50)).await;
    let (page, cache) = api.get_cached(uri).await;
    assert_eq!(cache, "miss", "{page}");
    assert_eq!(ids(&page)[0], "zz_external", "{page}");
    assert_ne!(page, first);
}

mod loads_by_other_processes_make_cached_answers_stale {
    use crate::harness::Engine;

    #[tokio::test]
    async fn postgres() {
        super::loads_by_other_processes_make_cached_answers_stale(Engine::Postgres).await
    }

    #[tokio::test]
    async fn pgbouncer() {
        super::loads_by_other_processes_make_cached_answers_stale(Engine::PgBouncer).await
    }
}

/// Keyset pages of the ranking: ties on the score are ordered by post and scorer, unscored rows
/// (NULL, ranked last) follow the scored ones, and walking the pages gives exactly the ranking.
async fn opportunity_pages_follow_ties_and_unscored_rows(engine: Engine) {
    let api = Api::on(engine);
    api.exec(
        "UPDATE opportunity_analysis SET final_score = 50 WHERE post_id IN ('p012', 'p015', 'p018', 'p021'); \
         UPDATE opportunity_analysis SET final_score = NULL WHERE post_id IN ('p024', 'p027', 'p030', 'p033', 'p036'); \
         INSERT INTO opportunity_analysis (post_id, scorer_id, final_score, status) \
           VALUES ('p012', 'heuristic-v2', 50, 'scored'), ('p015', 'heuristic-v0', 50, NULL), \
           ('p027', 'heuristic-v0', NULL, 'scored')",
    );
    let expected: Vec<String> = api
        .scalar(
            "SELECT string_agg(post_id || '/' || scorer_id, ',' ORDER BY final_score DESC NULLS LAST, post_id, scorer_id) \
             FROM opportunity_analysis WHERE status = 'scored' OR status IS NULL",
        )
        .split(',')
        .map(str::to_owned)
        .collect();
    assert!(expected.len() > 20, "{expected:?}");
    for limit in [1, 3, 4, 7] {
        let mut seen = Vec::new();
        let mut uri = format!("/api/v1/opportunities?limit={limit}");
        loop {
            let p = api.get(&uri).await;
            for o in p["items"].as_array().expect("items") {
                seen.push(format!(
                    "{}/{}",
                    o["post_id"].as_str().expect("post"),
                    o["scorer_id"].as_str().expect("scorer")
                ));
            }
            match p["next_cursor"].as_str() {
                Some(c) => uri = format!("/api/v1/opportunities?limit={limit}&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
    // A cursor names a place in the ranking, so a filter keeps applying on later pages.
    let first = api.get("/api/v1/opportunities?limit=2&min_score=50").await;
    let next = first["next_cursor"]
        .as_str()
        .expect("more than two at 50 or above");
    let rest = api
        .get(&format!(
            "/api/v1/opportunities?limit=500&min_score=50&cursor={next}"
        ))
        .await;
    for o in rest["items"].as_array().expect("items") {
        assert!(o["final_score"].as_f64().expect("scored") >= 50.0, "{o}");
    }
    for bad in ["eA", "NTA", "aW5mCnAwMDEKeA", "YWJjCnAwMDEKeA", "MQoKeA"] {
        let (status, code) = api.error(&format!("/api/v1/opportunities?cursor={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {code}");
    }
}
