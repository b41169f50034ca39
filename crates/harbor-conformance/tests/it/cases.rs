//! The cases every destination must pass.

use harbor_core::WriteDisposition;
use harbor_core::package::{JobState, Package};

use harbor_conformance::PIPELINE;

use crate::support::{Env, Run, awards, count, kill_load_at, snapshot, submissions};

pub const AWARDS: &str = "submissions__all_awardings";
const ICONS: &str = "submissions__all_awardings__resized_icons";
const IMAGES: &str = "submissions__preview__images";

/// Tables, child tables and column types are created from the data.
pub fn creates_tables(env: Env) {
    let f = env.write("a.ndjson", &submissions(0, 40, "a", 0));
    let s = env.load(&f, &Run::default()).expect("load");
    assert_eq!(s.load.as_ref().map(|l| l.already_loaded), Some(false));
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 40, "{c:?}");
    assert_eq!(count(&c, AWARDS), awards(0, 40, 0), "{c:?}");
    assert_eq!(count(&c, ICONS), 2 * awards(0, 40, 0), "{c:?}");
    assert_eq!(count(&c, IMAGES), 40, "{c:?}");
    let t = env.table("submissions");
    assert_eq!(t.ty("id"), "Utf8");
    assert_eq!(t.ty("score"), "Int64");
    assert_eq!(t.ty("upvote_ratio"), "Float64");
    assert_eq!(t.ty("over_18"), "Boolean");
    assert!(
        t.ty("created_utc").starts_with("Timestamp(µs")
            || t.ty("created_utc").starts_with("Timestamp(Microsecond"),
        "{}",
        t.ty("created_utc")
    );
    assert_eq!(t.get("p00007", "title"), "Post 7 a");
    assert_eq!(t.get("p00004", "over_18"), "true");
    assert_eq!(t.get("p00003", "upvote_ratio"), "0.53");
    // Loads, state and schema are recorded.
    let mut d = env.dest();
    let loads = d.loads(Some("conformance"), 10).expect("loads");
    assert_eq!(loads.len(), 1);
    assert_eq!(loads[0].rows, 40 + awards(0, 40, 0) * 3 + 40);
    let state = d.stored_state("conformance").expect("state");
    assert_eq!(state.values.len(), 1, "{state:?}");
    assert!(state.values.keys().all(|k| k.starts_with("file:")));
    let schema = d.stored_schema("conformance").expect("schema");
    assert!(schema.tables.contains_key(ICONS));
}

/// A new field becomes a new column; earlier rows read as null.
pub fn adds_a_column(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 10, "a", 0));
    env.load(&a, &Run::default()).expect("first load");
    let b = env.write(
        "b.ndjson",
        "{\"id\":\"z1\",\"title\":\"t\",\"link_flair_text_color\":\"dark\",\"brand_new\":42}\n",
    );
    let s = env.load(&b, &Run::default()).expect("second load");
    let changes = s.load.map(|l| l.schema_changes).unwrap_or_default();
    assert!(changes.iter().any(|c| c.contains("brand_new")), "{changes:?}");
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 11);
    assert_eq!(t.ty("brand_new"), "Int64");
    assert_eq!(t.get("z1", "brand_new"), "42");
    assert_eq!(t.get("p00001", "brand_new"), "NULL");
    assert_eq!(t.get("p00001", "title"), "Post 1 a");
}

/// A value that does not fit its column goes to a variant column, never lost.
pub fn variant_column(env: Env) {
    let a = env.write("a.ndjson", "{\"id\":\"v1\",\"title\":\"x\",\"score\":5}\n");
    env.load(&a, &Run::default()).expect("first load");
    let b = env.write("b.ndjson", "{\"id\":\"v2\",\"title\":\"y\",\"score\":\"lots\"}\n");
    env.load(&b, &Run::default()).expect("second load");
    let t = env.table("submissions");
    assert_eq!(t.ty("score"), "Int64");
    assert_eq!(t.ty("score__v_text"), "Utf8");
    assert_eq!(t.get("v1", "score"), "5");
    assert_eq!(t.get("v2", "score"), "NULL");
    assert_eq!(t.get("v2", "score__v_text"), "lots");
    assert_eq!(t.get("v1", "score__v_text"), "NULL");
}

