//! Postgres-specific behaviour against a real throwaway cluster: a server restarted in the middle of
//! a load, the per-pipeline advisory lock, TLS and connection errors. The behaviour every destination
//! shares is tested by `harbor-conformance`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use harbor_core::destination::Destination;
use harbor_pipeline::{ExtractOptions, LoadFilesOptions, Pipeline, PipelineOptions, RunSummary};
use harbor_postgres::PostgresDestination;
use harbor_testkit::postgres::PgCluster;

fn submissions(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let v = serde_json::json!({"id": format!("p{i:06}"), "title": format!("Post {i} with a longer title to make rows heavier"),
            "selftext": "body ".repeat(20), "score": i, "created_utc": 1_690_000_000.0 + i as f64,
            "all_awardings": [{"id": "a", "count": 1}, {"id": "b", "count": 2}]});
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn load(url: &str, workdir: &Path, file: &Path) -> harbor_pipeline::Result<RunSummary> {
    let dest = PostgresDestination::open(url).map_err(|source| harbor_pipeline::Error::Destination {
        destination: url.to_owned(),
        source,
    })?;
    let mut extract = ExtractOptions::default();
    extract.normalize.routing.default_table = Some("submissions".into());
    let mut p = Pipeline::open(
        PipelineOptions {
            name: "p".into(),
            workdir: workdir.to_owned(),
            keep_packages: false,
            wait_for_lock: true,
        },
        Box::new(dest),
    )?;
    let opts = LoadFilesOptions {
        extract,
        ..Default::default()
    };
    p.load_files(&[file.to_owned()], &opts, Arc::new(AtomicU64::new(0)))
}

fn db(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

/// `pg_ctl restart -m fast` while the load's COPY runs: the transaction rolls back with the session,
/// the load is retried from the package on a new connection, and the result is exactly one load.
#[test]
fn server_restart_mid_load_is_retried_from_the_package() {
    let pg = PgCluster::start().expect("cluster");
    let url = pg.create_database("restart").expect("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("subs.ndjson");
    std::fs::write(&file, submissions(60_000)).expect("write");
    let (u, w, f) = (url.clone(), dir.path().join("work"), file.clone());
    let loader = std::thread::spawn(move || load(&u, &w, &f));
    let deadline = Instant::now() + Duration::from_secs(120);
    let probe = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harbor' AND query ILIKE 'COPY%' AND state = 'active'";
    let mut restarted = false;
    while Instant::now() < deadline && !loader.is_finished() {
        if pg.psql("postgres", probe).map(|s| s != "0").unwrap_or(false) {
            pg.restart_fast().expect("restart");
            restarted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let summary = loader
        .join()
        .expect("thread")
        .expect("load completes after the restart");
    assert!(
        restarted,
        "the load finished before the restart could hit it: make the input bigger"
    );
    assert_eq!(
        summary.load.map(|l| l.rows.iter().map(|(_, n)| *n).sum::<u64>()),
        Some(180_000)
    );
    let d = db(&url);
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM submissions").expect("count"),
        "60000"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM submissions__all_awardings")
            .expect("count"),
        "120000"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM _harbor_loads").expect("loads"),
        "1"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM _harbor_state").expect("state"),
        "1"
    );
}

/// The per-pipeline advisory lock: with `lock=nowait` a second loader fails at once with a hint; by
/// default it waits for the first and then loads.
#[test]
fn advisory_lock_makes_the_second_run_wait_or_fail_with_nowait() {
    let pg = PgCluster::shared();
    let url = pg.create_database("lock").expect("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("subs.ndjson");
    std::fs::write(&file, submissions(50)).expect("write");
    // Another session holds the pipeline's lock inside an open transaction.
    let mut other = postgres_client(&url);
    // A session-level lock on the same key conflicts with the loader's transaction-level lock.
    other
        .batch_execute("SELECT pg_advisory_lock(hashtextextended('harbor:public:p', 0))")
        .expect("lock");
    let t0 = Instant::now();
    let err = load(&format!("{url}&lock=nowait"), &dir.path().join("w1"), &file).expect_err("must not wait");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "nowait waited {:?}",
        t0.elapsed()
    );
    let text = format!("{err}: {:?}", err.hint());
    assert!(text.contains("another run"), "{text}");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        other
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .expect("release");
    });
    let t0 = Instant::now();
    let s = load(&url, &dir.path().join("w2"), &file).expect("waits, then loads");
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "did not wait: {:?}",
        t0.elapsed()
    );
    assert!(s.load.is_some());
    release.join().expect("release thread");
    assert_eq!(
        pg.psql(&db(&url), "SELECT count(*) FROM submissions")
            .expect("count"),
        "50"
    );
}

fn postgres_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url.split('?').next().unwrap_or(url), postgres::NoTls).expect("connect")
}

