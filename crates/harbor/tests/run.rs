//! End-to-end tests of `harbor run` (collect -> load -> score -> trace) and of the run traces of
//! collect, ingest and score: the real binary against the fake Reddit and the fake LLM.

mod common;

use std::process::{Output, Stdio};

use common::reddit::{Fake, command, corpus, fake_llm};
use common::{Harbor, legacy_project, ok, wait_for_pause};
use harbor_testkit::{FakeLlm, FakeLlmConfig, Fault};
use serde_json::Value;

fn json(out: &Output) -> Value {
    ok(out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)))
}

/// A project whose LLM is the fake.
fn project(llm: &FakeLlm, extra: &str) -> Harbor {
    let h = Harbor::new();
    h.write(
        "harbor.toml",
        &format!(
            "[score.llm]\nbase_url = \"{}\"\nmin_delay_ms = 1\nmax_delay_ms = 5\nmax_retries = 8\n{extra}",
            llm.base_url()
        ),
    );
    h
}

/// `harbor run --json` with the fake's credentials, for `subs`, scoring with the LLM.
fn run_llm(h: &Harbor, fake: &Fake, subs: &str) -> Value {
    let as_of = fake.as_of();
    let args = [
        "run",
        "--subreddits",
        subs,
        "--scorer",
        "llm",
        "--threshold",
        "0",
        "--as-of",
        &as_of,
        "--json",
    ];
    json(&command(h, fake, &args, &[]).output().expect("run harbor"))
}

/// The `_harbor_runs` rows, newest first, as `harbor runs --json` prints them.
fn runs(h: &Harbor) -> Vec<Value> {
    let v = json(&h.run(&["runs", "--json", "--last", "50"]));
    v.as_array().expect("runs array").clone()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

#[test]
fn a_rerun_spends_nothing_and_an_edited_post_is_rescored_alone() {
    let fake = Fake::start(corpus(&["alpha", "beta"], 30));
    let (_rt, llm) = fake_llm(FakeLlmConfig::default());
    let h = project(&llm, "");

    let first = run_llm(&h, &fake, "alpha,beta");
    assert_eq!(u(&first["collect"]["rows"]["submissions"]), 60, "{first}");
    let score = &first["score"];
    let scored = u(&score["llm"]["scored"]);
    assert!(scored > 0, "{score}");
    assert_eq!(
        scored,
        u(&score["problem_posts"]),
        "threshold 0: every problem post"
    );
    assert_eq!(llm.request_count() as u64, scored);
    let tokens = u(&score["llm"]["prompt_tokens"]) + u(&score["llm"]["completion_tokens"]);
    assert!(tokens > 0);

    let trace = &runs(&h)[0];
    assert_eq!(trace["command"], "run");
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["run_id"], first["run_id"]);
    assert_eq!(u(&trace["llm_tokens"]), tokens);
    assert!(trace["llm_cost_usd"].as_f64() > Some(0.0));
    assert_eq!(u(&trace["api_calls"]["listing"]), 2, "{trace}");
    assert_eq!(u(&trace["api_calls"]["llm"]), scored);
    assert_eq!(u(&trace["rows"]["submissions"]), 60);
    assert_eq!(
        u(&trace["rows"]["opportunity_analysis"]),
        2 * scored,
        "a heuristic and an LLM row per problem post"
    );
    assert!(trace["stages"]["collect"].is_number() && trace["stages"]["score"].is_number());
    // The themes step ran after scoring, over the problem posts, in the same trace.
    assert_eq!(
        u(&first["themes"]["posts"]),
        u(&score["problem_posts"]),
        "{first}"
    );
    assert!(trace["stages"]["themes"].is_number(), "{trace}");
    assert_eq!(
        h.count("theme_members") as u64,
        u(&first["themes"]["posts"]) - u(&first["themes"]["unthemed"])
    );

    // No new posts: zero LLM calls, zero tokens, zero cost, in the summary and in the trace.
    let again = run_llm(&h, &fake, "alpha,beta");
    assert_eq!(llm.request_count() as u64, scored);
    assert_eq!(u(&again["score"]["llm"]["requests"]), 0);
    assert_eq!(u(&again["score"]["llm_cached"]), scored);
    assert_eq!(u(&again["score"]["heuristic"]["scored"]), 0);
    let trace = &runs(&h)[0];
    assert_eq!(trace["command"], "run");
    assert_eq!(u(&trace["llm_tokens"]), 0, "{trace}");
    assert_eq!(trace["llm_cost_usd"].as_f64(), Some(0.0));
    assert_eq!(u(&trace["api_calls"]["llm"]), 0);

    // One post edited on Reddit: the refresh loads the edit and exactly that post is rescored.
    let edited: String = h.query(
        "SELECT min(post_id) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%' AND status = 'scored'",
    );
    let marker = "Edit: I would pay for a tool that fixes this";
    assert!(fake.fake.edit_post(&edited, |d| {
        let body = d["selftext"].as_str().unwrap_or_default().to_owned();
        d["selftext"] = format!("{body} {marker}").into();
    }));
    let third = run_llm(&h, &fake, "alpha,beta");
    assert_eq!(u(&third["score"]["llm"]["scored"]), 1, "{}", third["score"]);
    assert_eq!(u(&third["score"]["heuristic"]["scored"]), 1);
    assert_eq!(llm.request_count() as u64, scored + 1);
    let last = llm.requests().pop().expect("a request");
    assert!(last.body.to_string().contains(marker), "the edited text was sent");
    let body: String = h.query(&format!("SELECT selftext FROM submissions WHERE id = '{edited}'"));
    assert!(body.ends_with(marker));
    let rows: i64 = h.query("SELECT count(*) FROM opportunity_analysis");
    assert_eq!(rows as u64, 2 * scored, "merged on post and scorer");
}