/// Merge upserts on the primary key and replaces the child rows of every merged root.
pub fn merges_on_key(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 30, "old", 0));
    env.load(&a, &Run::default()).expect("first load");
    // Rows 20..40: 10 updates, 10 new; every updated row now has one award more.
    let b = env.write("b.ndjson", &submissions(20, 20, "new", 1));
    env.load(&b, &Run::default()).expect("second load");
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 40);
    assert_eq!(t.get("p00019", "title"), "Post 19 old");
    assert_eq!(t.get("p00020", "title"), "Post 20 new");
    assert_eq!(t.get("p00035", "title"), "Post 35 new");
    let c = env.counts();
    assert_eq!(count(&c, AWARDS), awards(0, 20, 0) + awards(20, 20, 1), "{c:?}");
    assert_eq!(
        count(&c, ICONS),
        2 * (awards(0, 20, 0) + awards(20, 20, 1)),
        "{c:?}"
    );
    assert_eq!(count(&c, IMAGES), 40);
    // Duplicates within one load: the last one wins.
    let dup = format!(
        "{}{}",
        submissions(50, 1, "first", 0),
        submissions(50, 1, "second", 0)
    );
    let d = env.write("d.ndjson", &dup);
    env.load(&d, &Run::default()).expect("third load");
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 41);
    assert_eq!(t.get("p00050", "title"), "Post 50 second");
}

/// The first load into empty tables with a key repeated within the load: the last occurrence wins
/// and only its child rows remain, also when the repeat comes after a megabyte of rows (a
/// destination that streams rows straight into the table must notice mid-stream and recover).
pub fn first_load_with_repeated_keys(env: Env) {
    // Row 3 twice at the start (3 extra awards the second time), then 6,000 rows.
    let text = format!(
        "{}{}{}",
        submissions(3, 1, "first", 0),
        submissions(3, 1, "second", 3),
        submissions(10, 6000, "bulk", 0)
    );
    let a = env.write("a.ndjson", &text);
    env.load(&a, &Run::default()).expect("first load");
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 6001);
    assert_eq!(t.get("p00003", "title"), "Post 3 second");
    let c = env.counts();
    assert_eq!(count(&c, AWARDS), awards(3, 1, 3) + awards(10, 6000, 0), "{c:?}");
    assert_eq!(count(&c, IMAGES), 6001, "{c:?}");
    // A second load (the tables are no longer empty) with a repeated key at its end.
    let b = env.write(
        "b.ndjson",
        &format!(
            "{}{}",
            submissions(7000, 3000, "late", 0),
            submissions(9999, 1, "last", 1)
        ),
    );
    env.load(&b, &Run::default()).expect("second load");
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 9001);
    assert_eq!(t.get("p09999", "title"), "Post 9999 last");
    let c = env.counts();
    assert_eq!(
        count(&c, AWARDS),
        awards(3, 1, 3) + awards(10, 6000, 0) + awards(7000, 2999, 0) + awards(9999, 1, 1),
        "{c:?}"
    );
}

