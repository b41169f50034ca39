//! `harbor watch` on Postgres beside scheduled collection: while posts and comments stream in, the
//! watcher runs next to `harbor run`s of the same pipeline (overlapping subreddits: they take turns
//! on the run lock) and of another pipeline (a second shard writing the same tables at the same
//! time, on a subreddit the watcher also watches). Everyone stops cleanly, every item is stored
//! exactly once, and no process reports a lock or serialization failure; SIGTERM stops the
//! watcher with its last package committed.

mod common;

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::thread::sleep;
use std::time::Duration;

use common::pg::{count, db_name};
use common::reddit::{Fake, command, corpus};
use common::watch::{spawn, stderr_of, wait_exit};
use common::{Harbor, ok};
use harbor_testkit::postgres::PgCluster;
use harbor_testkit::{StreamRate, StreamSpec};

const SUBS: &[&str] = &["alpha", "beta", "gamma", "delta"];

fn rate(sub: &str, posts: f64, comments: f64) -> StreamRate {
    StreamRate {
        subreddit: sub.into(),
        posts_per_minute: posts,
        comments_per_minute: comments,
    }
}

/// Words of a failed concurrent write, in any process's output.
fn assert_no_lock_failure(who: &str, text: &str) {
    let lower = text.to_lowercase();
    for bad in [
        "could not serialize",
        "serialization failure",
        "deadlock",
        "lock timeout",
        "could not obtain lock",
        "database is locked",
        "40001",
        "40p01",
        "55p03",
    ] {
        assert!(!lower.contains(bad), "{who} reported {bad:?}:\n{text}");
    }
}

fn ids(pg: &PgCluster, db: &str, sql: &str) -> BTreeSet<String> {
    pg.psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn watch_on_postgres_runs_beside_scheduled_runs_and_stores_every_item_once() {
    let pg = PgCluster::shared();
    let url = pg.create_database("watch_beside_runs").expect("database");
    let db = db_name(&url);
    let dest = format!("{url}&schema=app");
    let h = Harbor::new();
    let fake = Fake::start(corpus(SUBS, 6));
    let as_of = fake.as_of();
    let env = [("HARBOR_DESTINATION", dest.as_str())];
    // The tables exist before anyone runs beside anyone (as in production after the first run).
    ok(
        &command(&h, &fake, &["run", "-s", "delta", "--as-of", &as_of], &env)
            .output()
            .expect("first run"),
    );

    fake.fake.start_stream(StreamSpec {
        rates: vec![
            rate("alpha", 30.0, 90.0),
            rate("beta", 6.0, 20.0),
            rate("gamma", 12.0, 40.0),
        ],
        seed: 23,
        tick: Duration::from_millis(50),
    });
    let args: Vec<String> =
        "watch alpha beta gamma --json --min-interval 0.5 --max-interval 2 --commit-secs 1"
            .split(' ')
            .map(str::to_owned)
            .collect();
    let (mut watcher, commits) = spawn(&h, &fake, &args, &env);
    let watcher_err = stderr_of(&mut watcher);

    // Scheduled runs while the watcher commits: the same pipeline on an overlapping subreddit
    // (gamma) and one it does not watch (delta), and a second pipeline's shard on gamma, each twice.
    let run = |pipeline: &str, subs: &str| {
        command(
            &h,
            &fake,
            &["run", "-s", subs, "--as-of", &as_of, "--refresh-window", "0"],
            &[
                ("HARBOR_DESTINATION", dest.as_str()),
                ("HARBOR_PIPELINE", pipeline),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harbor run")
    };
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for round in 0..2 {
        sleep(Duration::from_secs(4));
        fake.fake.add_posts("delta", 2);
        let same = run("reddit", "gamma,delta");
        let shard = run("shard_b", "gamma");
        for (who, child) in [("run reddit", same), ("run shard_b", shard)] {
            let out = child.wait_with_output().expect("wait harbor run");
            outputs.push((format!("{who} #{round}"), out));
        }
    }
    sleep(Duration::from_secs(6));
    fake.fake.stop_stream();
    // What appeared last is read within the longest interval (2 s) and committed a second later.
    sleep(Duration::from_secs(5));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &watcher.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(kill.success());

    let status = wait_exit(&mut watcher, Duration::from_secs(60));
    let committed = commits.join().expect("commit lines");
    let watcher_err = watcher_err.join().expect("watcher stderr");
    assert_eq!(status.code(), Some(0), "harbor watch: {status:?}\n{watcher_err}");
    assert!(
        watcher_err.contains("watch stopped:"),
        "the watcher stopped cleanly:\n{watcher_err}"
    );
    assert_no_lock_failure("harbor watch", &watcher_err);
    for (who, out) in &outputs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{who}: {:?}\n{err}", out.status);
        assert_no_lock_failure(who, &err);
    }

    // Every streamed item is stored once; the watcher committed each of them (none only by runs,
    // which read gamma's and delta's posts but not alpha's or beta's).
    let appeared = fake.fake.appearances();
    assert!(
        appeared.len() > 30,
        "the stream produced {} items",
        appeared.len()
    );
    let posts = ids(pg, &db, "SELECT 't3_' || id FROM app.submissions");
    let comments = ids(pg, &db, "SELECT 't1_' || id FROM app.comments");
    let missing: Vec<&str> = appeared
        .iter()
        .map(|a| a.fullname.as_str())
        .filter(|n| !posts.contains(*n) && !comments.contains(*n))
        .collect();
    assert!(missing.is_empty(), "streamed but not stored: {missing:?}");
    let not_committed: Vec<&str> = appeared
        .iter()
        .map(|a| a.fullname.as_str())
        .filter(|n| !committed.contains_key(*n))
        .collect();
    assert!(
        not_committed.is_empty(),
        "streamed but not committed by the watcher: {not_committed:?}"
    );
    for table in ["submissions", "comments"] {
        let dup = count(
            pg,
            &db,
            &format!("SELECT count(*) - count(DISTINCT id) FROM app.{table}"),
        );
        assert_eq!(dup, 0, "duplicate {table}");
    }
    // The runs collected delta (unwatched) in full, the new posts included.
    for id in fake.fake.post_ids("delta") {
        assert!(posts.contains(&format!("t3_{id}")), "delta post {id} missing");
    }
    // Both pipelines committed loads: the shard ran beside the watcher, not after it.
    let shard_loads = count(
        pg,
        &db,
        "SELECT count(*) FROM app._harbor_loads WHERE pipeline = 'shard_b'",
    );
    assert!(shard_loads >= 2, "{shard_loads} loads of shard_b");
}
