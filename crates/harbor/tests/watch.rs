//! `harbor watch` end to end against the fake Reddit: posts and comments appear at set rates while
//! the real binary watches; the delay from appearance to commit and the calls are measured; kill -9
//! and restart, injected faults and SIGTERM leave every item in the tables exactly once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::Harbor;
use common::reddit::{Fake, command, corpus};
use common::watch::wait_exit;
use harbor_testkit::{Fault, StreamRate, StreamSpec};

const SUBS: &[&str] = &["alpha", "beta", "gamma"];

fn spec() -> StreamSpec {
    StreamSpec {
        rates: vec![
            StreamRate {
                subreddit: "alpha".into(),
                posts_per_minute: 40.0,
                comments_per_minute: 120.0,
            },
            StreamRate {
                subreddit: "beta".into(),
                posts_per_minute: 10.0,
                comments_per_minute: 30.0,
            },
            StreamRate {
                subreddit: "gamma".into(),
                posts_per_minute: 2.0,
                comments_per_minute: 6.0,
            },
        ],
        seed: 11,
        tick: Duration::from_millis(50),
    }
}

/// Short intervals and commits, so a test takes seconds.
fn watch_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "watch",
        "alpha",
        "beta",
        "gamma",
        "--json",
        "--min-interval",
        "0.5",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (k, v) in [
        ("--max-interval", "2"),
        ("--commit-secs", "1"),
        ("--lag-window", "30"),
    ] {
        if !extra.contains(&k) {
            a.push(k.into());
            a.push(v.into());
        }
    }
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

