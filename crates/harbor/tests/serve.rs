//! `harbor serve` and `harbor token` end to end: the real binary over a database that `harbor load`
//! filled from a real Reddit thread and synthetic posts, spoken to over HTTP on loopback.

mod common;

use std::time::{Duration, Instant};

use common::http::{Server, get_json, http};
use common::{Harbor, fixtures_dir, synthetic_submissions};
use serde_json::Value;

fn json(addr: &str, path: &str, token: &str) -> Value {
    get_json(addr, path, token)
}

/// A database with a real thread (submission + full comment tree), synthetic posts, and the
/// scorer's and run traces' tables in their contract shapes.
fn seeded() -> Harbor {
    let h = Harbor::new();
    let posts = h.write("posts.ndjson", &synthetic_submissions(0, 300));
    let dir = fixtures_dir().join("api/asyncpraw/thread_n49rw_full_expansion");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    let mut args = vec!["load".to_owned(), posts.display().to_string()];
    for (i, p) in entries.iter().enumerate() {
        let v: Value = serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
        args.push(
            h.write(&format!("n49rw_{i}.json"), &v["body"].to_string())
                .display()
                .to_string(),
        );
    }
    let out = h.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = duckdb::Connection::open(h.db()).expect("open");
    conn.execute_batch(harbor_server::seed::SEED_SQL).expect("seed");
    h
}