/// A merge load skips records identical to the live ones before parsing and loads changed ones,
/// also a record whose content goes back to an older version (only live versions count).
pub fn skips_unchanged_records(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 20, "v1", 0));
    env.load(&a, &Run::default()).expect("first load");
    // The same 20 records with one edited, and 5 new ones.
    let b = env.write(
        "b.ndjson",
        &submissions(0, 25, "v1", 0).replacen("Post 7 v1", "Post 7 v2", 1),
    );
    let s = env.load(&b, &Run::default()).expect("second load");
    assert_eq!(s.extract.unchanged, 19, "{:?}", s.extract);
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 25);
    assert_eq!(t.get("p00007", "title"), "Post 7 v2");
    // Post 7 back to its first content: its live version is v2, so it loads again.
    let c = env.write("c.ndjson", &submissions(0, 25, "v1", 0));
    let s = env.load(&c, &Run::default()).expect("third load");
    assert_eq!(s.extract.unchanged, 24, "{:?}", s.extract);
    let t = env.table("submissions");
    assert_eq!(t.rows.len(), 25);
    assert_eq!(t.get("p00007", "title"), "Post 7 v1");
    let counts = env.counts();
    assert_eq!(count(&counts, AWARDS), awards(0, 25, 0), "{counts:?}");
    assert_eq!(count(&counts, IMAGES), 25, "{counts:?}");
}

/// Append adds every row, also rows with known keys.
pub fn appends(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 15, "a", 0));
    let run = Run {
        disposition: Some(WriteDisposition::Append),
        ..Default::default()
    };
    env.load(&a, &run).expect("first load");
    env.load(&a, &Run { force: true, ..run }).expect("second load");
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 30, "{c:?}");
    assert_eq!(count(&c, AWARDS), 2 * awards(0, 15, 0), "{c:?}");
    let t = env.table("submissions");
    assert_eq!(t.rows.iter().filter(|r| r[t.col("id")] == "p00003").count(), 2);
}

/// An append into a table that a merge load created keeps rows with known keys.
pub fn appends_after_merge(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 10, "a", 0));
    env.load(&a, &Run::default()).expect("merge load");
    let b = env.write("b.ndjson", &submissions(5, 10, "b", 0));
    let append = Run {
        disposition: Some(WriteDisposition::Append),
        ..Default::default()
    };
    env.load(&b, &append).expect("append load");
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 20, "{c:?}");
    assert_eq!(count(&c, AWARDS), awards(0, 10, 0) + awards(5, 10, 0), "{c:?}");
    let t = env.table("submissions");
    let titles: Vec<&String> = t
        .rows
        .iter()
        .filter(|r| r[t.col("id")] == "p00007")
        .map(|r| &r[t.col("title")])
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&&"Post 7 a".to_owned()) && titles.contains(&&"Post 7 b".to_owned()));
}

/// Replace swaps a root table and its child tables for the new load's rows.
pub fn replaces(env: Env) {
    let run = Run {
        disposition: Some(WriteDisposition::Replace),
        ..Default::default()
    };
    let a = env.write("a.ndjson", &submissions(0, 30, "a", 0));
    env.load(&a, &run).expect("first load");
    let b = env.write("b.ndjson", &submissions(100, 10, "b", 0));
    env.load(&b, &run).expect("second load");
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 10, "{c:?}");
    assert_eq!(count(&c, AWARDS), awards(100, 10, 0), "{c:?}");
    assert_eq!(count(&c, ICONS), 2 * awards(100, 10, 0), "{c:?}");
    let t = env.table("submissions");
    assert!(t.values("id").iter().all(|id| id.starts_with("p001")));
}

/// A package replayed after its commit (a crash between commit and finalize) changes nothing, and a
/// file loaded before is skipped.
pub fn exactly_once_replay(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 25, "a", 0));
    let run = Run {
        keep_packages: true,
        ..Default::default()
    };
    let s = env.load(&a, &run).expect("load");
    let load_id = s.load.expect("loaded").load_id;
    let before = env.counts();
    let kept = env
        .path()
        .join("work/conformance/packages/completed")
        .join(&load_id);
    let p = Package::open(&kept).expect("kept package");
    p.move_jobs(JobState::Completed, JobState::Started)
        .expect("jobs back to started");
    let mut d = env.dest();
    assert!(d.is_loaded(&load_id).expect("is_loaded"));
    let again = d.load(&p).expect("replay");
    assert!(again.already_loaded);
    drop(d);
    assert_eq!(env.counts(), before);
    // The same file again: skipped by the committed state.
    let s = env.load(&a, &Run::default()).expect("rerun");
    assert!(s.load.is_none());
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(env.counts(), before);
    assert_eq!(env.dest().loads(None, 10).expect("loads").len(), 1);
}