/// Starts the watcher; its stderr is echoed.
fn spawn(
    h: &Harbor,
    fake: &Fake,
    args: &[String],
) -> (Child, std::thread::JoinHandle<BTreeMap<String, f64>>) {
    let (mut child, reader) = common::watch::spawn(h, fake, args, &[]);
    drop(common::watch::stderr_of(&mut child));
    (child, reader)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Every streamed item is in its table exactly once.
fn assert_all_once(h: &Harbor, fake: &Fake) -> (usize, usize) {
    let appeared = fake.fake.appearances();
    let posts: BTreeSet<String> = appeared
        .iter()
        .filter_map(|a| a.fullname.strip_prefix("t3_").map(str::to_owned))
        .collect();
    let comments: BTreeSet<String> = appeared
        .iter()
        .filter_map(|a| a.fullname.strip_prefix("t1_").map(str::to_owned))
        .collect();
    let stored_posts = h.strings("SELECT id FROM submissions");
    let stored_comments = h.strings("SELECT id FROM comments");
    let missing_p: Vec<_> = posts.difference(&stored_posts).collect();
    let missing_c: Vec<_> = comments.difference(&stored_comments).collect();
    assert!(missing_p.is_empty(), "posts missing: {missing_p:?}");
    assert!(missing_c.is_empty(), "comments missing: {missing_c:?}");
    let dup: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM submissions");
    assert_eq!(dup, 0, "duplicate submissions");
    let dup: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM comments");
    assert_eq!(dup, 0, "duplicate comments");
    (posts.len(), comments.len())
}

#[test]
fn watch_commits_streamed_items_within_seconds_and_runs_beside_harbor_run() {
    let h = Harbor::new();
    let fake = Fake::start(corpus(SUBS, 5));
    fake.fake.start_stream(spec());
    let (mut child, reader) = spawn(&h, &fake, &watch_args(&["--duration", "24"]));
    sleep(Duration::from_secs(8));
    // A scheduled run of the same pipeline beside the watcher waits for its lock at most a commit.
    let t0 = Instant::now();
    let out = command(
        &h,
        &fake,
        &["run", "-s", "alpha", "--no-comments", "--refresh-window", "0"],
        &[],
    )
    .output()
    .expect("harbor run");
    common::ok(&out);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "harbor run waited {:?}",
        t0.elapsed()
    );
    sleep(Duration::from_secs(8));
    fake.fake.stop_stream();
    let status = wait_exit(&mut child, Duration::from_secs(40));
    assert!(status.success(), "{status:?}");
    let committed = reader.join().expect("reader");
    let (p, c) = assert_all_once(&h, &fake);
    assert!(p >= 5 && c >= 20, "the stream produced {p} posts, {c} comments");
    let appeared = fake.fake.appearances();
    let mut delays: Vec<f64> = appeared
        .iter()
        .map(|a| {
            let at = committed
                .get(&a.fullname)
                .unwrap_or_else(|| panic!("{} not in a commit line", a.fullname));
            at - a.at
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let (p50, p99) = (quantile(&delays, 0.5), quantile(&delays, 0.99));
    let calls = fake.fake.count("listing");
    eprintln!(
        "watch: {} items, delay p50 {p50:.2} s p99 {p99:.2} s, {calls} listing calls (incl. harbor run's)",
        delays.len()
    );
    assert!(
        delays.iter().all(|d| *d > -1.0),
        "committed before appearing: {delays:?}"
    );
    // Intervals at most 2 s and commits every second: a few seconds, not a minute.
    assert!(p50 < 4.0 && p99 < 8.0, "p50 {p50} p99 {p99}");
    // The lag is exposed on /metrics (harbor metrics prints the same text).
    let metrics = common::ok(&h.run(&["metrics"]));
    for sub in SUBS {
        for stream in ["new", "comments"] {
            let line = format!(
                "harbor_watch_lag_seconds{{pipeline=\"reddit\",subreddit=\"{sub}\",stream=\"{stream}\"}}"
            );
            assert!(metrics.contains(&line), "{line} in\n{metrics}");
        }
    }
}

#[test]
fn kill_9_and_restart_under_faults_miss_nothing_and_load_nothing_twice() {
    let h = Harbor::new();
    let fake = Fake::start(corpus(SUBS, 5));
    fake.fake.start_stream(spec());
    let (mut first, reader) = spawn(&h, &fake, &watch_args(&[]));
    sleep(Duration::from_secs(7));
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let before = reader.join().expect("reader");
    assert!(
        !before.is_empty(),
        "the first watcher committed something before it was killed"
    );
    // Items keep appearing while no watcher runs, and the API misbehaves for the second one.
    sleep(Duration::from_secs(3));
    fake.fake.fault_every(
        5,
        vec![
            Fault::TooManyRequests {
                retry_after_secs: 0.5,
            },
            Fault::Status {
                status: 503,
                body: "upstream".into(),
            },
            Fault::TruncatedBody,
            Fault::ExpireTokens,
            Fault::Status {
                status: 500,
                body: "oops".into(),
            },
        ],
    );
    let (mut second, reader) = spawn(&h, &fake, &watch_args(&["--duration", "18"]));
    sleep(Duration::from_secs(11));
    fake.fake.stop_stream();
    let status = wait_exit(&mut second, Duration::from_secs(40));
    assert!(status.success(), "{status:?}");
    let after = reader.join().expect("reader");
    fake.fake.clear_faults();
    let (p, c) = assert_all_once(&h, &fake);
    assert!(p >= 5 && c >= 20, "{p} posts, {c} comments streamed");
    // Nothing committed by the first watcher was committed again by the second.
    let again: Vec<_> = before.keys().filter(|k| after.contains_key(*k)).collect();
    assert!(again.is_empty(), "committed twice across the restart: {again:?}");
    // The faults were served to the second watcher (a 429 and an expired token at least), and
    // changed nothing above.
    assert!(
        fake.fake.rate_limited_sent() > 0 && fake.fake.unauthorized_sent() > 0,
        "faults served: {} 429s, {} 401s",
        fake.fake.rate_limited_sent(),
        fake.fake.unauthorized_sent()
    );
    // `harbor status` shows the watcher's lag per listing.
    let status = common::ok(&h.run(&["status"]));
    assert!(
        status.contains("watch (`harbor watch`)") && status.contains("r/alpha") && status.contains(" lag "),
        "{status}"
    );
}

#[test]
fn sigterm_commits_the_last_package_and_exits_0() {
    let h = Harbor::new();
    let fake = Fake::start(corpus(SUBS, 5));
    fake.fake.start_stream(spec());
    // Commits only when stopped: the last package holds everything.
    let (mut child, reader) = spawn(
        &h,
        &fake,
        &watch_args(&["--commit-secs", "600", "--commit-items", "100000"]),
    );
    sleep(Duration::from_secs(6));
    fake.fake.stop_stream();
    sleep(Duration::from_secs(4));
    assert_eq!(h.count("comments"), 0, "nothing committed before the signal");
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}");
    let committed = reader.join().expect("reader");
    assert!(!committed.is_empty());
    assert_all_once(&h, &fake);
}

#[test]
fn a_bad_budget_is_refused_with_the_value() {
    let h = Harbor::new();
    let fake = Fake::start(corpus(SUBS, 1));
    let out = command(&h, &fake, &["watch", "alpha", "--budget", "150%"], &[])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--budget \"150%\""), "{err}");
}