/// `sslmode=require` against a server without TLS, and a wrong password: clear errors, no password.
#[test]
fn tls_and_password_errors_are_clear() {
    let pg = PgCluster::shared();
    let url = pg
        .create_database("tls")
        .expect("db")
        .replace("sslmode=disable", "sslmode=require&connect_attempts=1");
    let e = PostgresDestination::open(&url)
        .err()
        .expect("no TLS on the test server");
    assert!(e.hint.is_some(), "{}", e.message);
    assert!(!e.message.contains(PgCluster::PASSWORD));
    let bad = format!(
        "postgres://postgres:nope@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let e = PostgresDestination::open(&bad).err().expect("bad password");
    assert!(
        e.hint.as_deref().is_some_and(|h| h.contains("password")),
        "{}",
        e.message
    );
    assert!(!e.transient);
}

/// A schema other than `public`, and the transaction-pooler mode: loads and reads work the same.
#[test]
fn custom_schema_and_pooler_mode() {
    let pg = PgCluster::shared();
    let url = format!(
        "{}&schema=reddit&pooler=transaction",
        pg.create_database("schema").expect("db")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("subs.ndjson");
    std::fs::write(&file, submissions(30)).expect("write");
    load(&url, &dir.path().join("w"), &file).expect("load");
    let d = db(&url);
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM reddit.submissions")
            .expect("count"),
        "30"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM reddit._harbor_loads")
            .expect("count"),
        "1"
    );
    assert_eq!(
        pg.psql(&d, "SELECT to_regclass('public.submissions') IS NULL")
            .expect("public"),
        "t"
    );
    let mut dest = PostgresDestination::open(&url).expect("open");
    assert!(dest.describe().contains("pooler=transaction"));
    assert!(!dest.describe().contains(PgCluster::PASSWORD));
    let counts = dest.table_counts().expect("counts");
    assert!(counts.contains(&("submissions".to_owned(), 30)), "{counts:?}");
}

/// Through a real transaction pooler (PgBouncer, `pool_mode = transaction`, two server connections, as
/// Supabase's port 6543): four loaders at once, a schema change, and every read work, because no
/// statement or session setting outlives its transaction.
#[test]
fn loads_and_reads_through_pgbouncer_in_transaction_mode() {
    let pg = PgCluster::shared();
    let bouncer = pg
        .pgbouncer()
        .expect("pgbouncer must be installed (apt-get install pgbouncer)");
    let name = db(&pg.create_database("bouncer").expect("db"));
    let url = format!("{}&pooler=transaction&schema=reddit", bouncer.url(&name));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("subs.ndjson");
    std::fs::write(&file, submissions(300)).expect("write");
    let loaders: Vec<_> = (0..4)
        .map(|k| {
            let (u, w, f) = (url.clone(), dir.path().join(format!("w{k}")), file.clone());
            std::thread::spawn(move || load(&u, &w, &f))
        })
        .collect();
    for l in loaders {
        l.join().expect("thread").expect("load through the pooler");
    }
    let extra = dir.path().join("extra.ndjson");
    std::fs::write(&extra, "{\"id\":\"p000001\",\"title\":\"new\",\"brand_new\":7}\n").expect("write");
    let s = load(&url, &dir.path().join("w9"), &extra).expect("schema change through the pooler");
    assert!(
        s.load
            .is_some_and(|l| l.schema_changes.iter().any(|c| c.contains("brand_new")))
    );
    assert_eq!(
        pg.psql(
            &name,
            "SELECT count(*) || ' ' || count(brand_new) FROM reddit.submissions"
        )
        .expect("count"),
        "300 1"
    );
    assert_eq!(
        pg.psql(&name, "SELECT count(*) FROM reddit._harbor_loads")
            .expect("loads"),
        "5"
    );
    let mut dest = PostgresDestination::open(&url).expect("open through the pooler");
    assert_eq!(dest.loads(Some("p"), 10).expect("loads").len(), 5);
    assert_eq!(dest.stored_state("p").expect("state").values.len(), 2);
    assert!(
        dest.stored_schema("p")
            .expect("schema")
            .tables
            .contains_key("submissions")
    );
    let out = dir.path().join("out.parquet");
    assert_eq!(dest.export_table("submissions", None, &out).expect("export"), 300);
    // 300 posts with two awards each, minus the two of the post the last load merged without awards.
    let counts = dest.table_counts().expect("counts");
    assert!(
        counts.contains(&("submissions__all_awardings".to_owned(), 598)),
        "{counts:?}"
    );
}

/// The server goes down during the load's COPY and stays down past every retry: a clear error with a
/// hint, nothing committed (not even the new tables); once it is back, the next run loads the package
/// left on disk exactly once.
#[test]
fn server_down_during_a_load_fails_clearly_and_the_next_run_loads() {
    let pg = PgCluster::start().expect("cluster");
    let url = format!(
        "{}&connect_attempts=2&load_attempts=2",
        pg.create_database("down").expect("db")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("subs.ndjson");
    std::fs::write(&file, submissions(60_000)).expect("write");
    let work = dir.path().join("work");
    let (u, w, f) = (url.clone(), work.clone(), file.clone());
    let loader = std::thread::spawn(move || load(&u, &w, &f));
    let deadline = Instant::now() + Duration::from_secs(120);
    let probe = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harbor' AND query ILIKE 'COPY%' AND state = 'active'";
    let mut stopped = false;
    while Instant::now() < deadline && !loader.is_finished() {
        if pg.psql("postgres", probe).map(|s| s != "0").unwrap_or(false) {
            pg.stop().expect("stop");
            stopped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stopped, "the load finished before the server could be stopped");
    let err = loader.join().expect("thread").expect_err("the server is down");
    let text = format!("{err}");
    let hint = err.hint().unwrap_or_default();
    assert!(
        hint.contains("nothing of this load was committed"),
        "{text} / {hint}"
    );
    assert!(!text.contains(PgCluster::PASSWORD) && !hint.contains(PgCluster::PASSWORD));
    pg.start_again().expect("start again");
    let d = db(&url);
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM _harbor_loads").expect("loads"),
        "0"
    );
    assert_eq!(
        pg.psql(&d, "SELECT to_regclass('public.submissions') IS NULL")
            .expect("table"),
        "t"
    );
    let s = load(&url, &work, &file).expect("the next run loads");
    assert_eq!(
        s.recovered.len(),
        1,
        "the package left by the failed run is loaded"
    );
    assert_eq!(s.skipped.len(), 1, "the file itself is in the recovered state");
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM submissions").expect("count"),
        "60000"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM _harbor_loads").expect("loads"),
        "1"
    );
}

/// An incremental load skips the records already stored unchanged (content hashes read back from the
/// merge table) and still applies the changed and new ones.
#[test]
fn unchanged_records_are_skipped_and_changed_ones_load() {
    let pg = PgCluster::shared();
    let url = pg.create_database("unchanged").expect("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("a.ndjson");
    std::fs::write(&first, submissions(300)).expect("write");
    load(&url, &dir.path().join("w"), &first).expect("first load");
    let second = dir.path().join("b.ndjson");
    let text = submissions(315).replacen("Post 7 with", "Post 7 edited with", 1);
    std::fs::write(&second, text).expect("write");
    let s = load(&url, &dir.path().join("w"), &second).expect("second load");
    assert_eq!(s.extract.unchanged, 299, "{:?}", s.extract);
    let d = db(&url);
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM submissions").expect("count"),
        "315"
    );
    assert_eq!(
        pg.psql(&d, "SELECT title FROM submissions WHERE id = 'p000007'")
            .expect("title"),
        "Post 7 edited with a longer title to make rows heavier"
    );
    assert_eq!(
        pg.psql(&d, "SELECT count(*) FROM submissions__all_awardings")
            .expect("count"),
        "630"
    );
}

/// A load that adds a column while a long transaction reads the table: its `ALTER TABLE` waits at
/// most `DDL_LOCK_TIMEOUT` each time, so the readers that come after it are never stuck behind it
/// (without the timeout they would wait for the long reader too); the load commits once the long
/// reader has finished.
#[test]
fn a_schema_change_waiting_for_a_lock_does_not_stall_readers() {
    let pg = PgCluster::shared();
    let url = pg.create_database("ddl_wait").expect("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("a.ndjson");
    std::fs::write(&first, submissions(50)).expect("write");
    load(&url, &dir.path().join("w"), &first).expect("first load");
    let wider = dir.path().join("b.ndjson");
    std::fs::write(
        &wider,
        r#"{"id": "p999999", "title": "new", "score": 1, "brand_new_field": 7}"#.to_owned() + "\n",
    )
    .expect("write");
    // A long reader: its transaction keeps the table's share lock.
    let mut long = postgres_client(&url);
    long.batch_execute("BEGIN; SELECT count(*) FROM submissions")
        .expect("long reader");
    let (u, w) = (url.clone(), dir.path().join("w"));
    let loader = std::thread::spawn(move || load(&u, &w, &wider));
    std::thread::sleep(Duration::from_millis(300));
    let mut reader = postgres_client(&url);
    reader
        .batch_execute("SET statement_timeout = '3s'")
        .expect("timeout");
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let t0 = Instant::now();
        reader
            .query_one("SELECT count(*) FROM submissions", &[])
            .expect("a reader queued behind the schema change");
        slowest = slowest.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        slowest < harbor_postgres::DDL_LOCK_TIMEOUT + Duration::from_millis(750),
        "a reader waited {slowest:?}"
    );
    assert!(
        !loader.is_finished(),
        "the schema change cannot run while the long reader holds its lock"
    );
    long.batch_execute("COMMIT").expect("commit");
    let s = loader
        .join()
        .expect("loader")
        .expect("the load commits after the long reader");
    assert!(s.load.is_some());
    assert_eq!(
        pg.psql(
            &db(&url),
            "SELECT count(*) FROM submissions WHERE brand_new_field = 7"
        )
        .expect("count"),
        "1"
    );
}
