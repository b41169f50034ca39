//! Shared helpers of the end-to-end tests: a scratch directory with its own `harbor.duckdb`, the real
//! binary, and queries on the result.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

pub mod http;
pub mod pg;
pub mod reddit;
pub mod watch;

#[allow(unused_imports)]
pub use harbor_testkit::fixtures::{api_bodies, fixtures_dir, thing_ids};

/// Asserts that a harbor process succeeded (showing its exit code and output otherwise) and returns
/// its stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project whose legacy collector is a script that appends its arguments to `legacy.log`, with
/// `subreddits` under the cutover.
pub fn legacy_project(subreddits: &[&str]) -> Harbor {
    let h = Harbor::new();
    let log = h.path().join("legacy.log");
    let script = h.write(
        "legacy.sh",
        &format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    );
    let names: Vec<String> = subreddits.iter().map(|s| format!("\"{s}\"")).collect();
    h.write(
        "harbor.toml",
        &format!(
            "[cutover]\nlegacy_command = \"sh {} --subreddits {{subreddits}}\"\nsubreddits = [{}]\n",
            script.display(),
            names.join(", ")
        ),
    );
    h
}

/// A scratch project directory; `harbor` runs with it as the current directory.
pub struct Harbor {
    pub dir: tempfile::TempDir,
}

impl Harbor {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("harbor.duckdb")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write input");
        p
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_harbor"));
        c.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("HARBOR_TEST_PAUSE_AT");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().expect("run harbor")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    fn conn(&self) -> duckdb::Connection {
        duckdb::Connection::open(self.db()).expect("open duckdb")
    }

    pub fn query<T: duckdb::types::FromSql>(&self, sql: &str) -> T {
        self.conn()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn count(&self, table: &str) -> i64 {
        let c = self.conn();
        let exists: i64 = c
            .query_row(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                [table],
                |r| r.get(0),
            )
            .expect("tables");
        if exists == 0 {
            return 0;
        }
        c.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0))
            .expect("count")
    }

    pub fn strings(&self, sql: &str) -> BTreeSet<String> {
        let c = self.conn();
        let mut stmt = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    }
}

/// Per data table: row count and a digest of all `_harbor_id`s (and of `id`, for root tables).
pub fn table_digest(h: &Harbor) -> Vec<(String, i64, String)> {
    let tables = h.strings(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
         AND table_name NOT LIKE '\\_harbor\\_%' ESCAPE '\\'",
    );
    tables
        .into_iter()
        .map(|t| {
            let n = h.count(&t);
            let digest: String = h.query(&format!(
                "SELECT coalesce(md5(string_agg(_harbor_id, ',' ORDER BY _harbor_id)), '') FROM \"{t}\""
            ));
            (t, n, digest)
        })
        .collect()
}

/// Waits until a process started with `HARBOR_TEST_PAUSE_AT=point` says it paused there.
pub fn wait_for_pause(child: &mut Child, point: &str) {
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let want = format!("harbor: paused at {point}");
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        if line.contains(&want) {
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return;
        }
    }
    panic!("harbor exited without reaching pause point {point}");
}

/// `n` synthetic submissions (Reddit `t3` data objects, one per line) starting at index `start`:
/// nested media, preview image lists, awards with nested icon lists, `edited` false or an epoch.
pub fn synthetic_submissions(start: usize, n: usize) -> String {
    let mut out = String::new();
    for i in start..start + n {
        let edited = if i % 7 == 0 {
            serde_json::json!(1_700_000_000.0 + i as f64)
        } else {
            serde_json::json!(false)
        };
        let awards: Vec<serde_json::Value> = (0..(i % 3))
            .map(|k| {
                serde_json::json!({"id": format!("award_{k}"), "name": "Silver", "count": k + 1,
                    "resized_icons": [{"url": "https://x/16.png", "width": 16}, {"url": "https://x/32.png", "width": 32}]})
            })
            .collect();
        let subreddit = ["rust", "python", "smallbusiness"][i % 3];
        let v = serde_json::json!({
            "id": format!("p{i:07}"), "name": format!("t3_p{i:07}"), "title": format!("Post {i}: I struggle with invoices"),
            "selftext": if i % 2 == 0 { "Any tool for this? It is so annoying." } else { "" },
            "subreddit": subreddit, "author": format!("user{}", i % 97),
            "created_utc": 1_690_000_000.0 + i as f64 * 10.0, "score": (i * 31) % 1000, "num_comments": i % 50,
            "upvote_ratio": 0.5 + (i % 50) as f64 / 100.0, "over_18": false, "edited": edited,
            "url": format!("https://reddit.com/r/x/comments/p{i}"), "all_awardings": awards,
            "preview": {"enabled": true, "images": [{"id": format!("img{i}"), "source": {"url": "https://i/x.jpg", "width": 640},
                "resolutions": [{"url": "https://i/108.jpg", "width": 108}, {"url": "https://i/216.jpg", "width": 216}]}]},
            "media": if i % 5 == 0 { serde_json::json!({"reddit_video": {"duration": i % 600, "is_gif": false}}) } else { serde_json::Value::Null },
            "approved_by": null,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}