/// A load killed with SIGKILL at every stage (normalizing, after extract, with the package written,
/// inside the destination's commit, after the commit) and then run again lands exactly once: the
/// tables, loads and state equal those of a clean load.
pub fn exactly_once_after_a_kill(make: fn() -> Env) {
    let data = submissions(0, 120, "k", 0);
    let clean = make();
    let f = clean.write("k.ndjson", &data);
    clean.load(&f, &Run::default()).expect("clean load");
    let expected = snapshot(&clean);
    assert_eq!(count(&clean.counts(), "submissions"), 120);
    for point in ["normalize", "extract", "package", "commit", "finalize"] {
        let env = make();
        let f = env.write("k.ndjson", &data);
        kill_load_at(&env, &f, point);
        env.load(&f, &Run::default())
            .unwrap_or_else(|e| panic!("rerun after a kill at {point}: {e}"));
        assert_eq!(snapshot(&env), expected, "tables after a kill at {point}");
        let mut d = env.dest();
        assert_eq!(
            d.loads(None, 10).expect("loads").len(),
            1,
            "loads after a kill at {point}"
        );
        let state = d.stored_state(PIPELINE).expect("state");
        assert_eq!(state.values.len(), 1, "state after a kill at {point}: {state:?}");
        drop(d);
        // A third run finds the file in the committed state and changes nothing.
        let s = env.load(&f, &Run::default()).expect("third run");
        assert_eq!(s.skipped.len(), 1, "third run after a kill at {point}");
        assert_eq!(snapshot(&env), expected, "third run after a kill at {point}");
    }
}

/// Two runs of the same pipeline at the same time (separate working directories): both land exactly
/// once, or one fails cleanly and lands on its retry.
pub fn concurrent_runs(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 200, "a", 0));
    let b = env.write("b.ndjson", &submissions(150, 200, "b", 0));
    let target = &env.target;
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = [(&a, "wa"), (&b, "wb")]
            .into_iter()
            .map(|(f, w)| {
                let workdir = env.path().join(w);
                s.spawn(move || crate::support::load_into(target, &workdir, f, &Run::default()).is_ok())
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for (ok, (f, w)) in results.iter().zip([(&a, "wa"), (&b, "wb")]) {
        if !ok {
            crate::support::load_into(target, &env.path().join(w), f, &Run::default()).expect("retry");
        }
    }
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 350, "{c:?}");
    let t = env.table("submissions");
    let titles = t.values("title");
    assert!(titles.contains("Post 10 a") && titles.contains("Post 300 b"));
    let mut d = env.dest();
    assert_eq!(d.loads(None, 10).expect("loads").len(), 2);
    assert_eq!(d.stored_state("conformance").expect("state").values.len(), 2);
    let schema = d.stored_schema("conformance").expect("schema");
    assert!(schema.tables["submissions"].column("title").is_some());
}

