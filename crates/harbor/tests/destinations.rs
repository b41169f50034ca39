//! `harbor load` into Postgres (a throwaway cluster) and Parquet with the real binary: end to end,
//! SIGKILL at every pause point then a rerun gives exactly the clean result, concurrent runs, and
//! connection errors that say what to do.

mod common;

use std::process::{Command, Stdio};

use common::pg::db_name;
use common::{Harbor, synthetic_submissions};
use harbor_testkit::postgres::PgCluster;

/// Per data table of a Postgres database: rows and a digest of the `_harbor_id`s.
fn pg_digest(url: &str) -> Vec<String> {
    let pg = PgCluster::shared();
    let db = db_name(url);
    let tables = pg
        .psql(
            &db,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_harbor\\_%' ORDER BY 1",
        )
        .expect("list tables");
    tables
        .lines()
        .map(|t| {
            let d = pg
                .psql(
                    &db,
                    &format!(
                        "SELECT count(*) || ' ' || coalesce(md5(string_agg(_harbor_id, ',' ORDER BY _harbor_id)), '') FROM \"{t}\""
                    ),
                )
                .expect("digest");
            format!("{t} {d}")
        })
        .collect()
}

/// The same digest for a Parquet directory, read by DuckDB through the generated views.
fn parquet_digest(dir: &std::path::Path) -> Vec<String> {
    let c = duckdb::Connection::open_in_memory().expect("duckdb");
    let views = std::fs::read_to_string(dir.join("_harbor_views.sql")).expect("views file");
    c.execute_batch(&views).expect("views load in duckdb");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("_harbor_manifest.json")).expect("manifest"))
            .expect("json");
    let mut out = Vec::new();
    for t in manifest["tables"].as_object().expect("tables").keys() {
        let d: String = c
            .query_row(
                &format!(
                    "SELECT count(*) || ' ' || coalesce(md5(string_agg(_harbor_id, ',' ORDER BY _harbor_id)), '') FROM \"{t}\""
                ),
                [],
                |r| r.get(0),
            )
            .expect("digest");
        out.push(format!("{t} {d}"));
    }
    out
}

fn kill_and_rerun(h: &Harbor, args: &[&str], point: &str) {
    let mut child = h
        .command(
            args,
            &[
                ("HARBOR_LOAD__CHUNK_RECORDS", "300"),
                ("HARBOR_TEST_PAUSE_AT", point),
            ],
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harbor");
    common::wait_for_pause(&mut child, point);
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let rerun = h.run_env(args, &[("HARBOR_LOAD__CHUNK_RECORDS", "300")]);
    assert!(
        rerun.status.success(),
        "{point}: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );
}

const POINTS: [&str; 5] = ["normalize", "extract", "package", "commit", "finalize"];

#[test]
fn postgres_load_survives_kill_at_every_point() {
    let pg = PgCluster::shared();
    let clean = Harbor::new();
    let data = synthetic_submissions(0, 2000);
    let input = clean.write("subs.ndjson", &data);
    let url = pg.create_database("e2e_clean").expect("db");
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "-d",
        &url,
        "--json",
    ];
    let out = clean.run_env(&args, &[("HARBOR_LOAD__CHUNK_RECORDS", "300")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["rows"]["submissions"], 2000);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PgCluster::PASSWORD));
    let expected = pg_digest(&url);
    assert!(
        expected.iter().any(|l| l.starts_with("submissions 2000 ")),
        "{expected:?}"
    );
    assert!(expected.len() >= 4, "{expected:?}");

    for point in POINTS {
        let h = Harbor::new();
        let input = h.write("subs.ndjson", &data);
        let url = pg.create_database("e2e_kill").expect("db");
        let args = [
            "load",
            input.to_str().unwrap_or_default(),
            "--table",
            "submissions",
            "-d",
            &url,
        ];
        kill_and_rerun(&h, &args, point);
        assert_eq!(pg_digest(&url), expected, "after a kill at {point}");
        let loads = pg
            .psql(&db_name(&url), "SELECT count(*) FROM _harbor_loads")
            .expect("loads");
        assert_eq!(loads, "1", "one load after a kill at {point}");
        // A third run changes nothing (the file is in the committed state).
        assert!(h.run(&args).status.success());
        assert_eq!(pg_digest(&url), expected, "third run after a kill at {point}");
    }
}

