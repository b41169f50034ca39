//! Run traces, `harbor runs`, `harbor metrics` and failure alerts, end to end.

#[allow(unused_imports)]
mod common;
mod ops_common;

use common::{Harbor, ok};
use ops_common::{Webhook, now, posts};

#[test]
fn loads_write_traces_that_runs_and_metrics_report_and_failures_alert() {
    let h = Harbor::new();
    let hook = Webhook::start(vec![500, 503]);
    h.write(
        "harbor.toml",
        &format!(
            "[alerts]\nwebhook = \"{}\"\nformat = \"json\"\nretries = 3\nbackoff_secs = 0.05\n\n\
             [contracts.tables.submissions]\ncolumns = \"freeze\"\n",
            hook.url
        ),
    );
    let t = now();
    let a = h.write("a.ndjson", &posts("a", "rust", 30, t - 60.0, 60.0));
    ok(&h.run(&["load", a.to_str().unwrap_or_default()]));

    // A new column in a frozen table fails the run: a failed trace and an alert.
    let bad = h.write(
        "b.ndjson",
        "{\"kind\":\"t3\",\"data\":{\"id\":\"zz1\",\"subreddit\":\"rust\",\"title\":\"t\",\"brand_new_field\":1}}\n",
    );
    let out = h.run_env(
        &["load", bad.to_str().unwrap_or_default()],
        &[("HARBOR_DESTINATION", &format!("duckdb://{}", h.db().display()))],
    );
    assert!(!out.status.success());

    let out = h.run(&["runs", "--json"]);
    ok(&out);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runs json");
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (failed, good) = (&runs[0], &runs[1]);
    assert_eq!(good["status"], "ok");
    assert_eq!(good["command"], "load");
    assert_eq!(good["rows"]["submissions"], 30);
    assert_eq!(good["rows_total"], 30);
    assert!(good["bytes"].as_u64().unwrap_or(0) > 0);
    assert!(good["stages"]["load"].as_f64().is_some());
    assert!(good["seconds"].as_f64().unwrap_or(-1.0) >= 0.0);
    assert_eq!(failed["status"], "failed");
    let err = failed["error"].as_str().unwrap_or_default();
    assert!(err.contains("brand_new_field"), "{err}");

    // The text listing shows both.
    let out = h.run(&["runs", "--last", "5"]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" ok ") && text.contains(" failed "), "{text}");

    // The alert came through after two 5xx answers, as generic JSON, without the webhook secret.
    assert_eq!(hook.attempts(), 3, "two failures then a success");
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content_type, "application/json");
    assert_eq!(got[0].body["event"], "run_failed");
    assert_eq!(got[0].body["pipeline"], "reddit");
    assert!(
        got[0].body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("brand_new_field")
    );
    assert!(!got[0].body.to_string().contains("supersecretpath"));

    // Metrics: the exposition format, with the numbers of these runs.
    let out = h.run(&["metrics"]);
    ok(&out);
    let m = String::from_utf8_lossy(&out.stdout).into_owned();
    let sample = |name: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{m}"))
    };
    assert_eq!(
        sample("harbor_runs_total{pipeline=\"reddit\",command=\"load\",status=\"ok\"}"),
        1.0
    );
    assert_eq!(
        sample("harbor_runs_total{pipeline=\"reddit\",command=\"load\",status=\"failed\"}"),
        1.0
    );
    assert_eq!(
        sample("harbor_rows_loaded_total{pipeline=\"reddit\",table=\"submissions\"}"),
        30.0
    );
    assert_eq!(sample("harbor_run_errors_total{pipeline=\"reddit\"}"), 1.0);
    for line in m.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        // name{labels} value: the value parses, the name is a valid metric name.
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && name.starts_with("harbor_"),
            "{line}"
        );
    }
}

#[test]
fn a_trace_left_running_by_a_killed_run_is_marked_failed_by_the_next_run() {
    let h = Harbor::new();
    let a = h.write("a.ndjson", &posts("a", "rust", 5, now(), 60.0));
    let mut child = h
        .command(
            &["load", a.to_str().unwrap_or_default()],
            &[("HARBOR_TEST_PAUSE_AT", "extract")],
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    common::wait_for_pause(&mut child, "extract");
    child.kill().expect("kill");
    let _ = child.wait();
    let b = h.write("b.ndjson", &posts("b", "rust", 5, now(), 60.0));
    ok(&h.run(&["load", b.to_str().unwrap_or_default()]));
    let out = h.run(&["runs", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let statuses: Vec<&str> = runs
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["ok", "failed"]);
    assert!(
        runs[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted")
    );
}

#[test]
fn a_failed_run_is_mailed_through_smtp_beside_the_webhook() {
    let h = Harbor::new();
    let sink = harbor_testkit::SmtpSink::start().expect("smtp sink");
    let hook = Webhook::start(vec![]);
    h.write(
        "harbor.toml",
        &format!(
            "[alerts]\nwebhook = \"{}\"\nformat = \"json\"\n\n[alerts.email]\nfrom = \"harbor <harbor@example.com>\"\n\
             to = [\"ops@example.com\", \"oncall@example.com\"]\n\n\
             [contracts.tables.submissions]\ncolumns = \"freeze\"\n",
            hook.url
        ),
    );
    let a = h.write("a.ndjson", &posts("a", "rust", 3, now() - 60.0, 60.0));
    ok(&h.run(&["load", a.to_str().unwrap_or_default()]));
    assert!(sink.mails().is_empty(), "a good run sends nothing");
    let bad = h.write(
        "b.ndjson",
        "{\"kind\":\"t3\",\"data\":{\"id\":\"zz1\",\"subreddit\":\"rust\",\"title\":\"t\",\"brand_new_field\":1}}\n",
    );
    // The SMTP URL comes from the environment, as the runbook says to keep it.
    let out = h.run_env(
        &["load", bad.to_str().unwrap_or_default()],
        &[("HARBOR_ALERTS__EMAIL__SMTP_URL", &sink.url())],
    );
    assert!(!out.status.success());
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "harbor@example.com");
    assert_eq!(mail.to, ["ops@example.com", "oncall@example.com"]);
    assert!(mail.data.contains("Subject: [harbor] "), "{}", mail.data);
    assert!(mail.data.contains("brand_new_field"), "{}", mail.data);
    assert!(mail.data.contains("pipeline: reddit"), "{}", mail.data);
    assert_eq!(hook.received().len(), 1, "the webhook got it too");

    // A server that is not there: the run's own error stays the failure, the alert error is
    // reported without credentials.
    let out = h.run_env(
        &["load", bad.to_str().unwrap_or_default()],
        &[(
            "HARBOR_ALERTS__EMAIL__SMTP_URL",
            "smtp://user:hunter2@127.0.0.1:9",
        )],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("brand_new_field"), "{stderr}");
    assert!(
        stderr.contains("alert e-mail through smtp://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