/// Two `conformance-load` processes of the same pipeline at once (separate working directories): each
/// file lands exactly once, or a run is refused (DuckDB allows one writing process per file) and lands
/// when run again.
pub fn concurrent_processes(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 300, "a", 0));
    let b = env.write("b.ndjson", &submissions(250, 300, "b", 0));
    let spawn = |f: &std::path::Path, w: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_conformance-load"))
            .arg(env.target.to_arg())
            .arg(env.path().join(w))
            .arg(f)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn conformance-load")
    };
    let children = [(spawn(&a, "wa"), &a, "wa"), (spawn(&b, "wb"), &b, "wb")];
    // Both processes end before a refused run is run again.
    let ended: Vec<_> = children
        .into_iter()
        .map(|(child, f, w)| (child.wait_with_output().expect("wait"), f, w))
        .collect();
    let mut refused = 0;
    for (out, f, w) in ended {
        if !out.status.success() {
            refused += 1;
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("load failed"), "{err}");
            crate::support::load_into(&env.target, &env.path().join(w), f, &Run::default())
                .expect("the refused run lands when run again");
        }
    }
    assert!(refused < 2, "both runs were refused");
    let c = env.counts();
    assert_eq!(count(&c, "submissions"), 550, "{c:?}");
    let titles = env.table("submissions").values("title");
    // Keys 250..300 are in both files: the run that committed last wins, once per key.
    assert!(titles.contains("Post 10 a") && titles.contains("Post 500 b"));
    let t = env.table("submissions");
    assert_eq!(t.values("id").len(), 550);
    let mut d = env.dest();
    assert_eq!(d.loads(None, 10).expect("loads").len(), 2);
    assert_eq!(d.stored_state(PIPELINE).expect("state").values.len(), 2);
}

/// A frozen table rejects a new column and nothing of that load lands.
pub fn frozen_schema(env: Env) {
    let a = env.write("a.ndjson", &submissions(0, 10, "a", 0));
    env.load(&a, &Run::default()).expect("first load");
    let before = env.counts();
    let b = env.write(
        "b.ndjson",
        "{\"id\":\"p00001\",\"title\":\"changed\"}\n{\"id\":\"zz\",\"title\":\"t\",\"brand_new_field\":1}\n",
    );
    let frozen = Run {
        freeze_columns: true,
        ..Default::default()
    };
    let err = env
        .load(&b, &frozen)
        .expect_err("frozen schema must refuse a new column");
    let text = format!("{err}");
    assert!(
        text.contains("brand_new_field") || format!("{err:?}").contains("brand_new_field"),
        "{text}"
    );
    assert_eq!(env.counts(), before);
    let t = env.table("submissions");
    assert!(!t.has("brand_new_field"));
    assert_eq!(t.get("p00001", "title"), "Post 1 a");
    // Rows that fit still load under the frozen contract.
    let c = env.write("c.ndjson", "{\"id\":\"p00002\",\"title\":\"fits\"}\n");
    env.load(&c, &frozen).expect("load within the contract");
    assert_eq!(env.table("submissions").get("p00002", "title"), "fits");
}

