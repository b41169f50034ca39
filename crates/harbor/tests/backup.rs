//! `harbor export`, `harbor backup` and `harbor restore` with the real binary, and the DuckDB -> backup
//! -> Postgres -> backup -> DuckDB round trip; a full disk under the working directory.

mod common;

use std::path::Path;

use common::{Harbor, synthetic_submissions};
use harbor_testkit::postgres::PgCluster;

fn ok(h: &Harbor, args: &[&str]) -> String {
    let out = h.run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every data table of a DuckDB file: columns with types, and a digest of all rows; plus the state and
/// the latest schema of every pipeline.
fn duckdb_snapshot(db: &Path) -> (Vec<String>, Vec<String>, serde_json::Value) {
    let c = duckdb::Connection::open(db).expect("open");
    let q = |sql: &str| -> Vec<String> {
        let mut s = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = s.query_map([], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    };
    let tables = q(
        "SELECT table_name FROM information_schema.tables WHERE table_name NOT LIKE '\\_harbor\\_%' ESCAPE '\\' ORDER BY 1",
    );
    let mut out = Vec::new();
    for t in &tables {
        let cols = q(&format!(
            "SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = '{t}' ORDER BY ordinal_position"
        ));
        let digest = q(&format!(
            "SELECT count(*) || ' ' || md5(coalesce(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), '')) FROM \"{t}\" AS x"
        ));
        out.push(format!("{t}: {} | {}", cols.join(", "), digest.join("")));
    }
    let state =
        q("SELECT pipeline || ' ' || key || ' ' || CAST(value AS VARCHAR) FROM _harbor_state ORDER BY 1");
    let schema = q("SELECT CAST(schema AS VARCHAR) FROM _harbor_schema ORDER BY version DESC LIMIT 1");
    let schema =
        serde_json::from_str(schema.first().map(String::as_str).unwrap_or("null")).expect("schema json");
    (out, state, schema)
}

#[test]
fn duckdb_to_postgres_to_duckdb_round_trip_is_identical() {
    let pg = PgCluster::shared();
    let h = Harbor::new();
    let a = h.write("a.ndjson", &synthetic_submissions(0, 300));
    let b = h.write(
        "b.ndjson",
        &format!(
            "{}{{\"id\":\"x1\",\"title\":\"t\",\"score\":\"lots\",\"tags\":{{\"k\":[1,2]}}}}\n",
            synthetic_submissions(200, 200)
        ),
    );
    for f in [&a, &b] {
        ok(
            &h,
            &["load", f.to_str().unwrap_or_default(), "--table", "submissions"],
        );
    }
    let original = duckdb_snapshot(&h.db());
    assert!(original.0.len() >= 5, "{:?}", original.0);
    assert!(
        original
            .0
            .iter()
            .any(|t| t.starts_with("submissions:") && t.contains("score__v_text")),
        "{:?}",
        original.0
    );
    assert_eq!(original.1.len(), 2, "{:?}", original.1);

    ok(&h, &["backup", "--out", "b1"]);
    let url = pg.create_database("roundtrip").expect("db");
    ok(&h, &["restore", "b1", "-d", &url]);
    let counts = pg
        .psql(
            url.rsplit('/')
                .next()
                .and_then(|s| s.split('?').next())
                .unwrap_or_default(),
            "SELECT count(*) FROM submissions",
        )
        .expect("count");
    assert_eq!(counts, "401");
    ok(&h, &["backup", "--out", "b2", "-d", &url]);
    let back = h.path().join("back.duckdb");
    ok(
        &h,
        &["restore", "b2", "-d", &format!("duckdb://{}", back.display())],
    );
    let restored = duckdb_snapshot(&back);
    assert_eq!(restored.0, original.0, "tables differ after the round trip");
    assert_eq!(restored.1, original.1, "state differs after the round trip");
    assert_eq!(restored.2, original.2, "schema differs after the round trip");
    // The restored pipeline goes on: the same file is skipped (state), a new one merges.
    let out = h.run(&[
        "load",
        a.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "-d",
        &url,
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A backup never overwrites.
    let again = h.run(&["backup", "--out", "b1"]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn export_writes_parquet_csv_and_jsonl_with_filters() {
    let h = Harbor::new();
    let a = h.write("a.ndjson", &synthetic_submissions(0, 90));
    ok(
        &h,
        &["load", a.to_str().unwrap_or_default(), "--table", "submissions"],
    );
    let rust: i64 = h.query("SELECT count(*) FROM submissions WHERE subreddit = 'rust'");
    assert!(rust > 0 && rust < 90);
    ok(
        &h,
        &[
            "export",
            "--format",
            "csv",
            "--table",
            "submissions",
            "--where",
            "subreddit = 'rust'",
            "--out",
            "csv",
        ],
    );
    let csv = std::fs::read_to_string(h.path().join("csv/submissions.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert!(header.split(',').any(|c| c == "title"), "{header}");
    // Titles contain no newline, so lines = rows + header.
    assert_eq!(csv.lines().count() as i64, rust + 1);
    ok(&h, &["export", "--format", "jsonl", "--out", "jsonl"]);
    let jsonl = std::fs::read_to_string(h.path().join("jsonl/submissions.jsonl")).expect("jsonl");
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 90);
    let first = rows.iter().find(|r| r["id"] == "p0000007").expect("row");
    assert!(first["score"].is_i64());
    assert!(
        first["created_utc"]
            .as_str()
            .is_some_and(|s| s.starts_with("2023-")),
        "{first}"
    );
    assert!(h.path().join("jsonl/submissions__all_awardings.jsonl").exists());
    ok(&h, &["export", "--out", "pq", "--table", "submissions"]);
    assert!(h.path().join("pq/submissions.parquet").exists());
    let bad = h.run(&["export", "--out", "x", "--table", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("hint:"));
    // The Parquet destination exports with merge applied and refuses --where with a hint.
    let lake = format!("parquet://{}", h.path().join("lake").display());
    ok(
        &h,
        &[
            "load",
            a.to_str().unwrap_or_default(),
            "--table",
            "submissions",
            "-d",
            &lake,
        ],
    );
    ok(
        &h,
        &[
            "export",
            "--format",
            "jsonl",
            "--table",
            "submissions",
            "-d",
            &lake,
            "--out",
            "lakeout",
        ],
    );
    let n = std::fs::read_to_string(h.path().join("lakeout/submissions.jsonl"))
        .expect("jsonl")
        .lines()
        .count();
    assert_eq!(n, 90);
    let refused = h.run(&["export", "--where", "score > 1", "-d", &lake, "--out", "lw"]);
    assert_eq!(refused.status.code(), Some(2));
}

/// Unmounts a tmpfs when dropped.
struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The working directory (load packages) on a full disk: a clear error with a hint, nothing
/// committed; with space again the rerun loads everything exactly once.
#[test]
fn full_disk_under_the_workdir_fails_cleanly_and_the_rerun_loads() {
    let pg = PgCluster::shared();
    let h = Harbor::new();
    let input = h.write("subs.ndjson", &synthetic_submissions(0, 8000));
    let work = h.path().join("small");
    std::fs::create_dir_all(&work).expect("mkdir");
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&work)
        .status()
        .expect("mount");
    assert!(
        st.success(),
        "mounting a small tmpfs needs root (CI runs as root)"
    );
    let guard = Tmpfs(work.clone());
    let url = pg.create_database("fulldisk").expect("db");
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "-d",
        &url,
        "--workdir",
        "small",
    ];
    let out = h.run(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hint:") && err.contains("disk is full"), "{err}");
    let db = common::pg::db_name(&url);
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM _harbor_loads").expect("loads"),
        "0"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'submissions'"
        )
        .expect("tables"),
        "0"
    );
    drop(guard);
    let out = h.run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM submissions").expect("count"),
        "8000"
    );
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM _harbor_loads").expect("loads"),
        "1"
    );
}
