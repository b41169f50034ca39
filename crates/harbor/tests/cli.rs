//! The CLI around the commands: one flag name for the subreddit list, shell completions and man
//! pages generated from the CLI, `harbor init`, `harbor state`.

#[allow(dead_code)]
mod common;

use common::reddit::{Fake, command, corpus};
use common::{Harbor, ok};

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
