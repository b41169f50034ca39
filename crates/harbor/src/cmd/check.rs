//! `harbor check`: the rollback triggers.

use clap::Args;
use harbor_ops::alert::Alert;
use harbor_ops::check::{CheckReport, evaluate};

use crate::settings::Settings;

/// Evaluate the rollback triggers over a window ([check] in harbor.toml): error rate, duplicate
/// primary keys, gaps in created_utc per subreddit, HTTP 429 overruns, runs over the SLA. Exits
/// with 3 when a trigger fires (0 otherwise); with --rollback, also sends every subreddit back to
/// legacy. A firing check sends an alert when [alerts] is configured.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Window in hours, ending now (default: [check] window_hours, 6).
    #[arg(long)]
    window_hours: Option<f64>,
    /// Roll the cutover back when a trigger fires.
    #[arg(long)]
    rollback: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: CheckArgs) -> anyhow::Result<()> {
    let mut cfg = settings.check.clone();
    if let Some(h) = args.window_hours {
        cfg.window_hours = h;
    }
    let mut store = crate::dest::open_ops(settings)?;
    let report = evaluate(store.as_mut(), &settings.pipeline, &cfg, None)?;
    let mut rolled_back = None;
    if report.fired && args.rollback {
        let why = format!("harbor check: {}", report.fired_names().join(", "));
        rolled_back = Some(harbor_ops::cutover::rollback(
            store.as_mut(),
            &settings.pipeline,
            "harbor check",
            Some(&why),
        )?);
    }
    if report.fired
        && settings.alerts.on_check
        && let Err(e) = harbor_ops::alert::send(&settings.alerts, &alert(&report, rolled_back))
    {
        tracing::warn!(error = %e, "Cannot deliver the check alert");
        eprintln!("warning: {e}");
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["rolled_back"] = serde_json::json!(rolled_back.is_some());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_report(&report, rolled_back);
    }
    if report.fired {
        std::process::exit(3);
    }
    Ok(())
}

fn alert(r: &CheckReport, rolled_back: Option<f64>) -> Alert {
    let mut fields = std::collections::BTreeMap::new();
    for t in r.triggers.iter().filter(|t| t.fired) {
        fields.insert(t.name.to_owned(), t.summary.clone());
    }
    Alert {
        event: if rolled_back.is_some() {
            "rollback"
        } else {
            "check_triggered"
        }
        .into(),
        pipeline: r.pipeline.clone(),
        title: match rolled_back {
            Some(_) => format!("harbor check rolled pipeline {} back to legacy", r.pipeline),
            None => format!("harbor check: rollback triggers fired on pipeline {}", r.pipeline),
        },
        text: format!(
            "triggers: {} (window {} .. {})",
            r.fired_names().join(", "),
            r.since,
            r.until
        ),
        fields,
    }
}

fn print_report(r: &CheckReport, rolled_back: Option<f64>) {
    println!("check pipeline {} over {} .. {}", r.pipeline, r.since, r.until);
    for t in &r.triggers {
        println!(
            "  [{}] {:<11} {} (value {}, threshold {})",
            if t.fired { "FIRED" } else { " ok  " },
            t.name,
            t.summary,
            t.value,
            t.threshold
        );
        if t.fired {
            for i in t.items.iter().take(10) {
                println!("          {i}");
            }
        }
    }
    match rolled_back {
        Some(s) => println!("rolled back to legacy in {s:.3} s"),
        None if r.fired => println!("triggers fired (run with --rollback to roll back)"),
        None => println!("all clear"),
    }
}
