//! The CLI around the commands: one flag name for the subreddit list, shell completions and man
//! pages generated from the CLI, `harbor init`, `harbor state`.

mod common;

use std::process::Stdio;

use common::reddit::{Fake, command, corpus};
use common::{Harbor, ok};
use serde_json::Value;

#[test]
fn collect_takes_subreddits_like_run_and_keeps_the_old_flag_hidden() {
    let help = ok(&Harbor::new().run(&["collect", "--help"]));
    assert!(help.contains("--subreddits <NAMES>"), "{help}");
    assert!(
        !help.contains("subreddits-list"),
        "the old name is hidden:\n{help}"
    );
    let watch = ok(&Harbor::new().run(&["watch", "--help"]));
    assert!(watch.contains("--subreddits <NAMES>"), "{watch}");

    let fake = Fake::start(corpus(&["alpha", "beta"], 20));
    let as_of = fake.as_of();
    let mut counts = Vec::new();
    for flag in ["--subreddits", "--subreddits-list", "-s"] {
        let h = Harbor::new();
        let args = ["collect", flag, "alpha,beta", "--no-comments", "--as-of", &as_of];
        let out = command(&h, &fake, &args, &[]).output().expect("run harbor");
        ok(&out);
        counts.push(h.count("submissions"));
    }
    assert_eq!(counts, [40, 40, 40], "every spelling collects both subreddits");
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let h = Harbor::new();
    let bash = ok(&h.run(&["completions", "bash"]));
    assert!(bash.contains("complete -F") && bash.contains("harbor"), "{bash}");
    // Every command and a flag of a command are offered.
    for word in ["collect", "opportunities", "watch", "init", "--subreddits"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let zsh = ok(&h.run(&["completions", "zsh"]));
    assert!(
        zsh.starts_with("#compdef harbor"),
        "{}",
        &zsh[..80.min(zsh.len())]
    );
    let fish = ok(&h.run(&["completions", "fish"]));
    assert!(
        fish.contains("complete -c harbor") && fish.contains("demo"),
        "{fish}"
    );
    let bad = h.run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));

    let man = ok(&h.run(&["man"]));
    assert!(man.contains("\n.TH harbor 1 "), "{}", &man[..200.min(man.len())]);
    // The commands are listed with their one-line help.
    assert!(man.contains("Collect subreddits from the Reddit API"), "{man}");
    let dir = h.path().join("man1");
    ok(&h.run(&["man", "--dir", dir.to_str().expect("utf-8")]));
    let collect = std::fs::read_to_string(dir.join("harbor-collect.1")).expect("harbor-collect.1");
    assert!(collect.contains("\n.TH harbor-collect 1 "), "{collect}");
    assert!(collect.contains("\\-\\-subreddits"), "{collect}");
    assert!(dir.join("harbor.1").exists() && dir.join("harbor-watch.1").exists());
}

#[test]
fn init_writes_a_config_that_harbor_reads_and_refuses_to_overwrite() {
    let h = Harbor::new();
    let out = h.run(&["init"]);
    ok(&out);
    let toml = std::fs::read_to_string(h.path().join("harbor.toml")).expect("harbor.toml");
    assert!(
        toml.contains("[collect]") && toml.contains("# subreddits = "),
        "{toml}"
    );
    let env = h.path().join(".env");
    let text = std::fs::read_to_string(&env).expect(".env");
    assert!(text.contains("REDDIT_CLIENT_SECRET="), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // harbor itself reads the written file: a command that loads the settings works with it.
    ok(&h.run(&["status"]));

    // Again: refused, nothing changed, exit 2 with a hint.
    std::fs::write(h.path().join("harbor.toml"), "pipeline = \"mine\"\n").expect("edit");
    let again = h.run(&["init"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(h.path().join("harbor.toml")).expect("toml"),
        "pipeline = \"mine\"\n"
    );
    // Only .env there: still nothing written.
    let other = Harbor::new();
    std::fs::write(other.path().join(".env"), "X=1\n").expect("env");
    assert_eq!(other.run(&["init"]).status.code(), Some(2));
    assert!(!other.path().join("harbor.toml").exists());
}

#[test]
fn state_show_and_reset_and_status_summarize_what_the_pipeline_remembers() {
    let fake = Fake::start(corpus(&["alpha", "beta"], 20));
    let as_of = fake.as_of();
    let h = Harbor::new();
    let collect = |extra: &[&str]| {
        let mut args = vec![
            "collect",
            "--json",
            "-s",
            "alpha,beta",
            "--no-comments",
            "--as-of",
            &as_of,
        ];
        args.extend_from_slice(extra);
        let out = command(&h, &fake, &args, &[]).output().expect("run harbor");
        serde_json::from_str::<Value>(&ok(&out)).expect("report")
    };
    collect(&[]);

    // status: tracked posts as counts per subreddit, never the ids.
    let status = ok(&h.run(&["status"]));
    assert!(
        status.contains("tracked posts (refreshed while in the refresh window): 40"),
        "{status}"
    );
    // Only the cursors' boundary ids, not the 40 tracked ones.
    assert!(
        status.contains("r/alpha") && status.matches("t3_").count() <= 2,
        "{status}"
    );
    let js: Value = serde_json::from_str(&ok(&h.run(&["status", "--json"]))).expect("json");
    assert_eq!(js["tracked_posts"]["alpha"], 20, "{js}");

    let show = ok(&h.run(&["state", "show", "--subreddit", "alpha"]));
    assert!(
        show.contains("reddit/tracked/r/alpha") && show.contains("20 tracked posts"),
        "{show}"
    );
    assert!(!show.contains("r/beta"), "{show}");

    // Without a terminal and without --yes: the plan is printed, nothing changes.
    let out = h
        .command(&["state", "reset", "--subreddit", "alpha"], &[])
        .stdin(Stdio::null())
        .output()
        .expect("run harbor");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("forgets 2 state keys") && plan.contains("reddit/r/alpha/new"),
        "{plan}"
    );
    let kept: Value = serde_json::from_str(&ok(&h.run(&["state", "show", "--json"]))).expect("json");
    assert!(kept["reddit/r/alpha/new"].is_object(), "{kept}");

    ok(&h.run(&["state", "reset", "--subreddit", "alpha", "--yes"]));
    let after: Value = serde_json::from_str(&ok(&h.run(&["state", "show", "--json"]))).expect("json");
    assert!(after.get("reddit/r/alpha/new").is_none(), "{after}");
    assert!(after["reddit/r/beta/new"].is_object(), "beta is kept: {after}");
    // The next run collects alpha as a first run would, beta incrementally.
    let again = collect(&[]);
    let new: Vec<(String, u64)> = again["subreddits"]
        .as_array()
        .expect("subreddits")
        .iter()
        .map(|s| {
            (
                s["subreddit"].as_str().unwrap_or("").to_owned(),
                s["new_posts"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(new, [("alpha".to_owned(), 20), ("beta".to_owned(), 0)], "{again}");
    assert_eq!(h.count("submissions"), 40, "rows stay, nothing twice");
}

#[test]
fn metrics_on_an_empty_database_show_the_families_at_zero() {
    let h = Harbor::new();
    let text = ok(&h.run(&["metrics"]));
    for family in [
        "harbor_runs_total",
        "harbor_http_429_total",
        "harbor_watch_lag_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}:\n{text}");
    }
    assert!(
        text.contains("harbor_run_errors_total{pipeline=\"reddit\"} 0\n"),
        "{text}"
    );
}
