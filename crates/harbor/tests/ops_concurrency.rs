//! Two runs started at once on one pipeline: the second waits (or, with --no-wait, refuses
//! clearly), and no row is ever duplicated.

#[allow(unused_imports)]
mod common;
mod ops_common;

use std::process::Stdio;

use common::{Harbor, wait_for_pause};
use ops_common::{now, posts};

fn no_duplicates(h: &Harbor) -> i64 {
    let dups: i64 =
        h.query("SELECT count(*) FROM (SELECT id FROM submissions GROUP BY id HAVING count(*) > 1)");
    assert_eq!(dups, 0, "duplicate ids");
    h.count("submissions")
}

#[test]
fn two_loads_started_together_both_finish_without_duplicates() {
    let h = Harbor::new();
    let t = now();
    // 100 + 100 posts, 50 ids in common.
    let a = h.write("a.ndjson", &posts("x", "rust", 100, t, 10.0));
    let b = h.write(
        "b.ndjson",
        &posts("x", "rust", 150, t, 10.0)
            .lines()
            .skip(50)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let spawn = |f: &std::path::Path| {
        h.command(&["load", f.to_str().unwrap_or_default()], &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (c1, c2) = (spawn(&a), spawn(&b));
    let (o1, o2) = (
        c1.wait_with_output().expect("wait"),
        c2.wait_with_output().expect("wait"),
    );
    assert!(o1.status.success(), "{}", String::from_utf8_lossy(&o1.stderr));
    assert!(o2.status.success(), "{}", String::from_utf8_lossy(&o2.stderr));
    assert_eq!(no_duplicates(&h), 150);
}

#[test]
fn a_second_run_refuses_with_no_wait_and_otherwise_waits_for_the_first() {
    let h = Harbor::new();
    let t = now();
    let a = h.write("a.ndjson", &posts("y", "rust", 80, t, 10.0));
    let b = h.write("b.ndjson", &posts("y", "rust", 120, t, 10.0));
    // The first run holds the pipeline, stopped in the middle of its work.
    let mut first = h
        .command(
            &["load", a.to_str().unwrap_or_default()],
            &[("HARBOR_TEST_PAUSE_AT", "extract")],
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_pause(&mut first, "extract");

    let out = h.run(&["load", b.to_str().unwrap_or_default(), "--no-wait"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pipeline `reddit` is busy") && err.contains("hint:"),
        "{err}"
    );

    let mut second = h
        .command(&["load", b.to_str().unwrap_or_default()], &[])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        second.try_wait().expect("try_wait").is_none(),
        "the second run must wait"
    );

    // The first dies mid-run; the second takes over and loads its file.
    first.kill().expect("kill");
    let _ = first.wait();
    let out = second.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("waiting: another harbor process is running pipeline `reddit`"),
        "{err}"
    );
    assert_eq!(no_duplicates(&h), 120);
    // The first file again: its ids merge with the rows already there.
    let out = h.run(&["load", a.to_str().unwrap_or_default()]);
    assert!(out.status.success());
    assert_eq!(no_duplicates(&h), 120);
}
