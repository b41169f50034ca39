//! Running `harbor watch` from a test: its `--json` commit lines, and waiting for it to stop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use super::Harbor;
use super::reddit::{Fake, command};

/// Starts `harbor` with `args` (a `watch --json ...`) and stdout piped; a thread collects its
/// commit lines (fullname -> epoch of the commit) and fails on an item committed twice.
pub fn spawn(
    h: &Harbor,
    fake: &Fake,
    args: &[String],
    env: &[(&str, &str)],
) -> (Child, JoinHandle<BTreeMap<String, f64>>) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = command(h, fake, &refs, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harbor watch");
    let out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut committed = BTreeMap::new();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(v["event"], "commit", "{line}");
            let at = v["at"].as_f64().expect("at");
            for n in v["items"].as_array().expect("items") {
                let n = n.as_str().expect("name").to_owned();
                assert!(committed.insert(n.clone(), at).is_none(), "{n} committed twice");
            }
        }
        committed
    });
    (child, reader)
}

/// Collects a child's stderr on a thread (echoing it, so a failing test shows it).
pub fn stderr_of(child: &mut Child) -> JoinHandle<String> {
    let err = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            all.push_str(&line);
            all.push('\n');
        }
        all
    })
}

/// Waits for the child to exit, failing the test after `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(
            t0.elapsed() < within,
            "harbor watch did not stop within {within:?}"
        );
        sleep(Duration::from_millis(100));
    }
}