/// Records wider than the column budget, and objects keyed by ids, load on every destination: the
/// table stays within the budget and every value can be read back from a column or a JSON column.
pub fn wide_records(env: Env) {
    use serde_json::{Map, Value, json};
    let budget = harbor_core::schema::DEFAULT_MAX_COLUMNS;
    // An object keyed by ids, and a nested object wider than the budget.
    let mut votes = Map::new();
    for i in 0..500 {
        votes.insert(format!("t3_{i:x}z"), json!({"up": i, "by": format!("u{i}")}));
    }
    let mut blob = Map::new();
    for i in 0..20_000 {
        blob.insert(format!("key_{i:05}"), json!(i));
    }
    let first = format!(
        "{}\n{}\n",
        json!({"id": "v1", "title": "votes", "votes": votes}),
        json!({"id": "b1", "title": "blob", "blob": blob}),
    );
    let a = env.write("a.ndjson", &first);
    let s = env
        .load(&a, &Run::default())
        .expect("id-keyed and wide objects load");
    let notes = s.extract.resolve.wide_notes();
    assert!(
        notes
            .iter()
            .any(|n| n == "submissions.votes kept as one JSON column: keys look like ids"),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("submissions.blob kept as one JSON column")),
        "{notes:?}"
    );
    assert_eq!(
        json_column_type(&env, "submissions", "votes"),
        env.json_type_name()
    );
    let t = env.table("submissions");
    let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap_or_else(|e| panic!("{e}: {s:.80}"));
    assert_eq!(parse(t.get("v1", "votes")), Value::Object(votes));
    assert_eq!(parse(t.get("b1", "blob")), Value::Object(blob));
    assert!(t.columns.len() < 200, "{} columns", t.columns.len());

    // A NUL character inside a JSON column (Postgres' jsonb refuses the escape, its text columns
    // refuse the byte): the record loads everywhere, the NUL dropped where the engine cannot keep it.
    let mut nul = Map::new();
    for i in 0..10 {
        nul.insert(format!("t3_{i}n"), json!({"by": format!("a\u{0}b{i}")}));
    }
    let f = env.write("nul.ndjson", &format!("{}\n", json!({"id": "n1", "votes": nul})));
    env.load(&f, &Run::default()).expect("a NUL inside JSON loads");
    let got = parse(env.table("submissions").get("n1", "votes"));
    let by = got["t3_3n"]["by"].as_str().unwrap_or_default().to_owned();
    assert!(by == "a\u{0}b3" || by == "ab3", "{by:?}");

    // 2,000 and then 20,000 keys at the top level of a record: columns up to the budget, the rest
    // in the overflow column.
    for (name, keys) in [("w2000", 2_000usize), ("w20000", 20_000)] {
        let mut rec = Map::new();
        rec.insert("id".into(), json!(name));
        for i in 0..keys {
            rec.insert(format!("field_{i:05}"), json!(format!("{name}-{i}")));
        }
        let f = env.write(
            &format!("{name}.ndjson"),
            &format!("{}\n", Value::Object(rec.clone())),
        );
        env.load(&f, &Run::default())
            .unwrap_or_else(|e| panic!("{keys} keys: {e}"));
        let t = env.table("submissions");
        assert!(
            t.columns.len() <= budget,
            "{keys} keys: {} columns",
            t.columns.len()
        );
        let overflow = parse(t.get(name, harbor_core::schema::C_OVERFLOW));
        for (k, v) in rec.iter().filter(|(k, _)| *k != "id") {
            let in_column = t.has(k) && Some(t.get(name, k).as_str()) == v.as_str();
            assert!(in_column || overflow.get(k) == Some(v), "{keys} keys: {k} lost");
        }
    }
    let schema = env.dest().stored_schema(PIPELINE).expect("schema");
    let st = &schema.tables["submissions"];
    assert_eq!(st.columns.len(), budget);
    assert!(st.json_paths.values().any(|p| p.column == "votes"));
}

/// How the destination stores the column `column` of `table`: its SQL type on DuckDB and
/// Postgres, the Parquet logical type of the column in every data file on Parquet.
fn json_column_type(env: &Env, table: &str, column: &str) -> String {
    if let crate::support::Target::Parquet(lake) = &env.target {
        let mut types = std::collections::BTreeSet::new();
        for file in crate::support::parquet_files(lake) {
            let reader = parquet::file::reader::SerializedFileReader::new(
                std::fs::File::open(&file).expect("open data file"),
            )
            .expect("parquet file");
            use parquet::file::reader::FileReader;
            let schema = reader.metadata().file_metadata().schema_descr_ptr();
            for c in schema.columns() {
                if c.name() == column && file.to_string_lossy().contains(table) {
                    types.insert(format!("{:?}", c.logical_type_ref()));
                }
            }
        }
        assert!(!types.is_empty(), "no data file of {table} has {column}");
        return types.into_iter().collect::<Vec<_>>().join(",");
    }
    let rows = env
        .dest()
        .query_json(&format!(
            "SELECT CAST(data_type AS VARCHAR) AS t FROM information_schema.columns \
             WHERE table_name = '{table}' AND column_name = '{column}' AND table_schema = current_schema()"
        ))
        .expect("column type");
    rows.first()
        .and_then(|r| r["t"].as_str())
        .unwrap_or_default()
        .to_owned()
}
