//! `harbor serve` owns its DuckDB file and the other commands on that file run through it: the
//! real binary, a served project next to an unserved twin that runs the same commands on its own
//! file, so outputs, exit codes and resulting tables can be compared; crash cases with SIGKILL of
//! the command and of the server.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::http::{Server, get_json};
use common::reddit::{Fake, command, corpus};
use common::{Harbor, ok, synthetic_submissions, table_digest};
use serde_json::Value;

fn socket(h: &Harbor) -> PathBuf {
    std::fs::canonicalize(h.path())
        .expect("canonical")
        .join(".harbor.duckdb.harbor.sock")
}

fn token(h: &Harbor) -> String {
    let out = h.run(&["token", "create", "--scope", "read", "--name", "read"]);
    ok(&out).trim().to_owned()
}

/// The per-table lines of `harbor load`'s report (the first line names the load id).
fn table_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("  ") && l.ends_with(" rows"))
        .map(str::to_owned)
        .collect()
}

/// `harbor status --json` tables.
fn status_tables(h: &Harbor) -> Value {
    let out = h.run(&["status", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).expect("status json");
    v["tables"].clone()
}

fn api_count(addr: &str, token: &str, table: &str) -> i64 {
    get_json(addr, "/api/v1/status", token)["tables"][table]
        .as_i64()
        .unwrap_or(0)
}

fn kill9(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// The opportunities as (post, score) pairs, which do not depend on when they were scored.
fn ranking(h: &Harbor) -> Vec<(String, String)> {
    let out = h.run(&["opportunities", "--json", "--top", "50"]);
    let rows: Vec<Value> = serde_json::from_str(&ok(&out)).expect("opportunities json");
    rows.iter()
        .map(|r| (r["post_id"].to_string(), r["final_score"].to_string()))
        .collect()
}

#[test]
fn commands_run_through_the_server_that_owns_the_file() {
    let fake = Fake::start(corpus(&["alpha"], 30));
    let as_of = fake.as_of();
    let (served, twin) = (Harbor::new(), Harbor::new());
    for h in [&served, &twin] {
        h.write("a.ndjson", &synthetic_submissions(0, 120));
        h.write("b.ndjson", &synthetic_submissions(120, 120));
        ok(&h.run(&["load", "a.ndjson"]));
    }
    let read = token(&served);
    let srv = Server::start(&served, &[]);
    let a = srv.addr.as_str();

    // The socket is the owner's only, beside the file.
    let meta = std::fs::metadata(socket(&served)).expect("the server's socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A list the server has answered (and cached) before the load shows the load right after it.
    let python = "/api/v1/submissions?subreddit=python&limit=500";
    let before = get_json(a, python, &read)["items"]
        .as_array()
        .expect("items")
        .len();
    let load = served.run(&["load", "b.ndjson"]);
    let twin_load = twin.run(&["load", "b.ndjson"]);
    ok(&load);
    assert_eq!(table_lines(&load), table_lines(&twin_load), "the same report");
    assert!(!table_lines(&load).is_empty());
    let after = get_json(a, python, &read)["items"]
        .as_array()
        .expect("items")
        .len();
    assert_eq!(after, before + 40, "120 new posts, a third of them in r/python");

    // Collection against the fake Reddit, scoring, and the read-only commands.
    let args = ["collect", "--json", "alpha", "--as-of", &as_of];
    let c1 = command(&served, &fake, &args, &[]).output().expect("collect");
    let c2 = command(&twin, &fake, &args, &[]).output().expect("collect");
    let (r1, r2): (Value, Value) = (
        serde_json::from_str(&ok(&c1)).expect("json"),
        serde_json::from_str(&ok(&c2)).expect("json"),
    );
    assert_eq!(r1["rows"], r2["rows"]);
    assert_eq!(r1["rows"]["submissions"], 30);
    ok(&served.run(&["score"]));
    ok(&twin.run(&["score"]));
    let ranked = ranking(&served);
    assert!(!ranked.is_empty());
    assert_eq!(ranked, ranking(&twin));
    let tables = status_tables(&served);
    assert_eq!(tables, status_tables(&twin));
    assert_eq!(tables["submissions"], 270);
    assert_eq!(api_count(a, &read, "submissions"), 270);
    for cmd in [&["schema"][..], &["schema", "--json"]] {
        let (x, y) = (served.run(cmd), twin.run(cmd));
        assert_eq!(ok(&x), ok(&y), "harbor {cmd:?}");
    }
    assert!(ok(&served.run(&["metrics"])).contains("harbor_runs_total"));
    let runs = ok(&served.run(&["runs"]));
    for c in ["load", "collect", "score"] {
        assert!(runs.contains(c), "runs lists {c}: {runs}");
    }

    // A failing command fails the same way (its messages name its own directory and load id, so
    // those and the digits are masked).
    for h in [&served, &twin] {
        h.write(
            "broken.ndjson",
            &format!("{}{{not json\n", synthetic_submissions(900, 3)),
        );
    }
    let stderr = |h: &Harbor, out: &Output| {
        let dir = std::fs::canonicalize(h.path()).expect("canonical");
        String::from_utf8_lossy(&out.stderr)
            .replace(&dir.display().to_string(), "<dir>")
            .replace(&h.path().display().to_string(), "<dir>")
            .replace(|c: char| c.is_ascii_digit(), "0")
    };
    for cmd in [
        &["load", "missing.ndjson"][..],
        &["load", "broken.ndjson", "--max-rejects", "0"],
    ] {
        let (x, y) = (served.run(cmd), twin.run(cmd));
        assert_eq!(x.status.code(), y.status.code(), "harbor {cmd:?}");
        assert_ne!(x.status.code(), Some(0), "harbor {cmd:?}");
        assert_eq!(stderr(&served, &x), stderr(&twin, &y), "harbor {cmd:?}");
    }

    // SIGTERM: the server stops and takes its socket with it; the file holds what the twin's does.
    let mut srv = srv;
    let _ = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status();
    let _ = srv.child.wait();
    assert!(!socket(&served).exists(), "socket removed on shutdown");
    assert_eq!(table_digest(&served), table_digest(&twin));
}

/// `harbor serve` with stderr piped, so a test can wait for a pause point of the server.
fn serve_piped(h: &Harbor, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = h
        .command(&["serve", "--bind", "127.0.0.1:0"], env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("url");
    let addr = line.trim().trim_start_matches("http://").to_owned();
    (child, addr)
}

#[test]
fn a_killed_command_or_server_leaves_the_old_or_the_new_state() {
    let (h, twin) = (Harbor::new(), Harbor::new());
    for x in [&h, &twin] {
        x.write("a.ndjson", &synthetic_submissions(0, 120));
        x.write("b.ndjson", &synthetic_submissions(120, 120));
        x.write("c.ndjson", &synthetic_submissions(240, 120));
        ok(&x.run(&["load", "a.ndjson"]));
    }
    for f in ["b.ndjson", "c.ndjson"] {
        ok(&twin.run(&["load", f]));
    }
    let read = token(&h);

    // The command is killed after handing its package to the server: the server commits it.
    let srv = Server::start(&h, &[]);
    let a = srv.addr.clone();
    let python = "/api/v1/submissions?subreddit=python&limit=500";
    assert_eq!(
        get_json(&a, python, &read)["items"]
            .as_array()
            .expect("items")
            .len(),
        40
    );
    let mut load = h
        .command(&["load", "b.ndjson"], &[("HARBOR_TEST_PAUSE_AT", "proxied-load")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn load");
    common::wait_for_pause(&mut load, "proxied-load");
    kill9(&mut load);
    let started = Instant::now();
    loop {
        let n = api_count(&a, &read, "submissions");
        assert!(n == 120 || n == 240, "never a part of the package: {n}");
        if n == 240 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the load never became visible"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        get_json(&a, python, &read)["items"]
            .as_array()
            .expect("items")
            .len(),
        80
    );
    // The rerun finds the package committed: nothing is loaded twice.
    let rerun = h.run(&["load", "b.ndjson"]);
    ok(&rerun);
    assert_eq!(api_count(&a, &read, "submissions"), 240);
    drop(srv);

    // A stale socket (the server was killed) is ignored: the command opens the file itself.
    assert!(socket(&h).exists(), "SIGKILL leaves the socket behind");
    assert_eq!(status_tables(&h)["submissions"], 240);

    // The server is paused inside the load's transaction: readers see the old state; killing the
    // command and then the server leaves the old state; the rerun loads the package once.
    let (mut paused, a) = serve_piped(&h, &[("HARBOR_TEST_PAUSE_AT", "commit")]);
    let mut load = h
        .command(&["load", "c.ndjson"], &[])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn load");
    common::wait_for_pause(&mut paused, "commit");
    assert_eq!(
        api_count(&a, &read, "submissions"),
        240,
        "nothing of an open transaction"
    );
    kill9(&mut load);
    assert_eq!(api_count(&a, &read, "submissions"), 240);
    kill9(&mut paused);
    let srv = Server::start(&h, &[]);
    ok(&h.run(&["load", "c.ndjson"]));
    assert_eq!(api_count(&srv.addr, &read, "submissions"), 360);
    drop(srv);
    assert_eq!(table_digest(&h), table_digest(&twin), "exactly the twin's rows");
}

#[test]
fn a_second_server_and_a_command_on_a_busy_file_say_what_is_true() {
    let h = Harbor::new();
    h.write("a.ndjson", &synthetic_submissions(0, 30));
    ok(&h.run(&["load", "a.ndjson"]));
    let srv = Server::start(&h, &[]);
    let second = h.run(&["serve", "--bind", "127.0.0.1:0"]);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("harbor serve (pid {}) already serves", srv.child.id())),
        "{err}"
    );
    drop(srv);

    // A process that is not a server holds the file: the hint says no server answers.
    let _ = std::fs::remove_file(socket(&h));
    let mut holder = h
        .command(
            &["load", "a.ndjson", "--force"],
            &[("HARBOR_TEST_PAUSE_AT", "commit")],
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn load");
    common::wait_for_pause(&mut holder, "commit");
    let status = h.run(&["status"]);
    kill9(&mut holder);
    assert_eq!(status.status.code(), Some(2));
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("Could not set lock"), "{err}");
    assert!(err.contains("hint: another process has"), "{err}");
    assert!(err.contains("no harbor serve answers"), "{err}");
}