#[test]
fn two_runs_at_once_never_duplicate_and_the_second_waits_or_refuses() {
    let fake = Fake::start(corpus(&["alpha", "beta"], 30));
    let h = Harbor::new();
    let as_of = fake.as_of();
    let args = ["run", "--subreddits", "alpha,beta", "--as-of", &as_of];
    let no_duplicates = || {
        for (table, key) in [
            ("submissions", "id"),
            ("comments", "id"),
            ("opportunity_analysis", "post_id, scorer_id"),
        ] {
            let dups: i64 = h.query(&format!(
                "SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)"
            ));
            assert_eq!(dups, 0, "duplicate rows in {table}");
        }
        (h.count("submissions"), h.count("opportunity_analysis"))
    };

    // Started together: both finish, one after the other.
    let spawn = || {
        command(&h, &fake, &args, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("wait"),
        b.wait_with_output().expect("wait"),
    );
    ok(&a);
    ok(&b);
    let counts = no_duplicates();
    assert_eq!(counts.0, 60);
    assert!(counts.1 > 0);

    // A run that holds the pipeline (stopped while collecting): --no-wait refuses, exit 2.
    fake.fake.add_posts("alpha", 5);
    let mut first = command(&h, &fake, &args, &[("HARBOR_TEST_PAUSE_AT", "collect")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_pause(&mut first, "collect");
    let mut refused = args.to_vec();
    refused.push("--no-wait");
    let out = command(&h, &fake, &refused, &[]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pipeline `reddit` is busy") && err.contains("hint:"),
        "{err}"
    );

    // Without --no-wait the second waits, and takes over when the first dies.
    let mut second = spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        second.try_wait().expect("try_wait").is_none(),
        "the second run must wait"
    );
    first.kill().expect("kill");
    let _ = first.wait();
    let out = second.wait_with_output().expect("wait");
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("waiting: another harbor process"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(no_duplicates().0, 65);

    // Traces: three runs ok, the killed one marked failed by the run that followed it; the refused
    // run never started.
    let all = runs(&h);
    let status = |s: &str| {
        all.iter()
            .filter(|r| r["status"] == s && r["command"] == "run")
            .count()
    };
    assert_eq!((status("ok"), status("failed"), all.len()), (3, 1, 4), "{all:?}");
}

#[test]
fn collect_ingest_score_and_run_trace_their_counters() {
    let fake = Fake::start(corpus(&["alpha"], 20));
    let (_rt, llm) = fake_llm(FakeLlmConfig {
        every_nth_429: Some(3),
        ..Default::default()
    });
    let h = project(&llm, "");
    let as_of = fake.as_of();

    // collect, with two 429s from Reddit on the way.
    fake.fake.inject(Fault::TooManyRequests {
        retry_after_secs: 0.05,
    });
    fake.fake.inject(Fault::TooManyRequests {
        retry_after_secs: 0.05,
    });
    let out = command(&h, &fake, &["collect", "alpha", "--as-of", &as_of], &[])
        .output()
        .expect("collect");
    ok(&out);

    // ingest: a dump with 10 posts of another subreddit and a broken line.
    let mut dump = String::new();
    for i in 0..10 {
        dump.push_str(
            &serde_json::json!({"id": format!("d{i}"), "subreddit": "gamma", "title": format!("I struggle with thing {i}"),
                "selftext": "So annoying", "author": "someone", "created_utc": 1_600_000_000 + i, "score": i, "num_comments": 0})
            .to_string(),
        );
        dump.push('\n');
    }
    dump.push_str("{not json\n");
    let f = h.write("RS_2020-09.ndjson", &dump);
    ok(&h.run(&["ingest", f.to_str().expect("utf-8"), "--progress", "none"]));

    ok(&h.run(&["score"]));
    ok(&h.run(&["score", "--scorer", "llm", "--threshold", "0"]));
    let out = command(
        &h,
        &fake,
        &["run", "--subreddits", "alpha", "--as-of", &as_of],
        &[],
    )
    .output()
    .expect("run");
    ok(&out);

    let all = runs(&h);
    let commands: Vec<&str> = all.iter().map(|r| r["command"].as_str().unwrap_or("")).collect();
    assert_eq!(commands, ["run", "score", "score", "ingest", "collect"]);
    assert!(all.iter().all(|r| r["status"] == "ok"), "{all:?}");
    let (run, llm_score, score, ingest, collect) = (&all[0], &all[1], &all[2], &all[3], &all[4]);

    assert_eq!(u(&collect["rows"]["submissions"]), 20, "{collect}");
    assert_eq!(u(&collect["api_calls"]["listing"]), 1);
    assert!(u(&collect["api_calls"]["comments"]) > 0);
    assert_eq!(u(&collect["http_429"]), 2);
    assert!(u(&collect["retries"]) >= 2);
    assert_eq!(u(&collect["rejects"]), 0);
    assert_eq!(
        u(&collect["rows_total"]),
        collect["rows"]
            .as_object()
            .expect("rows")
            .values()
            .map(u)
            .sum::<u64>()
    );

    assert_eq!(u(&ingest["rows"]["submissions"]), 10, "{ingest}");
    assert_eq!(u(&ingest["rejects"]), 1);
    assert_eq!(u(&ingest["bytes"]), dump.len() as u64);

    let heuristic_rows: i64 =
        h.query("SELECT count(*) FROM opportunity_analysis WHERE scorer_id LIKE 'heuristic%'");
    assert!(heuristic_rows > 0);
    assert_eq!(
        u(&score["rows"]["opportunity_analysis"]) as i64,
        heuristic_rows,
        "{score}"
    );
    assert_eq!(u(&score["llm_tokens"]), 0);

    let stored_tokens: i64 = h.query(
        "SELECT sum(prompt_tokens + completion_tokens) FROM opportunity_analysis WHERE scorer_id LIKE 'llm:%'",
    );
    assert_eq!(u(&llm_score["llm_tokens"]) as i64, stored_tokens, "{llm_score}");
    assert_eq!(u(&llm_score["api_calls"]["llm"]), llm.request_count() as u64);
    assert_eq!(u(&llm_score["http_429"]), llm.count_status(429) as u64);
    assert!(u(&llm_score["http_429"]) > 0 && u(&llm_score["retries"]) >= u(&llm_score["http_429"]));
    assert!(llm_score["llm_cost_usd"].as_f64() > Some(0.0));

    // Nothing new on Reddit: one listing page, one /api/info call refreshing the 20 recent posts,
    // nothing to score again.
    assert_eq!(u(&run["api_calls"]["listing"]), 1, "{run}");
    assert_eq!(u(&run["api_calls"]["info"]), 1);
    assert_eq!(u(&run["rows"]["submissions"]), 20);
    assert_eq!(u(&run["details"]["score"]["heuristic_scored"]), 0);
    assert_eq!(u(&run["rows"]["opportunity_analysis"]), 0);
    assert_eq!(u(&run["llm_tokens"]), 0);
}

#[test]
fn pii_from_reddit_never_reaches_the_database_or_the_llm() {
    let fake = Fake::start(corpus(&["alpha"], 10));
    let (_rt, llm) = fake_llm(FakeLlmConfig::default());
    let h = project(&llm, "\n[pii]\nenabled = true\n");
    let id = fake.fake.post_ids("alpha")[0].clone();
    assert!(fake.fake.edit_post(&id, |d| {
        d["title"] = "Problem: my clients email jane.doe@example.com about invoices".into();
        d["selftext"] = "I hate this. Call me at +1 (555) 123-4567 or ask u/janedoe_42.".into();
        d["author"] = "janedoe_42".into();
    }));
    let out = run_llm(&h, &fake, "alpha");
    assert!(u(&out["score"]["llm"]["scored"]) > 0, "{out}");
    let db: String = h.query(&format!(
        "SELECT title || ' ' || selftext || ' ' || author FROM submissions WHERE id = '{id}'"
    ));
    let everything: String = [
        format!("SELECT string_agg(to_json(s)::VARCHAR, ' ') FROM submissions s WHERE id = '{id}'"),
        format!("SELECT coalesce(string_agg(to_json(c)::VARCHAR, ' '), '') FROM comments c WHERE link_id = 't3_{id}'"),
        format!("SELECT string_agg(to_json(o)::VARCHAR, ' ') FROM opportunity_analysis o WHERE post_id = '{id}'"),
    ]
    .iter()
    .map(|q| h.query::<String>(q))
    .collect();
    let sent = llm.log_text();
    assert!(sent.contains("[email]"), "the post was sent, masked");
    for secret in ["jane.doe@example.com", "(555)", "123-4567", "janedoe"] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the database: {db}"
        );
        assert!(!sent.contains(secret), "{secret} reached the LLM");
    }
    assert!(
        db.contains("[email]") && db.contains("[phone]") && db.contains("u/[user]"),
        "{db}"
    );
}

#[test]
fn run_collects_the_harbor_share_and_hands_the_rest_to_the_legacy_collector() {
    let subs = ["alpha", "beta", "gamma", "delta"];
    let fake = Fake::start(corpus(&subs, 10));
    let h = legacy_project(&subs);
    let log = h.path().join("legacy.log");
    ok(&h.run(&["cutover", "set", "50%", "--by", "tester"]));
    let route = json(&h.run(&["cutover", "route", "--subreddits", &subs.join(","), "--json"]));
    let share = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = route[k]
            .as_array()
            .expect(k)
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    let (harbor, legacy) = (share("harbor"), share("legacy"));
    assert_eq!((harbor.len(), legacy.len()), (2, 2), "{route}");

    let as_of = fake.as_of();
    let out = command(
        &h,
        &fake,
        &[
            "run",
            "--subreddits",
            &subs.join(","),
            "--as-of",
            &as_of,
            "--json",
        ],
        &[],
    )
    .output()
    .expect("run");
    let v = json(&out);
    let collected = h.strings("SELECT DISTINCT subreddit FROM submissions");
    assert_eq!(collected.into_iter().collect::<Vec<_>>(), harbor, "{v}");
    let calls = std::fs::read_to_string(&log).expect("the legacy collector ran");
    let mut handed: Vec<&str> = calls
        .trim()
        .strip_prefix("--subreddits ")
        .expect("one call with --subreddits")
        .split(',')
        .collect();
    handed.sort();
    assert_eq!(handed, legacy, "{calls}");
    let mut sent: Vec<String> = v["collect"]["legacy_subreddits"]
        .as_array()
        .expect("legacy_subreddits")
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect();
    sent.sort();
    assert_eq!(sent, legacy);
    assert_eq!(v["collect"]["legacy_exit"], 0);
    let trace = &runs(&h)[0];
    assert_eq!(
        trace["details"]["legacy_subreddits"].as_array().map(Vec::len),
        Some(2)
    );
}
