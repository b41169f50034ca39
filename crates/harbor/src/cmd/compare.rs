//! `harbor compare`: the parallel test between the legacy collector's tables and ours.

use clap::Args;
use harbor_ops::compare::{CompareOptions, CompareReport, compare};

use crate::output::UserError;
use crate::settings::Settings;

/// Compare a legacy RedditHarbor database with the destination for a subreddit and time window:
/// row counts, ids on one side only, field differences on the shared columns. Passes when the
/// counts are within the tolerance and ids present on both sides have no field differences.
/// Exits with 3 when the verdict is fail.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The legacy database: postgres://user:password@host/db (or a DuckDB file).
    #[arg(long, value_name = "URL", env = "HARBOR_LEGACY_URL")]
    legacy: String,
    /// Only this subreddit.
    #[arg(long, short = 's')]
    subreddit: Option<String>,
    /// Window start on created_utc: RFC 3339, YYYY-MM-DD or epoch seconds.
    #[arg(long)]
    since: Option<String>,
    /// Window end (exclusive).
    #[arg(long)]
    until: Option<String>,
    /// Allowed difference of the row counts, in percent.
    #[arg(long, default_value_t = 5.0)]
    tolerance: f64,
    /// Field differences allowed on ids present on both sides.
    #[arg(long, default_value_t = 0)]
    max_field_diffs: u64,
    /// Fields to compare (default: title, selftext, created_utc, subreddit [, author, url]).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// How many ids and differences to list.
    #[arg(long, default_value_t = 50)]
    show: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Parses RFC 3339, `YYYY-MM-DD` or epoch seconds.
pub fn parse_time(s: &str) -> anyhow::Result<f64> {
    if let Ok(n) = s.trim().parse::<f64>() {
        return Ok(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp_micros() as f64 / 1e6);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp() as f64);
    }
    Err(UserError {
        message: format!("cannot read the time `{s}`"),
        hint: Some("use RFC 3339 (2025-01-02T00:00:00Z), a date (2025-01-02) or epoch seconds".into()),
    }
    .into())
}

pub fn run(settings: &Settings, args: CompareArgs) -> anyhow::Result<()> {
    let opts = CompareOptions {
        subreddit: args.subreddit.clone(),
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
        tolerance_pct: args.tolerance,
        max_field_diffs: args.max_field_diffs,
        fields: args.fields.clone(),
        show: args.show,
    };
    let mut legacy = harbor_ops::store::open(&args.legacy)?;
    let mut ours = crate::dest::open_ops(settings)?;
    let report = compare(legacy.as_mut(), ours.as_mut(), &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if report.verdict != "pass" {
        std::process::exit(3);
    }
    Ok(())
}

fn print_report(r: &CompareReport) {
    let sub = r
        .subreddit
        .as_deref()
        .map(|s| format!("r/{s}"))
        .unwrap_or_else(|| "all subreddits".into());
    println!(
        "compare {sub} (legacy layout: {:?}, fields: {})",
        r.layout,
        r.fields.join(", ")
    );
    println!(
        "  rows: legacy {}, harbor {} ({:.1}% difference)",
        r.legacy_count, r.harbor_count, r.count_diff_pct
    );
    println!("  only in legacy: {}", r.only_legacy_count);
    for id in &r.only_legacy {
        println!("    {id}");
    }
    println!("  only in harbor: {}", r.only_harbor_count);
    for id in &r.only_harbor {
        println!("    {id}");
    }
    println!("  field differences: {}", r.field_diff_count);
    for d in &r.field_diffs {
        println!(
            "    {} {}: legacy {} / harbor {}",
            d.id, d.field, d.legacy, d.harbor
        );
    }
    println!("verdict: {}", r.verdict.to_uppercase());
    for reason in &r.reasons {
        println!("  - {reason}");
    }
}
