//! End-to-end tests of `harbor load`: the real binary, a real DuckDB file, real recorded Reddit data.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::{Harbor, fixtures_dir, ok, synthetic_submissions, table_digest};
use serde_json::Value;

#[test]
fn loads_ndjson_and_reports_a_summary() {
    let h = Harbor::new();
    let input = h.write("subs.ndjson", &synthetic_submissions(0, 3000));
    let out = h.run(&[
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["rows"]["submissions"], 3000);
    assert_eq!(summary["records"], 3000);
    assert!(
        summary["rows"]["submissions__all_awardings"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(h.count("submissions"), 3000);
    // Edited floats are kept as times, never turned into `true`.
    let edited: i64 = h.query("SELECT count(*) FROM submissions WHERE edited_at IS NOT NULL");
    let flagged: i64 = h.query("SELECT count(*) FROM submissions WHERE is_edited");
    assert_eq!(edited, flagged);
    assert!(edited > 0);
}

#[test]
fn second_load_of_same_file_is_skipped_and_forced_load_adds_no_rows() {
    let h = Harbor::new();
    let input = h.write("subs.ndjson", &synthetic_submissions(0, 500));
    let path = input.to_str().unwrap_or_default();
    assert!(h.run(&["load", path, "--table", "submissions"]).status.success());
    let again = h.run(&["load", path, "--table", "submissions"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already loaded"));
    let forced = h.run(&["load", path, "--table", "submissions", "--force"]);
    assert!(forced.status.success());
    assert_eq!(h.count("submissions"), 500);
    let children: i64 =
        h.query("SELECT count(*) - count(DISTINCT _harbor_id) FROM submissions__all_awardings");
    assert_eq!(children, 0, "child rows duplicated by a merge");
}

#[test]
fn malformed_lines_go_to_rejects_and_the_rest_loads() {
    let h = Harbor::new();
    let mut text = synthetic_submissions(0, 10);
    text.push_str("{\"id\": \"broken\", \"title\": \n");
    text.push_str("not json at all\n");
    text.push_str(&synthetic_submissions(10, 5));
    let input = h.write("mixed.ndjson", &text);
    let out = h.run(&[
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["rejects"], 2);
    assert_eq!(h.count("submissions"), 15);
    let rejects =
        std::fs::read_to_string(summary["rejects_file"].as_str().expect("rejects file")).expect("read");
    let lines: Vec<Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).expect("reject json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 11);
    assert_eq!(lines[1]["line"], 12);
    assert!(
        lines[0]["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("mixed.ndjson")
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid JSON")
    );
}

#[test]
fn missing_file_is_a_clear_error_with_a_hint() {
    let h = Harbor::new();
    let out = h.run(&["load", "does-not-exist.ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does-not-exist.ndjson") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn frozen_schema_violation_names_table_and_column_and_keeps_data() {
    let h = Harbor::new();
    let first = h.write("a.ndjson", &synthetic_submissions(0, 50));
    assert!(
        h.run(&[
            "load",
            first.to_str().unwrap_or_default(),
            "--table",
            "submissions"
        ])
        .status
        .success()
    );
    h.write(
        "harbor.toml",
        "[contracts.tables.submissions]\ncolumns = \"freeze\"\n",
    );
    let extra = h.write(
        "b.ndjson",
        "{\"id\":\"zz1\",\"title\":\"t\",\"url\":\"u\",\"brand_new_field\":1}\n",
    );
    let out = h.run(&[
        "load",
        extra.to_str().unwrap_or_default(),
        "--table",
        "submissions",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("submissions") && err.contains("brand_new_field") && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(h.count("submissions"), 50);
}

#[test]
fn type_conflicts_go_to_variant_columns() {
    let h = Harbor::new();
    let input = h.write(
        "v.ndjson",
        "{\"id\":\"a\",\"title\":\"t\",\"url\":\"u\",\"score\":5,\"custom\":1}\n\
         {\"id\":\"b\",\"title\":\"t\",\"url\":\"u\",\"score\":\"hidden\",\"custom\":\"x\"}\n",
    );
    assert!(
        h.run(&[
            "load",
            input.to_str().unwrap_or_default(),
            "--table",
            "submissions"
        ])
        .status
        .success()
    );
    let v: String = h.query("SELECT score__v_text FROM submissions WHERE id = 'b'");
    assert_eq!(v, "hidden");
    let c: String = h.query("SELECT custom__v_text FROM submissions WHERE id = 'b'");
    assert_eq!(c, "x");
    let n: i64 = h.query("SELECT custom FROM submissions WHERE id = 'a'");
    assert_eq!(n, 1);
}

#[test]
fn every_recorded_listing_comments_and_info_response_loads() {
    let h = Harbor::new();
    let mut checked = 0;
    for (rel, body) in common::api_bodies() {
        let (mut t3, mut t1) = (BTreeSet::new(), BTreeSet::new());
        common::thing_ids(&body, "t3", &mut t3);
        common::thing_ids(&body, "t1", &mut t1);
        if t3.is_empty() && t1.is_empty() {
            continue;
        }
        let name = rel.replace('/', "_");
        let path = h.write(&name, &body.to_string());
        let p = path.to_str().unwrap_or_default();
        let before = (h.count("submissions"), h.count("comments"));
        let out = h.run(&["load", p, "--json"]);
        assert!(
            out.status.success(),
            "{rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
        let load_id = summary["load_id"].as_str().expect("load id").to_owned();
        let loaded = |table: &str| -> BTreeSet<String> {
            h.strings(&format!(
                "SELECT id FROM {table} WHERE _harbor_load_id = '{load_id}'"
            ))
        };
        assert_eq!(
            summary["rows"]["submissions"].as_u64().unwrap_or(0),
            t3.len() as u64,
            "{rel}"
        );
        assert_eq!(
            summary["rows"]["comments"].as_u64().unwrap_or(0),
            t1.len() as u64,
            "{rel}"
        );
        assert_eq!(loaded("submissions"), t3, "{rel}");
        assert_eq!(loaded("comments"), t1, "{rel}");
        let after = (h.count("submissions"), h.count("comments"));
        let again = h.run(&["load", p, "--force"]);
        assert!(again.status.success());
        assert_eq!(
            (h.count("submissions"), h.count("comments")),
            after,
            "{rel}: second load added rows"
        );
        assert!(after.0 >= before.0 && after.1 >= before.1);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures had things");
}

#[test]
fn n49rw_thread_and_its_morechildren_load_every_comment_once() {
    let h = Harbor::new();
    let dir = fixtures_dir().join("api/asyncpraw/thread_n49rw_full_expansion");
    let mut ids = BTreeSet::new();
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for (i, p) in entries.iter().enumerate() {
        let v: Value = serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
        common::thing_ids(&v["body"], "t1", &mut ids);
        files.push(h.write(&format!("n49rw_{i}.json"), &v["body"].to_string()));
    }
    let mut args = vec!["load".to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let out = h.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(h.strings("SELECT id FROM comments"), ids);
    let dupes: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM comments");
    assert_eq!(dupes, 0);
}

/// SIGKILL at every stage of a load, rerun, and compare with a clean run: no row lost or duplicated.
#[test]
fn killed_loads_recover_to_exactly_the_clean_result() {
    let clean = Harbor::new();
    let data = synthetic_submissions(0, 6000);
    let input = clean.write("subs.ndjson", &data);
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
    ];
    assert!(
        clean
            .run_env(&args, &[("HARBOR_LOAD__CHUNK_RECORDS", "500")])
            .status
            .success()
    );
    let expected = table_digest(&clean);
    assert_eq!(clean.count("submissions"), 6000);

    for point in ["normalize", "extract", "package", "commit", "finalize"] {
        let h = Harbor::new();
        let input = h.write("subs.ndjson", &data);
        let args = [
            "load",
            input.to_str().unwrap_or_default(),
            "--table",
            "submissions",
        ];
        let mut child = h
            .command(
                &args,
                &[
                    ("HARBOR_LOAD__CHUNK_RECORDS", "500"),
                    ("HARBOR_TEST_PAUSE_AT", point),
                ],
            )
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn harbor");
        common::wait_for_pause(&mut child, point);
        // SIGKILL: no destructor, no flush, no cleanup.
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let rerun = h.run_env(&args, &[("HARBOR_LOAD__CHUNK_RECORDS", "500")]);
        assert!(
            rerun.status.success(),
            "{point}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(table_digest(&h), expected, "after a kill at {point}");
        // And a third run changes nothing.
        assert!(h.run(&args).status.success());
        assert_eq!(table_digest(&h), expected, "third run after a kill at {point}");
    }
}

/// `[load] package_size` splits a large input into packages, each committed with its file
/// position: a load SIGKILLed between two packages resumes after the last committed one and ends
/// with every row exactly once; a bad size is a user error naming the setting.
#[test]
fn split_load_killed_between_packages_resumes_exactly_once() {
    let data = synthetic_submissions(0, 3000);
    // With overlap, so package 3 is built while package 2 loads.
    let split = [
        ("HARBOR_LOAD__PACKAGE_SIZE", "400KB"),
        ("HARBOR_LOAD__OVERLAP_PACKAGES", "true"),
    ];
    let clean = Harbor::new();
    let input = clean.write("subs.ndjson", &data);
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ];
    let out = clean.run_env(&args, &split);
    let summary: Value = serde_json::from_str(&ok(&out)).expect("json summary");
    let packages = summary["load_ids"].as_array().map_or(0, Vec::len);
    assert!(packages >= 4, "{summary}");
    assert_eq!(summary["rows"]["submissions"], 3000, "{summary}");
    let expected = table_digest(&clean);
    let one = Harbor::new();
    let input_one = one.write("subs.ndjson", &data);
    ok(&one.run(&[
        "load",
        input_one.to_str().unwrap_or_default(),
        "--table",
        "submissions",
    ]));
    assert_eq!(
        table_digest(&one),
        expected,
        "split and whole loads give the same rows"
    );

    let h = Harbor::new();
    let input = h.write("subs.ndjson", &data);
    let args = [
        "load",
        input.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ];
    let point = "load:committed:2";
    let mut env = split.to_vec();
    env.push(("HARBOR_TEST_PAUSE_AT", point));
    let mut child = h
        .command(&args, &env)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harbor");
    common::wait_for_pause(&mut child, point);
    // Package 3 is built while package 2 loads: killed once it is complete, it must be replayed
    // in order and the run must resume after it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pending_packages(&h) < 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(pending_packages(&h), 1, "package 3 written before the kill");
    let committed = h.count("submissions");
    assert!(
        committed > 0 && committed < 3000,
        "{committed} rows before the rerun"
    );
    let out = h.run_env(&args, &split);
    let summary: Value = serde_json::from_str(&ok(&out)).expect("json summary");
    assert_eq!(
        summary["resumed_files"].as_array().map_or(0, Vec::len),
        1,
        "{summary}"
    );
    assert_eq!(
        summary["recovered_loads"].as_array().map_or(0, Vec::len),
        1,
        "{summary}"
    );
    assert_eq!(
        summary["load_ids"].as_array().map_or(0, Vec::len),
        packages - 3,
        "{summary}"
    );
    assert_eq!(table_digest(&h), expected, "after a kill between packages");
    let loads: i64 = h.query("SELECT count(*) FROM _harbor_loads");
    assert_eq!(loads, packages as i64);
    let out = h.run_env(&args, &split);
    let summary: Value = serde_json::from_str(&ok(&out)).expect("json summary");
    assert_eq!(
        summary["skipped_files"].as_array().map_or(0, Vec::len),
        1,
        "{summary}"
    );
    assert_eq!(table_digest(&h), expected, "third run");

    let bad = h.run_env(&args, &[("HARBOR_LOAD__PACKAGE_SIZE", "lots")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("[load] package_size"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// Complete packages waiting in the project's package stores (`.harbor/<pipeline>/packages`).
fn pending_packages(h: &Harbor) -> usize {
    let stores = std::fs::read_dir(h.path().join(".harbor"))
        .into_iter()
        .flatten()
        .flatten();
    stores
        .flat_map(|p| {
            std::fs::read_dir(p.path().join("packages"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|e| e.path().join("package.json").is_file())
        .count()
}

#[test]
fn records_identical_to_stored_ones_are_skipped_and_changed_ones_merge() {
    let h = Harbor::new();
    let first = synthetic_submissions(0, 500);
    let a = h.write("a.ndjson", &first);
    let out = h.run(&[
        "load",
        a.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let children_before = h.count("submissions__all_awardings");

    // The next file repeats every record, changes one and adds 20.
    let mut lines: Vec<String> = first.lines().map(str::to_owned).collect();
    let mut changed: Value = serde_json::from_str(&lines[7]).expect("json");
    changed["title"] = Value::String("Edited title".into());
    changed["all_awardings"] = Value::Array(Vec::new());
    lines[7] = changed.to_string();
    let mut second = lines.join("\n");
    second.push('\n');
    second.push_str(&synthetic_submissions(500, 20));
    let b = h.write("b.ndjson", &second);
    let out = h.run(&[
        "load",
        b.to_str().unwrap_or_default(),
        "--table",
        "submissions",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["records"], 520);
    assert_eq!(summary["unchanged_records"], 499);
    assert_eq!(summary["rows"]["submissions"], 21);
    assert_eq!(h.count("submissions"), 520);
    let title: String = h.query("SELECT title FROM submissions WHERE id = 'p0000007'");
    assert_eq!(title, "Edited title");
    // The changed post lost its awards; the new posts brought theirs.
    let awards_of_7: i64 = h.query(
        "SELECT count(*) FROM submissions__all_awardings a JOIN submissions s ON a._harbor_root_id = s._harbor_id \
         WHERE s.id = 'p0000007'",
    );
    assert_eq!(awards_of_7, 0);
    let new_children: i64 = h.query(
        "SELECT count(*) FROM submissions__all_awardings a JOIN submissions s ON a._harbor_root_id = s._harbor_id \
         WHERE s.id >= 'p0000500'",
    );
    assert_eq!(
        h.count("submissions__all_awardings"),
        children_before - 1 + new_children
    );
    let dup: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM submissions");
    assert_eq!(dup, 0);
}

#[test]
fn harbor_variables_in_the_environment_choose_the_destination_and_pipeline() {
    let h = Harbor::new();
    let file = h.write("a.ndjson", "{\"id\":\"e1\",\"title\":\"t\",\"url\":\"u\"}\n");
    let other = h.path().join("other.duckdb");
    let dest = format!("duckdb://{}", other.display());
    let out = h.run_env(
        &[
            "load",
            file.to_str().unwrap_or_default(),
            "--table",
            "submissions",
        ],
        &[("HARBOR_DESTINATION", &dest), ("HARBOR_PIPELINE", "envpipe")],
    );
    ok(&out);
    assert!(other.exists(), "HARBOR_DESTINATION is ignored");
    assert!(!h.db().exists(), "the default file is written instead");
    let out = h.run_env(&["status"], &[("HARBOR_DESTINATION", &dest)]);
    let text = ok(&out);
    assert!(text.contains("other.duckdb"), "{text}");
    let out = h.run_env(
        &["status"],
        &[("HARBOR_DESTINATION", &dest), ("HARBOR_PIPELINE", "envpipe")],
    );
    assert!(
        ok(&out).contains("pipeline envpipe"),
        "HARBOR_PIPELINE is ignored"
    );
}
