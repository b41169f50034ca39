//! Production's shape on Postgres: `harbor serve` under read load while three `harbor run` shards
//! (a pipeline each, as the Airflow DAG runs them) and one `harbor load` write at once, and one
//! shard is killed with SIGKILL inside its load transaction.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::http::{Server, get_json, http};
use common::pg::{count, db_name};
use common::reddit::{Fake, command, corpus};
use common::{Harbor, ok, synthetic_submissions, wait_for_pause};
use harbor_testkit::postgres::PgCluster;

const SHARDS: [(&str, &str); 3] = [
    ("shard_1", "alpha,beta"),
    ("shard_2", "gamma,delta"),
    ("shard_3", "eps,zeta"),
];
const POSTS: usize = 25;

#[test]
fn shards_a_load_and_the_api_at_once_on_postgres_lose_nothing_and_show_no_partial_package() {
    let pg = PgCluster::shared();
    let url = pg.create_database("production").expect("database");
    let db = db_name(&url);
    let dest = format!("{url}&schema=app");
    let fake = Fake::start(corpus(&["alpha", "beta", "gamma", "delta", "eps", "zeta"], POSTS));
    let h = Harbor::new();
    let env = [("HARBOR_DESTINATION", dest.as_str())];
    let as_of = fake.as_of();
    let shard = |name: &str, subs: &str, extra: &[(&str, &str)]| {
        let mut all = vec![("HARBOR_DESTINATION", dest.as_str()), ("HARBOR_PIPELINE", name)];
        all.extend_from_slice(extra);
        command(&h, &fake, &["run", "--subreddits", subs, "--as-of", &as_of], &all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn run")
    };

    // Something to serve from the start, and a token.
    let first = h.write("first.ndjson", &synthetic_submissions(0, 40));
    ok(&h.run_env(
        &["load", &first.to_string_lossy(), "--table", "submissions"],
        &env,
    ));
    let token = ok(&h.run_env(&["token", "create", "--scope", "read", "--name", "web"], &env))
        .trim()
        .to_owned();
    let server = Server::start(&h, &env);

    // Readers: a bounded loop of varied (uncached) requests until the writers are done.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (addr, token, stop) = (server.addr.clone(), token.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut codes: BTreeMap<u16, u64> = BTreeMap::new();
            let subs = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "nosuch"];
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) && i < 100_000 {
                let path = match i % 4 {
                    0 => format!(
                        "/api/v1/submissions?limit=20&subreddit={}&min_score={}",
                        subs[i % 7],
                        i % 13
                    ),
                    1 => format!("/api/v1/opportunities?limit=10&min_score=0.{}", i % 9),
                    2 => "/api/v1/status".to_owned(),
                    _ => format!("/api/v1/submissions?limit={}&q=the", 1 + i % 50),
                };
                let (code, _) = http(&addr, "GET", &path, Some(&token), None);
                *codes.entry(code).or_default() += 1;
                i += 1;
            }
            codes
        })
    };

    // Shard 1 runs first and brings the tables and columns of Reddit's listings. (A load that adds
    // columns holds Postgres' table lock until it commits, as any ALTER TABLE does, so a load stopped
    // forever while adding columns would stop everyone; a load into complete tables blocks no one.)
    let (name1, subs1) = SHARDS[0];
    ok(&shard(name1, subs1, &[]).wait_with_output().expect("shard 1"));

    // Shard 3 stops inside its load transaction (rows written, not committed).
    let (name3, subs3) = SHARDS[2];
    let mut paused = shard(name3, subs3, &[("HARBOR_TEST_PAUSE_AT", "commit")]);
    wait_for_pause(&mut paused, "commit");

    // Meanwhile shard 2, shard 1 again (new posts: incremental) and a load of other posts, all at once.
    fake.fake.add_posts("alpha", 5);
    let more = h.write("more.ndjson", &synthetic_submissions(40, 60));
    let loader = h
        .command(&["load", &more.to_string_lossy(), "--table", "submissions"], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn load");
    let runs: Vec<_> = SHARDS[..2].iter().map(|(n, s)| shard(n, s, &[])).collect();
    for child in runs.into_iter().chain([loader]) {
        ok(&child.wait_with_output().expect("wait"));
    }

    // The paused shard's rows are invisible to every reader, in the database and through the API.
    let uncommitted = "SELECT count(*) FROM app.submissions WHERE subreddit IN ('eps', 'zeta')";
    assert_eq!(count(pg, &db, uncommitted), 0);
    let v = get_json(&server.addr, "/api/v1/submissions?subreddit=eps&limit=5", &token);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");

    // SIGKILL inside the transaction: Postgres rolls it back; the next run of the shard loads it all.
    paused.kill().expect("kill -9");
    let _ = paused.wait();
    assert_eq!(count(pg, &db, uncommitted), 0);
    ok(&shard(name3, subs3, &[]).wait_with_output().expect("rerun"));

    let expected = (6 * POSTS + 5 + 100) as i64;
    assert_eq!(count(pg, &db, "SELECT count(*) FROM app.submissions"), expected);
    assert_eq!(
        count(pg, &db, "SELECT count(DISTINCT id) FROM app.submissions"),
        expected,
        "duplicate ids"
    );
    assert_eq!(
        count(
            pg,
            &db,
            "SELECT count(*) FROM (SELECT id FROM app.comments GROUP BY id HAVING count(*) > 1) d"
        ),
        0,
        "duplicate comments"
    );

    // Every committed row is visible through the API within a few seconds (other processes' loads).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = get_json(&server.addr, "/api/v1/status", &token);
        if status["tables"]["submissions"] == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API does not show the new rows: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/submissions?limit=100&cursor={c}"),
            None => "/api/v1/submissions?limit=100".to_owned(),
        };
        let page = get_json(&server.addr, &path, &token);
        for it in page["items"].as_array().expect("items") {
            assert!(
                seen.insert(it["id"].as_str().expect("id").to_owned()),
                "repeated {it}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, expected);

    stop.store(true, Ordering::SeqCst);
    let codes = reader.join().expect("reader");
    let total: u64 = codes.values().sum();
    assert!(total >= 20, "the readers ran: {codes:?}");
    assert_eq!(
        codes.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "every request answered 200: {codes:?}"
    );
}
