//! End-to-end tests of `harbor ingest`: real dump excerpts, filters against a reference
//! implementation, kill-and-resume, corrupt input and era drift.

#[allow(unused_imports)]
mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Harbor, fixtures_dir, ok, table_digest};
use serde_json::{Value, json};

fn dumps_dir() -> PathBuf {
    fixtures_dir().join("dumps")
}

fn ingest(h: &Harbor, files: &[&Path], extra: &[&str]) -> (std::process::Output, Value) {
    let mut args = vec!["ingest".to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push("--json".into());
    let out = h.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

/// Every line of a zstd file decoded with the zstd crate directly (not through harbor's reader).
fn zstd_lines(path: &Path) -> Vec<Value> {
    let f = std::fs::File::open(path).expect("open");
    let mut dec = zstd::stream::read::Decoder::new(f).expect("decoder");
    dec.window_log_max(31).expect("window");
    let mut text = String::new();
    dec.read_to_string(&mut text).expect("decode");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn ids(values: &[Value]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

fn compress(text: &str) -> Vec<u8> {
    zstd::encode_all(text.as_bytes(), 3).expect("compress")
}

#[test]
fn zreader_rc_excerpt_ingests_every_comment() {
    let dir = dumps_dir().join("pushshift_zreader");
    let beside: Vec<Value> = std::fs::read_to_string(dir.join("RC_2019-08_first1007.ndjson"))
        .expect("read ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let h = Harbor::new();
    let (out, summary) = ingest(&h, &[&dir.join("reddit_data.zst")], &[]);
    ok(&out);
    let expected = ids(&beside);
    assert_eq!(expected.len(), beside.len(), "the excerpt has unique ids");
    assert_eq!(h.strings("SELECT id FROM comments"), expected);
    assert_eq!(summary["rows"]["comments"], beside.len() as u64);
    assert_eq!(summary["rejects"], 0);
    // The records are the same as the plain file, field by field for a few of them.
    for v in beside.iter().step_by(250) {
        let id = v["id"].as_str().unwrap_or_default();
        let (body, score): (String, i64) = (
            h.query(&format!("SELECT body FROM comments WHERE id = '{id}'")),
            h.query(&format!("SELECT score FROM comments WHERE id = '{id}'")),
        );
        assert_eq!(body, v["body"].as_str().unwrap_or_default());
        assert_eq!(score, v["score"].as_i64().unwrap_or(i64::MIN));
    }
}

#[test]
fn pmaw_submissions_with_a_2gib_window_ingest_completely() {
    let dir = dumps_dir().join("pushshift_api_pmaw");
    let file = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".ndjson.zst"))
        .expect("the RS_*.ndjson.zst fixture");
    let all = zstd_lines(&file);
    let h = Harbor::new();
    let (out, summary) = ingest(&h, &[&file], &["--commit-every", "1000"]);
    ok(&out);
    assert_eq!(summary["files"][0]["kind"], "submissions");
    assert_eq!(summary["packages"], all.len().div_ceil(1000) as u64);
    assert_eq!(h.strings("SELECT id FROM submissions"), ids(&all));
    let head = std::fs::read_to_string(
        std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .find(|p| p.to_string_lossy().ends_with(".head100.ndjson"))
            .expect("head file"),
    )
    .expect("read");
    for l in head.lines() {
        let v: Value = serde_json::from_str(l).expect("json");
        let title: String = h.query(&format!(
            "SELECT title FROM submissions WHERE id = '{}'",
            v["id"].as_str().unwrap_or_default()
        ));
        assert_eq!(title, v["title"].as_str().unwrap_or_default());
    }
    // A second run reads nothing: the file is recorded as complete.
    let (again, s2) = ingest(&h, &[&file], &[]);
    ok(&again);
    assert_eq!(s2["files"][0]["skipped"], true);
    assert_eq!(s2["packages"], 0);
}

const SUBS: &[&str] = &["rust", "Python", "smallbusiness", "AskReddit", "pics"];
const WORDS: &[&str] = &[
    "invoice",
    "pain",
    "Painting",
    "problems",
    "unproblematic",
    "I",
    "CAN'T",
    "can\u{2019}t",
    "cant",
    "wish",
    "wishful",
    "tool",
    "stuck",
    "hate",
    "great",
    "today",
    "Frustrated",
    "annoying",
];
const KEYWORDS: &[&str] = &[
    "struggle",
    "problem",
    "frustrated",
    "wish",
    "can't",
    "difficult",
    "annoying",
    "pain",
    "struggling",
    "struggles",
    "problems",
    "frustrating",
    "frustration",
    "wishes",
    "cannot",
    "difficulty",
    "annoyed",
    "painful",
    "stuck",
    "tedious",
    "hate",
];

/// A mixed dump: submissions with varying subreddits, authors, times (numbers and old-era strings) and
/// texts made from WORDS with simple separators.
fn mixed_dump(n: usize) -> Vec<Value> {
    let mut seed = 12345u64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut words = |k: usize| -> String {
            let sep = [" ", ", ", ". ", "! "][next() % 4];
            (0..k)
                .map(|_| WORDS[next() % WORDS.len()])
                .collect::<Vec<_>>()
                .join(sep)
        };
        let k1 = 1 + i % 3;
        let k2 = (i / 3) % 4;
        let (title, selftext) = (words(k1), words(k2));
        let t = 1_564_000_000 + (next() % 2_000_000) as i64;
        let created = if i % 4 == 0 {
            json!(t.to_string())
        } else {
            json!(t)
        };
        out.push(json!({
            "id": format!("m{i:05}"), "title": title, "selftext": selftext,
            "subreddit": SUBS[next() % SUBS.len()], "author": format!("User{}", next() % 7),
            "created_utc": created, "score": next() % 100,
        }));
    }
    out
}

/// The reference problem filter: lowercase, split on the separators the generator uses, compare words.
fn reference_problem(v: &Value) -> bool {
    let text = format!(
        "{} {}",
        v["title"].as_str().unwrap_or_default(),
        v["selftext"].as_str().unwrap_or_default()
    )
    .to_lowercase()
    .replace('\u{2019}', "'");
    text.split([' ', ',', '.', '!']).any(|w| KEYWORDS.contains(&w))
}

fn created(v: &Value) -> i64 {
    match &v["created_utc"] {
        Value::String(s) => s.parse().expect("epoch string"),
        other => other.as_i64().expect("epoch"),
    }
}

/// A reference decision: keep this record?
type Keep = Box<dyn Fn(&Value) -> bool>;

#[test]
fn filters_keep_exactly_what_a_reference_implementation_keeps() {
    let records = mixed_dump(3000);
    let text: String = records.iter().map(|v| format!("{v}\n")).collect();
    let from = 1_564_617_600; // 2019-08-01
    let to = 1_565_222_400; // 2019-08-08
    let cases: Vec<(Vec<&str>, Keep)> = vec![
        (
            vec!["--subreddit", "RUST,python", "--subreddit", "r/pics"],
            Box::new(|v: &Value| {
                ["rust", "python", "pics"].contains(
                    &v["subreddit"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase()
                        .as_str(),
                )
            }),
        ),
        (
            vec!["--from", "2019-08-01", "--to", "2019-08-08"],
            Box::new(move |v: &Value| (from..to).contains(&created(v))),
        ),
        (vec!["--problem-only"], Box::new(reference_problem)),
        (
            vec![
                "--subreddits-file",
                "subs.txt",
                "--problem-only",
                "--author",
                "user3,USER4",
                "--from",
                "1564617600",
            ],
            Box::new(move |v: &Value| {
                ["smallbusiness", "askreddit"].contains(
                    &v["subreddit"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase()
                        .as_str(),
                ) && reference_problem(v)
                    && ["user3", "user4"]
                        .contains(&v["author"].as_str().unwrap_or_default().to_lowercase().as_str())
                    && created(v) >= from
            }),
        ),
    ];
    for (args, keep) in cases {
        let h = Harbor::new();
        h.write("subs.txt", "# shops\nSmallBusiness\n\naskreddit  # questions\n");
        let input = h.write("RS_2019-08.ndjson", &text);
        let (out, summary) = ingest(&h, &[&input], &args);
        ok(&out);
        let expected: BTreeSet<String> = records
            .iter()
            .filter(|v| keep(v))
            .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < records.len(),
            "{args:?}: a weak case"
        );
        assert_eq!(h.strings("SELECT id FROM submissions"), expected, "{args:?}");
        assert_eq!(summary["kept"], expected.len() as u64);
        assert_eq!(
            summary["files"][0]["dropped"],
            (records.len() - expected.len()) as u64
        );
    }
}

#[test]
fn field_projection_keeps_only_the_listed_fields() {
    let h = Harbor::new();
    let records = mixed_dump(200);
    let input = h.write(
        "RS_x.ndjson",
        &records.iter().map(|v| format!("{v}\n")).collect::<String>(),
    );
    let (out, _) = ingest(&h, &[&input], &["--fields", "title,subreddit"]);
    ok(&out);
    assert_eq!(h.count("submissions"), 200);
    let cols = h.strings(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'submissions' \
         AND column_name NOT LIKE '\\_harbor%' ESCAPE '\\'",
    );
    for c in &cols {
        if ["id", "title", "subreddit"].contains(&c.as_str()) {
            continue;
        }
        let n: i64 = h.query(&format!("SELECT count(\"{c}\") FROM submissions"));
        assert_eq!(n, 0, "column {c} has values although it was not listed");
    }
    let titled: i64 = h.query("SELECT count(title) FROM submissions");
    assert_eq!(titled, 200);
}

/// `n` small generated submissions, one per line.
fn generated_dump(n: usize) -> String {
    let mut out = String::with_capacity(n * 200);
    for i in 0..n {
        let edited = if i % 11 == 0 {
            json!(1_600_000_000 + i)
        } else {
            json!(false)
        };
        let subreddit = ["rust", "python", "pics"][i % 3];
        let awards = if i % 50 == 0 {
            json!([{"id": "gid_1", "count": 1}])
        } else {
            json!([])
        };
        let v = json!({
            "id": format!("g{i:07}"), "title": format!("post {i}"), "selftext": if i % 3 == 0 { "it is a pain" } else { "" },
            "subreddit": subreddit, "author": format!("u{}", i % 101),
            "created_utc": 1_500_000_000 + i as i64, "score": (i * 7) % 1000, "edited": edited,
            "all_awardings": awards,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn spawn_and_kill(h: &Harbor, args: &[&str], point: &str) {
    let mut child = h
        .command(args, &[("HARBOR_TEST_PAUSE_AT", point)])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harbor");
    common::wait_for_pause(&mut child, point);
    // SIGKILL: no destructor, no flush, no cleanup.
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn killed_ingest_resumes_without_duplicates_or_gaps() {
    const N: usize = 200_000;
    let dump = compress(&generated_dump(N));
    let run = |h: &Harbor| -> (PathBuf, Vec<String>) {
        let p = h.path().join("RS_2017-07.zst");
        std::fs::write(&p, &dump).expect("write dump");
        let args = vec![
            "ingest".to_owned(),
            p.display().to_string(),
            "--commit-every".into(),
            "25000".into(),
        ];
        (p, args)
    };
    let clean = Harbor::new();
    let (_, args) = run(&clean);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&clean.run(&args));
    assert_eq!(clean.count("submissions"), N as i64);
    let expected = table_digest(&clean);

    let h = Harbor::new();
    let (_, args) = run(&h);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Mid-extract of package 3 (two committed); then with package 2 of the second run written but
    // not loaded; then in the third run right after the recovered package committed, before it was
    // retired (the last run only retires it).
    spawn_and_kill(&h, &args, "ingest:extracted:3");
    assert_eq!(h.count("submissions"), 50_000);
    spawn_and_kill(&h, &args, "ingest:built:2");
    assert_eq!(h.count("submissions"), 75_000);
    spawn_and_kill(&h, &args, "finalize");
    let mut json_args = args.clone();
    json_args.push("--json");
    let out = h.run(&json_args);
    ok(&out);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["recovered_loads"].as_array().map(Vec::len), Some(1));
    assert!(summary["files"][0]["resumed_at_line"].as_u64().unwrap_or(0) >= 100_000);
    assert_eq!(table_digest(&h), expected);
    let dupes: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM submissions");
    assert_eq!(dupes, 0);
}

#[test]
fn truncated_zstd_frame_is_a_clear_error_and_committed_rows_stay() {
    let h = Harbor::new();
    let n = 60_000;
    let text = generated_dump(n);
    let full = compress(&text);
    let cut = h.path().join("RS_2017-01.zst");
    std::fs::write(&cut, &full[..full.len() * 3 / 4]).expect("write");
    let (out, _) = ingest(&h, &[&cut], &["--commit-every", "10000"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt") && err.contains("RS_2017-01.zst"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let kept = h.count("submissions");
    assert!(kept >= 10_000 && kept < n as i64, "{kept} rows kept");
    // What was committed is exactly a prefix of the file.
    let prefix: BTreeSet<String> = (0..kept as usize).map(|i| format!("g{i:07}")).collect();
    assert_eq!(h.strings("SELECT id FROM submissions"), prefix);
    // A second run resumes, reports the same error and adds nothing twice.
    let (again, _) = ingest(&h, &[&cut], &["--commit-every", "10000"]);
    assert_eq!(again.status.code(), Some(2));
    let after = h.count("submissions");
    assert!(after >= kept);
    let dupes: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM submissions");
    assert_eq!(dupes, 0);
    // --skip-corrupt goes on with the next file and still fails at the end, naming the file.
    let good = h.write("RS_2017-02.ndjson", &generated_dump(10).replace("\"g0", "\"h0"));
    let (skip, summary) = ingest(&h, &[&cut, &good], &["--skip-corrupt"]);
    assert_eq!(skip.status.code(), Some(2));
    assert!(
        summary["files"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("corrupt")
    );
    let h_rows: i64 = h.query("SELECT count(*) FROM submissions WHERE id LIKE 'h%'");
    assert_eq!(h_rows, 10);
}

#[test]
fn garbage_lines_go_to_rejects_with_their_line_numbers() {
    let h = Harbor::new();
    let good = generated_dump(30);
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(4, "{\"id\": \"x\", \"title\": ");
    lines.insert(10, "\u{0}\u{1}garbage");
    lines.insert(20, "");
    lines.insert(25, "42");
    let text = lines.join("\n") + "\n";
    let plain = h.write("RS_g.ndjson", &text);
    let zst = h.path().join("RS_g2.ndjson.zst");
    std::fs::write(&zst, compress(&text.replace("\"g0", "\"z0"))).expect("write");
    let (out, summary) = ingest(&h, &[&plain, &zst], &["--commit-every", "7"]);
    ok(&out);
    assert_eq!(summary["rejects"], 6);
    assert_eq!(h.count("submissions"), 60);
    let rejects =
        std::fs::read_to_string(summary["rejects_file"].as_str().expect("rejects file")).expect("read");
    let got: Vec<(String, u64)> = rejects
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            let file = v["file"].as_str().unwrap_or_default();
            let name = Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), v["line"].as_u64().unwrap_or(0))
        })
        .collect();
    let want: Vec<(String, u64)> = ["RS_g.ndjson", "RS_g2.ndjson.zst"]
        .iter()
        .flat_map(|f| [5, 11, 26].map(|l| ((*f).to_owned(), l)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn era_drift_maps_edited_and_puts_conflicting_types_in_variant_columns() {
    let h = Harbor::new();
    let lines = [
        // 2008: strings for numbers, `edited` false, few fields.
        json!({"id": "e1", "selftext": "", "title": "a", "created_utc": "1199145600", "score": 3, "edited": false, "rank": 4}),
        json!({"id": "e2", "selftext": "", "title": "b", "created_utc": 1_199_145_601, "score": "12", "edited": true, "rank": "top"}),
        json!({"id": "e3", "selftext": "", "title": "c", "created_utc": 1_400_000_000.0, "score": 5, "edited": 1_400_000_100}),
        json!({"id": "e4", "selftext": "", "title": "d", "created_utc": 1_600_000_000, "score": 6, "edited": 1_600_000_100.5,
               "gilded": 1, "num_crossposts": 0}),
        json!({"id": "e5", "selftext": "", "title": "e", "created_utc": 1_700_000_000, "score": 7, "edited": "1700000200"}),
    ];
    let input = h.write(
        "RS_drift.ndjson",
        &lines.iter().map(|v| format!("{v}\n")).collect::<String>(),
    );
    let (out, summary) = ingest(&h, &[&input], &[]);
    ok(&out);
    assert_eq!(summary["rejects"], 0);
    let edited = h.strings(
        "SELECT id || ':' || coalesce(CAST(is_edited AS VARCHAR), 'null') || ':' || \
         coalesce(CAST(epoch(edited_at) AS VARCHAR), 'null') FROM submissions",
    );
    let want: BTreeSet<String> = [
        "e1:false:null",
        "e2:true:null",
        "e3:true:1400000100.0",
        "e4:true:1600000100.5",
        "e5:true:1700000200.0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(edited, want);
    // A numeric string in a known numeric field is read as the number.
    let score: i64 = h.query("SELECT score FROM submissions WHERE id = 'e2'");
    assert_eq!(score, 12);
    // `rank` is a number in one era and a word in another: the word goes to a variant column.
    let variants = h.strings(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'submissions' \
         AND column_name LIKE 'rank\\_\\_v\\_%' ESCAPE '\\'",
    );
    assert_eq!(variants.len(), 1, "{variants:?}");
    let col = variants.iter().next().cloned().unwrap_or_default();
    let moved: String = h.query(&format!(
        "SELECT CAST(\"{col}\" AS VARCHAR) FROM submissions WHERE id = 'e2'"
    ));
    assert_eq!(moved, "top");
    let ranks: i64 = h.query("SELECT count(rank) FROM submissions");
    assert_eq!(ranks, 1);
    let created: i64 = h.query("SELECT count(*) FROM submissions WHERE created_utc IS NOT NULL");
    assert_eq!(created, 5);
    let gilded: i64 = h.query("SELECT count(gilded) FROM submissions");
    assert_eq!(gilded, 1, "missing fields are nulls");
}

#[test]
fn dump_rows_and_api_rows_merge_on_id() {
    let h = Harbor::new();
    let input = h.write("RS_m.ndjson", &generated_dump(20));
    ok(&ingest(&h, &[&input], &[]).0);
    // A later API refresh of one of them, as a Reddit Listing page.
    let page = json!({"kind": "Listing", "data": {"after": null, "children": [
        {"kind": "t3", "data": {"id": "g0000003", "title": "post 3 (edited)", "score": 999,
         "subreddit": "rust", "created_utc": 1_500_000_003.0}}
    ]}});
    let api = h.write("page.json", &page.to_string());
    ok(&h.run(&["load", api.to_str().unwrap_or_default()]));
    assert_eq!(h.count("submissions"), 20);
    let score: i64 = h.query("SELECT score FROM submissions WHERE id = 'g0000003'");
    assert_eq!(score, 999);
}

#[test]
fn comments_are_detected_from_records_and_bad_dates_are_user_errors() {
    let h = Harbor::new();
    let input = h.write(
        "mixed.ndjson",
        "{\"id\":\"c1\",\"body\":\"hi\",\"link_id\":\"t3_x\",\"created_utc\":1}\n{\"id\":\"s1\",\"title\":\"t\",\"url\":\"u\",\"created_utc\":1}\n",
    );
    ok(&ingest(&h, &[&input], &[]).0);
    assert_eq!(h.count("comments"), 1);
    assert_eq!(h.count("submissions"), 1);
    let (bad, _) = ingest(&h, &[&input], &["--from", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("hint:"));
}

#[test]
fn plain_progress_reports_bytes_lines_kept_and_eta() {
    let h = Harbor::new();
    let input = h.write("RS_p.ndjson", &generated_dump(20_000));
    let out = h.run(&[
        "ingest",
        input.to_str().unwrap_or_default(),
        "--progress",
        "plain",
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("progress:"))
        .unwrap_or_else(|| panic!("no progress line in {err}"));
    for part in ["MB read", "lines (", "/s)", "kept", "eta"] {
        assert!(line.contains(part), "{line}");
    }
}