#[test]
fn parquet_load_survives_kill_at_every_point_and_reads_in_duckdb() {
    let clean = Harbor::new();
    let data = synthetic_submissions(0, 2000);
    let input = clean.write("subs.ndjson", &data);
    let lake = clean.path().join("lake");
    let url = format!("parquet://{}", lake.display());
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "-d",
        &url,
    ];
    let out = clean.run_env(&args, &[("HARBOR_LOAD__CHUNK_RECORDS", "300")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = parquet_digest(&lake);
    assert!(
        expected.iter().any(|l| l.starts_with("submissions 2000 ")),
        "{expected:?}"
    );
    // Merge through the views: an update of 100 rows keeps 2000 rows, with the new titles.
    let upd = clean.write(
        "upd.ndjson",
        &synthetic_submissions(1900, 200).replace("I struggle", "Updated"),
    );
    assert!(
        clean
            .run(&[
                "load",
                upd.to_str().unwrap_or_default(),
                "--table",
                "submissions",
                "-d",
                &url
            ])
            .status
            .success()
    );
    let after = parquet_digest(&lake);
    assert!(
        after.iter().any(|l| l.starts_with("submissions 2100 ")),
        "{after:?}"
    );
    // Glob readers see one file per table per load.
    let files = std::fs::read_dir(lake.join("submissions"))
        .expect("table dir")
        .count();
    assert_eq!(files, 2);

    for point in POINTS {
        let h = Harbor::new();
        let input = h.write("subs.ndjson", &data);
        let lake = h.path().join("lake");
        let url = format!("parquet://{}", lake.display());
        let args = [
            "load",
            input.to_str().unwrap_or_default(),
            "--table",
            "submissions",
            "-d",
            &url,
        ];
        kill_and_rerun(&h, &args, point);
        assert_eq!(parquet_digest(&lake), expected, "after a kill at {point}");
        assert!(
            !lake.join("_staging").exists(),
            "staging left after a kill at {point}"
        );
        assert_eq!(
            std::fs::read_dir(lake.join("submissions")).expect("dir").count(),
            1,
            "{point}"
        );
    }
}

/// Two `harbor load` processes with separate working directories into one destination at once:
/// each file lands exactly once (DuckDB may refuse the second writer; it lands on the rerun).
#[test]
fn concurrent_runs_into_one_destination_land_exactly_once() {
    let pg = PgCluster::shared();
    let h = Harbor::new();
    let a = h.write("a.ndjson", &synthetic_submissions(0, 1500));
    let b = h.write("b.ndjson", &synthetic_submissions(1000, 1500));
    let pg_url = pg.create_database("e2e_concurrent").expect("db");
    let urls = [
        pg_url.clone(),
        format!("parquet://{}", h.path().join("lake").display()),
        format!("duckdb://{}", h.path().join("c.duckdb").display()),
    ];
    for url in &urls {
        let spawn = |f: &std::path::Path, w: &str| {
            h.command(
                &[
                    "load",
                    f.to_str().unwrap_or_default(),
                    "--table",
                    "submissions",
                    "-d",
                    url,
                    "--workdir",
                    w,
                ],
                &[],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
        };
        let (ca, cb) = (spawn(&a, "wa"), spawn(&b, "wb"));
        // Both processes end before a refused run is run again (else the rerun could meet the other).
        let ended: Vec<_> = [(ca, &a, "wa"), (cb, &b, "wb")]
            .into_iter()
            .map(|(child, f, w)| (child.wait_with_output().expect("wait"), f, w))
            .collect();
        for (out, f, w) in ended {
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("hint:"), "{url}: a refused run must say why: {err}");
                let again = h.run(&[
                    "load",
                    f.to_str().unwrap_or_default(),
                    "--table",
                    "submissions",
                    "-d",
                    url,
                    "--workdir",
                    w,
                ]);
                assert!(
                    again.status.success(),
                    "{url}: {}",
                    String::from_utf8_lossy(&again.stderr)
                );
            }
        }
        let status = h.run(&["status", "-d", url, "--json"]);
        assert!(
            status.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let s = String::from_utf8_lossy(&status.stdout);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
        assert_eq!(v["tables"]["submissions"], 2500, "{url}: {s}");
        let loads = v["loads"].as_array().map(Vec::len);
        assert_eq!(loads, Some(2), "{url}: {s}");
    }
}

#[test]
fn bad_credentials_and_unknown_host_are_clear_errors() {
    let pg = PgCluster::shared();
    let h = Harbor::new();
    let f = h.write("a.ndjson", &synthetic_submissions(0, 5));
    let bad_pw = format!(
        "postgres://postgres:wrong-pw-123@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let unknown = "postgres://u:pw-456@no-such-host.invalid:5432/db?connect_attempts=1".to_owned();
    let refused = "postgres://u:pw-789@127.0.0.1:1/db?connect_attempts=1".to_owned();
    for (url, secret, what) in [
        (&bad_pw, "wrong-pw-123", "password"),
        (&unknown, "pw-456", "host"),
        (&refused, "pw-789", "running"),
    ] {
        let out = h.run(&[
            "load",
            f.to_str().unwrap_or_default(),
            "--table",
            "submissions",
            "-d",
            url,
        ]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hint:") && err.contains(what), "{url}: {err}");
        assert!(!err.contains(secret), "password leaked: {err}");
    }
}
