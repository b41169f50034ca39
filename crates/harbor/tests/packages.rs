//! Packages belong to their destination; a package that fails every time is set aside after N
//! attempts and does not stop later runs; `harbor packages list|show|retry|drop`; a Postgres restart
//! in the middle of a load; true messages and exit codes for corrupt and rejected input.

#[allow(unused_imports)]
mod common;

use std::process::Output;

use common::{Harbor, ok, synthetic_submissions};
use harbor_testkit::postgres::PgCluster;
use serde_json::Value;

fn db_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

fn count(pg: &PgCluster, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure: {}", stderr(out));
    let e = stderr(out);
    assert!(!e.contains(PgCluster::PASSWORD), "the password is printed: {e}");
    e
}

fn packages(h: &Harbor) -> Vec<Value> {
    let out = h.run(&["packages", "list", "--json"]);
    serde_json::from_str(&ok(&out)).expect("packages json")
}

#[test]
fn a_poison_package_is_set_aside_after_three_tries_never_crosses_destinations_and_can_be_retried_or_dropped()
{
    let pg = PgCluster::shared();
    let url = pg.create_database("poison").expect("database");
    let db = db_name(&url);
    let h = Harbor::new();
    let pgh = |args: &[&str]| h.run_env(args, &[("HARBOR_DESTINATION", url.as_str())]);
    let a = h.write("a.ndjson", &synthetic_submissions(0, 5));
    let b = h.write("b.ndjson", &synthetic_submissions(5, 5));
    let c = h.write("c.ndjson", &synthetic_submissions(10, 5));
    let d = h.write("d.ndjson", &synthetic_submissions(20, 3));
    let (a, b, c, d) = (
        a.to_str().expect("utf-8 path"),
        b.to_str().expect("utf-8 path"),
        c.to_str().expect("utf-8 path"),
        d.to_str().expect("utf-8 path"),
    );
    ok(&pgh(&["load", a, "-t", "submissions"]));
    // A constraint added by hand that the rows of b violate: every load of b fails the same way.
    pg.psql(
        &db,
        "ALTER TABLE submissions ADD CONSTRAINT no_b CHECK (id NOT IN ('p0000005', 'p0000007')) NOT VALID",
    )
    .expect("constraint");

    // Attempt 1: the load of b fails; its package stays pending and names its destination.
    let out = pgh(&["load", b, "-t", "submissions"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = failed(&out);
    assert!(e.contains("attempt 1 of 3"), "{e}");
    assert_eq!(
        e.matches("no_b").count(),
        1,
        "the error chain is printed once: {e}"
    );
    let list = packages(&h);
    assert_eq!(list.len(), 1, "{list:?}");
    let poison = list[0]["load_id"].as_str().expect("a string").to_owned();
    assert_eq!(list[0]["state"], "pending");
    assert_eq!(list[0]["attempts"], 1);
    let tables = list[0]["tables"].as_array().expect("an array");
    assert!(
        tables
            .iter()
            .any(|t| t["name"] == "submissions" && t["rows"] == 5),
        "{tables:?}"
    );
    let made_for = list[0]["destination"].as_str().expect("a string").to_owned();
    assert!(
        made_for.starts_with("postgres://127.0.0.1:") && made_for.ends_with(&format!("/{db}?schema=public"))
    );
    assert!(
        !made_for.contains("postgres@"),
        "no user or password in the identity: {made_for}"
    );

    // A run against another destination (DuckDB) leaves the Postgres package alone and says so.
    let out = h.run(&["load", d, "-t", "submissions"]);
    let note = stderr(&out);
    ok(&out);
    assert!(
        note.contains(&format!("left alone: package {poison} was made for {made_for}")),
        "{note}"
    );
    assert_eq!(h.count("submissions"), 3, "only d is in DuckDB");
    assert_eq!(packages(&h)[0]["attempts"], 1, "not tried against DuckDB");

    // Attempt 2 (recovery in the next Postgres run) stops that run; attempt 3 sets it aside and the
    // run goes on with c.
    let e = failed(&pgh(&["load", c, "-t", "submissions"]));
    assert!(e.contains("attempt 2 of 3"), "{e}");
    assert_eq!(count(pg, &db, "SELECT count(*) FROM submissions"), 5);
    let out = pgh(&["load", c, "-t", "submissions"]);
    let note = stderr(&out);
    ok(&out);
    assert!(
        note.contains(&format!(
            "failed package {poison} (set aside now after 3 attempts)"
        )),
        "{note}"
    );
    assert_eq!(count(pg, &db, "SELECT count(*) FROM submissions"), 10);
    let list = packages(&h);
    assert_eq!(
        (list.len(), &list[0]["state"]),
        (1, &Value::from("failed")),
        "{list:?}"
    );
    assert!(list[0]["error"].as_str().expect("a string").contains("no_b"));

    // Later runs go on and report it: summary, status, _harbor_runs.
    let out = pgh(&["load", a, "-t", "submissions", "--json"]);
    assert!(stderr(&out).contains(&format!("failed package {poison}")));
    let summary: Value = serde_json::from_str(&ok(&out)).expect("summary json");
    assert_eq!(summary["packages_failed"][0]["load_id"], poison.as_str());
    let status: Value = serde_json::from_str(&ok(&pgh(&["status", "--json"]))).expect("status json");
    assert_eq!(status["packages"]["failed"], 1);
    assert_eq!(status["packages"]["failed_ids"][0], poison.as_str());
    assert!(ok(&pgh(&["status"])).contains("packages: 0 pending, 1 failed"));
    assert!(
        count(
            pg,
            &db,
            &format!(
                "SELECT count(*) FROM _harbor_runs WHERE details::text LIKE '%packages_set_aside%{poison}%'"
            )
        ) == 1
    );

    // So do the other commands that open the pipeline, on both sides.
    let out = pgh(&["score"]);
    let note = stderr(&out);
    ok(&out);
    assert!(note.contains(&format!("failed package {poison}")), "{note}");
    let out = h.run(&["score"]);
    let note = stderr(&out);
    ok(&out);
    assert!(note.contains(&format!("failed package {poison}")), "{note}");

    // show names tables, rows and every attempt.
    let show = ok(&h.run(&["packages", "show", &poison]));
    assert!(
        show.contains("submissions") && show.contains("3 counted toward the limit"),
        "{show}"
    );

    // retry while the constraint is still there: fails again, counted from the retry on.
    let e = failed(&pgh(&["packages", "retry", &poison]));
    assert!(e.contains("attempt 1 of 3"), "{e}");
    // retry into DuckDB is refused: the package is not for it.
    let e = failed(&h.run(&["packages", "retry", &poison]));
    assert!(e.contains(&format!("was made for {made_for}")), "{e}");
    assert_eq!(h.count("submissions"), 3);
    // Fixed: retry loads it exactly once.
    pg.psql(&db, "ALTER TABLE submissions DROP CONSTRAINT no_b")
        .expect("psql");
    ok(&pgh(&["packages", "retry", &poison]));
    assert_eq!(count(pg, &db, "SELECT count(*) FROM submissions"), 15);
    assert_eq!(count(pg, &db, "SELECT count(DISTINCT id) FROM submissions"), 15);
    assert_eq!(
        count(
            pg,
            &db,
            &format!("SELECT count(*) FROM _harbor_loads WHERE load_id = '{poison}'")
        ),
        1
    );
    assert!(packages(&h).is_empty());
    failed(&pgh(&["packages", "retry", &poison]));

    // drop: asks (refuses without a terminal unless --yes), then deletes; the file loads again.
    pg.psql(
        &db,
        "ALTER TABLE submissions ADD CONSTRAINT no_e CHECK (id <> 'p0000031') NOT VALID",
    )
    .expect("psql");
    let e_file = h.write("e.ndjson", &synthetic_submissions(30, 2));
    let e_file = e_file.to_str().expect("utf-8 path");
    failed(&pgh(&["load", e_file, "-t", "submissions"]));
    let id = packages(&h)[0]["load_id"].as_str().expect("a string").to_owned();
    let e = failed(&h.run(&["packages", "drop", &id]));
    assert!(e.contains("--yes"), "{e}");
    assert_eq!(packages(&h).len(), 1);
    ok(&h.run(&["packages", "drop", &id, "--yes"]));
    assert!(packages(&h).is_empty());
    pg.psql(&db, "ALTER TABLE submissions DROP CONSTRAINT no_e")
        .expect("psql");
    ok(&pgh(&["load", e_file, "-t", "submissions"]));
    assert_eq!(count(pg, &db, "SELECT count(*) FROM submissions"), 17);
}

#[test]
fn a_postgres_restart_in_the_middle_of_a_load_loses_and_duplicates_nothing() {
    let pg = PgCluster::start().expect("own cluster");
    // The destination retries the load from its package.
    assert!(restart_during_copy(&pg, ""), "the default load retries a restart");
    // No retry in the destination: the run fails cleanly and the next run loads the package.
    assert!(
        !restart_during_copy(&pg, "&load_attempts=1"),
        "load_attempts=1 fails on a restart"
    );
}

/// Loads 60,000 submissions into a fresh database of `pg` (URL parameters `params`), restarts the
/// server while a COPY runs and checks rows = distinct ids = input afterwards. Returns whether the
/// interrupted run itself succeeded.
fn restart_during_copy(pg: &PgCluster, params: &str) -> bool {
    let url = pg.create_database("restart").expect("database") + params;
    let db = db_name(&url);
    let h = Harbor::new();
    let n = 60_000;
    let input = h.write("big.ndjson", &synthetic_submissions(0, n));
    let input = input.to_str().expect("utf-8 path");
    let mut child = h
        .command(
            &["load", input, "-t", "submissions"],
            &[("HARBOR_DESTINATION", url.as_str())],
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Restart once the load is writing to Postgres (a COPY is running), while harbor still runs.
    let started = std::time::Instant::now();
    let mut restarted = false;
    while started.elapsed() < std::time::Duration::from_secs(120) {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        let copying = pg
            .psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY%'",
            )
            .map(|s| s.trim() != "0")
            .unwrap_or(false);
        if copying {
            pg.restart_fast().expect("pg_ctl restart -m fast");
            restarted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        restarted,
        "the load ended before a COPY was seen: {}",
        stderr(&out)
    );
    let e = stderr(&out);
    assert!(!e.contains("panicked"), "{e}");
    assert!(!e.contains(PgCluster::PASSWORD), "the password is printed: {e}");
    if out.status.success() {
        eprintln!("the load survived the restart (retried): {e}");
    } else {
        // Failed cleanly: a transient error, not counted against the package, which stays pending
        // and is loaded by the next run.
        eprintln!("the load failed on the restart: {e}");
        assert!(e.contains("transient error (not counted"), "{e}");
        assert_eq!(out.status.code(), Some(1), "an outage, not the user's error: {e}");
        let list = packages(&h);
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(
            (&list[0]["state"], &list[0]["attempts"]),
            (&Value::from("pending"), &Value::from(0))
        );
        ok(&h.run_env(
            &["load", input, "-t", "submissions"],
            &[("HARBOR_DESTINATION", url.as_str())],
        ));
    }
    // Once more: already loaded, nothing happens.
    ok(&h.run_env(
        &["load", input, "-t", "submissions"],
        &[("HARBOR_DESTINATION", url.as_str())],
    ));
    assert_eq!(
        count(
            pg,
            &db,
            "SELECT count(*) FROM _harbor_runs WHERE status = 'running' OR error LIKE 'interrupted%'"
        ),
        0,
        "the run that outlived the restart completed its own trace (not reaped as interrupted)"
    );
    let rows = count(pg, &db, "SELECT count(*) FROM submissions");
    let distinct = count(pg, &db, "SELECT count(DISTINCT id) FROM submissions");
    assert_eq!((rows, distinct), (n as i64, n as i64));
    assert!(packages(&h).is_empty());
    out.status.success()
}

#[test]
fn a_truncated_zst_says_nothing_was_loaded_and_offers_no_flag_load_lacks() {
    let h = Harbor::new();
    let plain = h.write("s.ndjson", &synthetic_submissions(0, 3000));
    let zst = h.path().join("s.ndjson.zst");
    let st = std::process::Command::new("zstd")
        .args(["-q", "-f", "-o"])
        .arg(&zst)
        .arg(&plain)
        .status()
        .expect("zstd");
    assert!(st.success());
    let bytes = std::fs::read(&zst).expect("read zst");
    let cut = h.path().join("cut.zst");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write cut zst");
    let out = h.run(&["load", cut.to_str().expect("utf-8 path"), "-t", "submissions"]);
    let e = failed(&out);
    assert!(e.contains("corrupt"), "{e}");
    assert!(e.contains("nothing of this run was loaded"), "{e}");
    assert!(
        !e.contains("everything before the corrupt part was loaded"),
        "{e}"
    );
    assert!(
        !e.contains("pass --skip-corrupt"),
        "load has no --skip-corrupt: {e}"
    );
    let help = ok(&h.run(&["load", "--help"]));
    assert!(!help.contains("--skip-corrupt"));
    // Truly nothing: no table was created.
    let tables: i64 =
        h.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'submissions'");
    assert_eq!(tables, 0);
}

#[test]
fn rejects_over_the_limit_exit_3_load_nothing_and_all_rejected_fails_by_default() {
    let h = Harbor::new();
    // Random bytes: every line is rejected.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let junk: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let junk_path = h.path().join("junk.ndjson");
    std::fs::write(&junk_path, &junk).expect("write junk");
    let junk_path = junk_path.to_str().expect("utf-8 path");
    for _ in 0..2 {
        // Refused every time: the file is not recorded as loaded.
        let out = h.run(&["load", junk_path, "-t", "t"]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(
            e.contains("records were rejected (by default a load fails when every record is rejected); nothing was loaded"),
            "{e}"
        );
        assert!(e.contains("the rejected records are in "), "{e}");
    }
    let tables: i64 = h.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 't'");
    assert_eq!(tables, 0, "nothing of the refused load is in the database");
    assert!(packages(&h).is_empty(), "the refused package is discarded");

    // Mixed: 8 good, 2 bad lines.
    let mut text = synthetic_submissions(0, 8);
    text.push_str("{not json\n[1,2\n");
    let mixed = h.write("mixed.ndjson", &text);
    let mixed = mixed.to_str().expect("utf-8 path");
    let load = |limit: &str| {
        let mut args = vec!["load", mixed, "-t", "submissions", "--force"];
        if !limit.is_empty() {
            args.extend(["--max-rejects", limit]);
        }
        h.run(&args)
    };
    // 10% allows 1 of 10: refused, nothing loaded.
    let out = load("10%");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 10 records were rejected (--max-rejects 10%); nothing was loaded"),
        "{}",
        stderr(&out)
    );
    assert_eq!(h.count("submissions"), 0);
    assert_eq!(load("1").status.code(), Some(3));
    assert_eq!(h.count("submissions"), 0);
    // The default passes (not everything was rejected), and so does a limit of 2.
    ok(&load(""));
    assert_eq!(h.count("submissions"), 8);
    ok(&load("2"));
    ok(&load("20%"));
    let out = h.run(&["load", mixed, "--max-rejects", "lots"]);
    assert_eq!(out.status.code(), Some(2), "a bad value is a usage error");
    let help = ok(&h.run(&["load", "--help"]));
    assert!(
        help.contains("--max-rejects") && help.contains("code 3"),
        "{help}"
    );
}

#[test]
fn a_poison_package_on_duckdb_prints_its_chain_once_and_stops_blocking_after_three_tries() {
    let h = Harbor::new();
    let a = h.write("a.ndjson", &synthetic_submissions(0, 3));
    let b = h.write("b.ndjson", &synthetic_submissions(3, 3));
    let other = h.write("o.ndjson", "{\"event_id\": 1, \"what\": \"x\"}\n");
    let (a, b, other) = (
        a.to_str().expect("utf-8 path"),
        b.to_str().expect("utf-8 path"),
        other.to_str().expect("utf-8 path"),
    );
    ok(&h.run(&["load", a, "-t", "submissions"]));
    // Replaced by hand with a table of other columns: every load into it fails the same way.
    duckdb::Connection::open(h.db())
        .expect("open duckdb")
        .execute_batch(
            "DROP TABLE submissions__preview__images; CREATE TABLE submissions__preview__images (x INTEGER)",
        )
        .expect("replace table");
    for attempt in 1..=2 {
        let out = if attempt == 1 {
            h.run(&["load", b, "-t", "submissions"])
        } else {
            h.run(&["load", other, "-t", "events"])
        };
        let e = failed(&out);
        assert!(e.contains(&format!("attempt {attempt} of 3")), "{e}");
        eprintln!("attempt {attempt}: {e}");
        // The DuckDB message once, not once per wrapper, and no code-only cause.
        assert_eq!(e.matches("Binder Error").count(), 1, "{e}");
        assert_eq!(e.matches("duckdb://").count(), 1, "{e}");
        assert!(!e.contains("Unknown error code"), "{e}");
        assert!(!e.contains("caused by"), "{e}");
    }
    assert_eq!(
        h.count("events"),
        0,
        "the pending package blocks the run before the limit"
    );
    // Third try: set aside, and the run goes on with the other file.
    let out = h.run(&["load", other, "-t", "events"]);
    let note = stderr(&out);
    ok(&out);
    assert!(note.contains("set aside now after 3 attempts"), "{note}");
    assert_eq!(h.count("events"), 1);
    let list = packages(&h);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "failed");
    assert_eq!(
        list[0]["destination"],
        format!(
            "duckdb://{}",
            std::fs::canonicalize(h.db()).expect("db").display()
        )
    );
}

#[test]
fn a_postgres_url_may_name_the_unix_socket_directory_as_libpq_does() {
    let pg = PgCluster::shared();
    let tcp = pg.create_database("socket").expect("database");
    let db = db_name(&tcp);
    let dir = pg.dir().to_str().expect("utf-8 dir").to_owned();
    let h = Harbor::new();
    let input = h.write("s.ndjson", &synthetic_submissions(0, 4));
    let input = input.to_str().expect("utf-8 path");
    let encoded = format!(
        "postgres://postgres:{}@{}:{}/{db}",
        PgCluster::PASSWORD,
        dir.replace('/', "%2F"),
        pg.port()
    );
    ok(&h.run_env(
        &["load", input, "-t", "submissions"],
        &[("HARBOR_DESTINATION", encoded.as_str())],
    ));
    let query_form = format!(
        "postgres://postgres:{}@/{db}?host={dir}&port={}",
        PgCluster::PASSWORD,
        pg.port()
    );
    let out = h.run_env(
        &["status", "--json"],
        &[("HARBOR_DESTINATION", query_form.as_str())],
    );
    let status: Value = serde_json::from_str(&ok(&out)).expect("status json");
    assert!(status.to_string().contains("submissions"), "{status}");
    assert_eq!(count(pg, &db, "SELECT count(*) FROM submissions"), 4);
    // A directory with no server socket: the hint says so (not DNS).
    let wrong = format!("postgres://postgres@%2Fnonexistent%2Fdir:{}/{db}", pg.port());
    let e = failed(&h.run_env(
        &["load", input, "-t", "submissions"],
        &[("HARBOR_DESTINATION", wrong.as_str())],
    ));
    assert!(e.contains("no server socket in that directory"), "{e}");
    assert!(!e.contains("DNS"), "{e}");
}
