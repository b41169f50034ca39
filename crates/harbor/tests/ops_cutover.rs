//! `harbor cutover`: phases route the right subreddits, the legacy command gets the legacy share,
//! rollback is fast and audited.

#[allow(unused_imports)]
mod common;
mod ops_common;

use common::{Harbor, legacy_project, ok};

const SUBS: &str = "opensource,sideproject,productivity,freelance,personalfinance";

/// A project whose legacy command is a script that appends its arguments to `legacy.log`.
fn project() -> Harbor {
    legacy_project(&SUBS.split(',').collect::<Vec<_>>())
}

fn routes(h: &Harbor) -> (Vec<String>, Vec<String>) {
    let out = ok(&h.run(&["cutover", "route", "--subreddits", SUBS, "--run-legacy", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("route json");
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .expect(k)
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    (list("harbor"), list("legacy"))
}

fn legacy_calls(h: &Harbor) -> Vec<String> {
    std::fs::read_to_string(h.path().join("legacy.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn phases_route_the_right_subreddits_and_the_legacy_command_gets_the_rest() {
    let h = project();
    // Without a cutover everything is harbor's and the legacy command is not run.
    let (harbor, legacy) = routes(&h);
    assert_eq!((harbor.len(), legacy.len()), (5, 0));
    assert!(legacy_calls(&h).is_empty());

    let mut previous: Vec<String> = Vec::new();
    for (phase, want) in [("10%", 1), ("50%", 3), ("100%", 5)] {
        ok(&h.run(&["cutover", "set", phase, "--reason", "plan step", "--by", "tester"]));
        let (harbor, legacy) = routes(&h);
        assert_eq!(harbor.len(), want, "{phase}: {harbor:?}");
        assert_eq!(harbor.len() + legacy.len(), 5);
        // A subreddit moved to harbor stays there as the share grows.
        assert!(
            previous.iter().all(|s| harbor.contains(s)),
            "{previous:?} then {harbor:?}"
        );
        previous = harbor;
        if !legacy.is_empty() {
            let calls = legacy_calls(&h);
            assert_eq!(calls.last(), Some(&format!("--subreddits {}", legacy.join(","))));
        }
    }
    // 100%: the legacy command was not run a third time.
    assert_eq!(legacy_calls(&h).len(), 2);

    // An explicit list.
    ok(&h.run(&[
        "cutover",
        "set",
        "--subreddits",
        "freelance,opensource",
        "--by",
        "tester",
    ]));
    let (harbor, _) = routes(&h);
    assert_eq!(harbor, ["opensource", "freelance"]);

    let status = ok(&h.run(&["cutover", "status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&status).expect("status");
    assert_eq!(v["phase"], "list");
    let audit = v["audit"].as_array().expect("audit");
    assert_eq!(audit.len(), 4);
    assert_eq!(audit[0]["phase_to"], "list");
    assert_eq!(audit[1]["phase_to"], "100%");
    assert_eq!(audit[1]["why"], "plan step");
    assert_eq!(audit[1]["who"], "tester");
    assert_eq!(audit[3]["phase_from"], "off");
}

#[test]
fn rollback_sends_everything_to_legacy_in_under_a_second_and_is_audited() {
    let h = project();
    ok(&h.run(&["cutover", "set", "100%", "--by", "tester"]));
    let t0 = std::time::Instant::now();
    let out = ok(&h.run(&["cutover", "rollback", "--reason", "error rate", "--by", "oncall"]));
    let wall = t0.elapsed().as_secs_f64();
    let secs: f64 = out
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(secs < 1.0, "rollback took {secs} s");
    assert!(wall < 5.0, "the whole command took {wall} s");

    let (harbor, legacy) = routes(&h);
    assert!(harbor.is_empty());
    assert_eq!(legacy.len(), 5);
    assert_eq!(legacy_calls(&h).last(), Some(&format!("--subreddits {SUBS}")));

    let mut store = ops_common::store(&h.db());
    let rows = store
        .query(
            "SELECT action, phase_from, phase_to, who, why, seconds FROM _harbor_cutover_audit ORDER BY changed_at DESC LIMIT 1",
            &[],
            "audit",
        )
        .expect("audit");
    let r = &rows[0];
    let t = |i: usize| r[i].as_text().unwrap_or_default();
    assert_eq!(
        (t(0), t(1), t(2), t(3), t(4)),
        (
            "rollback".into(),
            "100%".into(),
            "manual_only".into(),
            "oncall".into(),
            "error rate".into()
        )
    );
    assert!(r[5].as_f64().unwrap_or(9.0) < 1.0);
    // Every route row says legacy.
    let harbor_rows = store
        .query(
            "SELECT count(*) FROM _harbor_cutover WHERE route <> 'legacy'",
            &[],
            "routes",
        )
        .expect("routes");
    assert_eq!(harbor_rows[0][0].as_i64(), Some(0));
}