fn token(h: &Harbor, scope: &str) -> String {
    let out = h.run(&["token", "create", "--scope", scope, "--name", scope]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

fn serve(h: &Harbor) -> Server {
    serve_env(h, &[])
}

fn serve_env(h: &Harbor, env: &[(&str, &str)]) -> Server {
    Server::start(h, env)
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let h = Harbor::new();
    let read = token(&h, "read");
    assert!(read.starts_with("hbr_"));
    let file = std::fs::read_to_string(h.path().join(".harbor/tokens.json")).expect("token file");
    assert!(!file.contains(&read), "the token is stored only as a hash");
    let list = h.run(&["token", "list", "--json"]);
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    let id = list[0]["id"].as_str().expect("id").to_owned();
    assert!(!String::from_utf8_lossy(&h.run(&["token", "list"]).stdout).contains(&read));
    let srv = serve(&h);
    assert_eq!(http(&srv.addr, "GET", "/api/v1/status", Some(&read), None).0, 200);
    let out = h.run(&["token", "revoke", &id]);
    assert!(out.status.success());
    assert_eq!(http(&srv.addr, "GET", "/api/v1/status", Some(&read), None).0, 401);
    let out = h.run(&["token", "revoke", "nope"]);
    assert_eq!(out.status.code(), Some(2), "unknown token is a user error");
    let out = h.run(&["token", "create", "--scope", "root"]);
    assert!(!out.status.success());
}

#[test]
fn serves_loaded_data_and_runs_loads_in_the_background() {
    let h = seeded();
    let read = token(&h, "read");
    let write = token(&h, "write");
    std::fs::create_dir_all(h.path().join(".harbor/inbox")).expect("inbox");
    std::fs::write(
        h.path().join(".harbor/inbox/more.ndjson"),
        synthetic_submissions(300, 50),
    )
    .expect("write");
    let srv = serve(&h);
    let a = srv.addr.as_str();
    assert_eq!(http(a, "GET", "/healthz", None, None).0, 200);
    assert_eq!(http(a, "GET", "/api/v1/submissions", None, None).0, 401);
    let thread = json(a, "/api/v1/submissions/n49rw", &read);
    assert_eq!(thread["submission"]["id"], "n49rw");
    let total = thread["comment_count"].as_u64().expect("count");
    assert!(total > 100, "the full n49rw tree: {total}");
    assert!(
        thread["comments"].as_array().expect("top").len() < total as usize,
        "replies are nested"
    );
    let subs = json(a, "/api/v1/subreddits", &read);
    assert!(
        subs["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|s| s["name"] == "smallbusiness")
    );
    let page = json(a, "/api/v1/submissions?subreddit=rust&limit=10&q=invoices", &read);
    assert_eq!(page["items"].as_array().expect("items").len(), 10);
    let opp = json(a, "/api/v1/opportunities?limit=3", &read);
    assert_eq!(opp["items"].as_array().expect("items").len(), 3);
    assert!(opp["items"][0]["title"].is_string());
    // A list read before the run (and kept by the response cache) shows the run's posts after it.
    let python = "/api/v1/submissions?subreddit=python&limit=500";
    let has_new = |page: &Value| {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|s| s["id"] == "p0000349")
    };
    assert!(!has_new(&json(a, python, &read)));
    let (s, body) = http(
        a,
        "POST",
        "/api/v1/runs",
        Some(&read),
        Some(r#"{"command":"load","files":["more.ndjson"]}"#),
    );
    assert_eq!(s, 403, "{body}");
    let (s, body) = http(
        a,
        "POST",
        "/api/v1/runs",
        Some(&write),
        Some(r#"{"command":"load","files":["more.ndjson"]}"#),
    );
    assert_eq!(s, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["run_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let run = json(a, &format!("/api/v1/runs/{id}"), &read);
        if run["status"] != "running" {
            break run;
        }
        assert!(Instant::now() < deadline, "run did not finish: {run}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["rows"]["submissions"], 50);
    let new = json(a, "/api/v1/submissions/p0000349", &read);
    assert_eq!(new["submission"]["subreddit"], "python");
    assert!(
        has_new(&json(a, python, &read)),
        "the list is not stale after the run"
    );
    let listed = json(a, "/api/v1/runs", &read);
    let same: Vec<&Value> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["run_id"] == id.as_str())
        .collect();
    assert_eq!(same.len(), 1, "one entry per run: {listed}");
    let (s, metrics) = http(a, "GET", "/metrics", Some(&read), None);
    assert_eq!(s, 200);
    assert!(metrics.contains("harbor_server_responses_total"));
    // The run metrics of `harbor metrics` (harbor_ops::metrics::render_metrics), from the run traces.
    assert!(metrics.contains("# TYPE harbor_runs_total counter"), "{metrics}");
    assert!(
        metrics.contains(r#"harbor_runs_total{pipeline="reddit",command="collect",status="failed"}"#),
        "{metrics}"
    );
    // The API's run is traced in `_harbor_runs` under the id the API answered with.
    drop(srv);
    let conn = duckdb::Connection::open(h.db()).expect("open");
    let traced: (String, String, i64) = conn
        .query_row(
            "SELECT command, status, CAST(json_extract(rows, '$.submissions') AS BIGINT) \
             FROM _harbor_runs WHERE run_id = ?",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the API run has a trace row");
    assert_eq!(traced, ("load".to_owned(), "ok".to_owned(), 50));
}

#[test]
fn runs_the_configured_schedules_in_the_server_process() {
    let h = seeded();
    let read = token(&h, "read");
    std::fs::create_dir_all(h.path().join("inbox")).expect("inbox");
    std::fs::write(h.path().join("inbox/tick.ndjson"), synthetic_submissions(1000, 7)).expect("write");
    // Every second: a load of a file (idempotent after the first run) and a bad command that fails
    // without stopping the scheduler or the server.
    h.write(
        "harbor.toml",
        r#"
[[schedules]]
name = "tick"
cron = "* * * * * *"
args = ["load", "inbox/tick.ndjson"]

[[schedules]]
name = "broken"
cron = "* * * * * *"
args = ["load", "inbox/missing.ndjson"]
missed = "skip"
"#,
    );
    let srv = serve(&h);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http(
            &srv.addr,
            "GET",
            "/api/v1/submissions/p0001006",
            Some(&read),
            None,
        );
        if status == 200 {
            assert!(body.contains("p0001006"), "{body}");
            break;
        }
        assert_eq!(status, 404, "{body}");
        assert!(Instant::now() < deadline, "the scheduled load did not run");
        std::thread::sleep(Duration::from_millis(200));
    }
    let last = std::fs::read_to_string(h.path().join(".harbor/schedules/tick.last")).expect("last start");
    assert!(last.starts_with("20"), "{last}");
    // The server keeps answering while schedules keep firing, and the failing schedule runs too.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(http(&srv.addr, "GET", "/api/v1/status", Some(&read), None).0, 200);
    assert!(h.path().join(".harbor/schedules/broken.last").exists());
    drop(srv);
    // A schedule that would start another server is refused before listening.
    h.write(
        "harbor.toml",
        "[[schedules]]\nname = \"loop\"\ncron = \"* * * * *\"\nargs = [\"serve\"]\n",
    );
    let out = h.run(&["serve", "--bind", "127.0.0.1:0"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stops_gracefully_on_sigterm_and_releases_the_database() {
    let h = seeded();
    let read = token(&h, "read");
    let mut srv = serve(&h);
    assert_eq!(http(&srv.addr, "GET", "/api/v1/status", Some(&read), None).0, 200);
    let pid = srv.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = srv.child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The file lock is released: another process can open the database.
    let out = h.run(&["status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Follows a run started through the API until it ends.
fn finished(a: &str, id: &str, read: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = json(a, &format!("/api/v1/runs/{id}"), read);
        if run["status"] != "running" {
            return run;
        }
        assert!(Instant::now() < deadline, "run did not finish: {run}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serves_a_postgres_destination_directly_and_through_a_transaction_pooler() {
    use harbor_testkit::postgres::PgCluster;
    let pg = PgCluster::shared();
    let url = pg.create_database("serve").expect("database");
    let db = common::pg::db_name(&url);
    let dest = format!("{url}&schema=reddit");
    let h = Harbor::new();
    let env = [("HARBOR_DESTINATION", dest.as_str())];
    let posts = h.write("posts.ndjson", &synthetic_submissions(0, 120));
    let out = h.run_env(&["load", posts.to_str().unwrap_or_default()], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = token(&h, "read");
    let write = token(&h, "write");
    std::fs::create_dir_all(h.path().join(".harbor/inbox")).expect("inbox");
    std::fs::write(
        h.path().join(".harbor/inbox/more.ndjson"),
        synthetic_submissions(120, 30),
    )
    .expect("write");
    let bouncer = pg.pgbouncer().expect("pgbouncer");
    let pooled = format!("{}&schema=reddit&pooler=transaction", bouncer.url(&db));
    for (i, url) in [dest.clone(), pooled].iter().enumerate() {
        let srv = serve_env(&h, &[("HARBOR_DESTINATION", url.as_str())]);
        let a = srv.addr.as_str();
        let status = json(a, "/api/v1/status", &read);
        assert_eq!(status["tables"]["submissions"], 120 + 30 * i as u64, "{status}");
        assert!(
            !status["destination"]
                .as_str()
                .unwrap_or_default()
                .contains(PgCluster::PASSWORD),
            "{status}"
        );
        let mut seen = 0;
        let mut uri = "/api/v1/submissions?limit=50".to_owned();
        loop {
            let page = json(a, &uri, &read);
            seen += page["items"].as_array().expect("items").len();
            match page["next_cursor"].as_str() {
                Some(c) => uri = format!("/api/v1/submissions?limit=50&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, 120 + 30 * i);
        assert_eq!(http(a, "GET", "/api/v1/opportunities", Some(&read), None).0, 200);
        let (s, metrics) = http(a, "GET", "/metrics", Some(&read), None);
        assert_eq!(s, 200);
        assert!(metrics.contains("# TYPE harbor_runs_total counter"), "{metrics}");
        if i == 0 {
            // A run started through the API loads into the same Postgres schema, traced there.
            let (s, body) = http(
                a,
                "POST",
                "/api/v1/runs",
                Some(&write),
                Some(r#"{"command":"load","files":["more.ndjson"]}"#),
            );
            assert_eq!(s, 202, "{body}");
            let id = serde_json::from_str::<Value>(&body).expect("json")["run_id"]
                .as_str()
                .expect("id")
                .to_owned();
            let run = finished(a, &id, &read);
            assert_eq!(run["status"], "ok", "{run}");
            assert_eq!(run["rows"]["submissions"], 30);
            assert_eq!(
                json(a, "/api/v1/submissions/p0000149", &read)["submission"]["id"],
                "p0000149"
            );
            let traced = pg
                .psql(
                    &db,
                    &format!("SELECT status FROM reddit._harbor_runs WHERE run_id = '{id}'"),
                )
                .expect("trace");
            assert_eq!(traced.trim(), "ok");
        }
    }
}

#[test]
fn serve_refuses_a_parquet_directory_with_a_hint() {
    let h = Harbor::new();
    let out = h.run_env(
        &["serve", "--bind", "127.0.0.1:0"],
        &[("HARBOR_DESTINATION", "parquet:///tmp/nowhere-lake")],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Parquet") && err.contains("hint:"), "{err}");
}

#[test]
fn the_api_and_harbor_cutover_share_one_cutover() {
    let h = seeded();
    let out = h.run(&[
        "cutover",
        "set",
        "50%",
        "--subreddits",
        "rust,golang,python,SaaS",
        "--by",
        "cli",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (read, admin) = (token(&h, "read"), token(&h, "admin"));
    {
        let srv = serve(&h);
        let v = json(&srv.addr, "/api/v1/cutover", &read);
        assert_eq!(v["phase"], "50%", "{v}");
        assert_eq!(v["routes"].as_array().map(Vec::len), Some(4), "{v}");
        assert_eq!(v["harbor_share"], 0.5, "{v}");
        assert_eq!(v["audit"][0]["actor"], "cli", "{v}");
        let (code, body) = http(
            &srv.addr,
            "POST",
            "/api/v1/cutover",
            Some(&admin),
            Some(r#"{"action":"rollback","reason":"error rate"}"#),
        );
        assert_eq!(code, 200, "{body}");
    }
    let out = h.run(&["cutover", "status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(st["phase"], "manual_only", "{st}");
    assert_eq!(st["audit"][0]["action"], "rollback", "{st}");
    assert_eq!(st["audit"][0]["why"], "error rate", "{st}");
    assert!(
        st["audit"][0]["who"]
            .as_str()
            .is_some_and(|w| w.starts_with("token:")),
        "{st}"
    );
}
