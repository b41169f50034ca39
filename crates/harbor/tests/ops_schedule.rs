//! `harbor schedule`: cron schedules from harbor.toml, no overlapping runs of one pipeline, the
//! missed-run policy.

#[allow(unused_imports)]
mod common;

use common::Harbor;

/// A project whose scheduled command is the legacy command of the cutover: a script that logs
/// `start`/`end` times and takes `secs` seconds.
fn project(cron: &str, missed: &str, secs: f64) -> Harbor {
    let h = Harbor::new();
    let log = h.path().join("runs.log");
    let script = h.write(
        "slow.sh",
        &format!(
            "#!/bin/sh\necho \"start $(date +%s.%N)\" >> '{l}'\nsleep {secs}\necho \"end $(date +%s.%N)\" >> '{l}'\n",
            l = log.display()
        ),
    );
    h.write(
        "harbor.toml",
        &format!(
            "[cutover]\nlegacy_command = \"sh {} {{subreddits}}\"\n\n[[schedules]]\nname = \"collect\"\ncron = \"{cron}\"\n\
             missed = \"{missed}\"\nargs = [\"cutover\", \"route\", \"--subreddits\", \"rust\", \"--run-legacy\"]\n",
            script.display()
        ),
    );
    // Everything on legacy, so each run runs the script.
    let out = h.run(&["cutover", "set", "manual_only", "--subreddits", "rust"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    h
}

fn intervals(h: &Harbor) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(h.path().join("runs.log")).unwrap_or_default();
    let mut out = Vec::new();
    let mut start = None;
    for l in text.lines() {
        let (what, t) = l.split_once(' ').expect("log line");
        let t: f64 = t.parse().expect("time");
        match what {
            "start" => {
                assert!(
                    start.is_none(),
                    "a run started while another was running:\n{text}"
                );
                start = Some(t);
            }
            _ => out.push((start.take().expect("end without start"), t)),
        }
    }
    out
}

#[test]
fn runs_of_one_pipeline_never_overlap_and_missed_times_coalesce_into_one_run() {
    // Due every second, each run takes 1.5 s: every other time comes while the pipeline is busy.
    let h = project("* * * * * *", "run_once", 1.5);
    let out = h.run(&["schedule", "--for", "4.5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let runs = intervals(&h);
    assert!(runs.len() >= 2, "{runs:?}\n{err}");
    for w in runs.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlap: {w:?}");
        // The catch-up run starts right after the previous one ends, not a whole period later.
        assert!(w[1].0 - w[0].1 < 0.9, "catch-up came late: {w:?}\n{err}");
    }
    assert!(err.contains("coalesced") && err.contains("catch-up"), "{err}");
    // Never more runs than the time allows back to back.
    assert!(runs.len() <= 4, "{runs:?}");
}

#[test]
fn skip_policy_drops_times_that_find_the_pipeline_busy() {
    let h = project("* * * * * *", "skip", 1.5);
    let out = h.run(&["schedule", "--for", "4.5"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped") && !err.contains("catch-up"), "{err}");
    let runs = intervals(&h);
    assert!(runs.len() >= 2, "{runs:?}");
    for w in runs.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlap: {w:?}");
    }
}

#[test]
fn a_time_missed_while_the_scheduler_was_down_runs_once_at_start() {
    // Hourly; the last start was three hours ago: three times missed, one catch-up run.
    let h = project("0 * * * *", "run_once", 0.1);
    std::fs::create_dir_all(h.path().join(".harbor/schedules")).expect("dir");
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    let past: chrono::DateTime<chrono::Utc> = past.into();
    std::fs::write(h.path().join(".harbor/schedules/collect.last"), past.to_rfc3339()).expect("write");
    let out = h.run(&["schedule", "--for", "1.5"]);
    assert!(out.status.success());
    assert_eq!(intervals(&h).len(), 1, "{}", String::from_utf8_lossy(&out.stderr));

    // With skip, nothing runs before the next hour.
    let h = project("0 * * * *", "skip", 0.1);
    std::fs::create_dir_all(h.path().join(".harbor/schedules")).expect("dir");
    std::fs::write(h.path().join(".harbor/schedules/collect.last"), past.to_rfc3339()).expect("write");
    let out = h.run(&["schedule", "--for", "1.0"]);
    assert!(out.status.success());
    assert!(intervals(&h).is_empty());
}

#[test]
fn invalid_cron_is_a_user_error() {
    let h = Harbor::new();
    h.write(
        "harbor.toml",
        "[[schedules]]\nname = \"x\"\ncron = \"every day\"\nargs = [\"status\"]\n",
    );
    let out = h.run(&["schedule", "--list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("every day") && err.contains("hint:"), "{err}");
}
