//! `harbor load FILE...`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::Args;
use harbor_core::WriteDisposition;
use harbor_core::normalize::Routing;
use harbor_pipeline::{LoadFilesOptions, RunSummary};

use crate::output::{Progress, UserError, pipeline_error};
use crate::settings::Settings;

/// Load NDJSON (plain or .zst) or JSON Listing files.
///
/// Reddit things (`{"kind":"t3","data":{...}}`), Listing pages, `/comments` responses and
/// morechildren answers go to their tables (submissions, comments, redditors, subreddits) whatever
/// --table says; bare objects (dump lines) go to --table, or are detected as submissions or comments.
/// A file already loaded (same size and modification time) is skipped unless --force.
///
/// Exit codes: 0 loaded; 1 failure (destination, bug); 2 the user's to fix (bad input, config,
/// a package set aside); 3 loaded, but more records were rejected than --max-rejects allows.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Input files: .ndjson/.jsonl (one object per line), .zst (zstd NDJSON, dumps), .json (a document).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Table for bare objects (submissions, comments, or any name).
    #[arg(long, short = 't')]
    table: Option<String>,
    /// How rows are written: merge (upsert on the primary key), append or replace.
    #[arg(long, value_parser = ["merge", "append", "replace"])]
    disposition: Option<String>,
    /// Load files again even if they were loaded before.
    #[arg(long)]
    force: bool,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Exit with code 3 when more records than this were rejected: a count (`100`) or a share of
    /// the records read (`5%`). The accepted records are loaded either way. Default: fail only when
    /// every record was rejected.
    #[arg(long, value_name = "N|P%", value_parser = MaxRejects::parse)]
    max_rejects: Option<MaxRejects>,
}

/// The `--max-rejects` limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxRejects {
    /// At most this many rejects.
    Count(u64),
    /// At most this percentage of the records read.
    Percent(f64),
}

impl MaxRejects {
    fn parse(s: &str) -> Result<MaxRejects, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a percentage (expected e.g. 5%)"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("`{s}`: a percentage between 0% and 100%"));
            }
            return Ok(MaxRejects::Percent(v));
        }
        s.parse()
            .map(MaxRejects::Count)
            .map_err(|_| format!("`{s}` is neither a count (100) nor a percentage (5%)"))
    }

    /// Whether `rejects` of `records` exceed the limit (`None`: the default, all rejected).
    pub fn exceeded(limit: Option<MaxRejects>, rejects: u64, records: u64) -> bool {
        match limit {
            None => records > 0 && rejects >= records,
            Some(MaxRejects::Count(n)) => rejects > n,
            Some(MaxRejects::Percent(p)) => records > 0 && (rejects as f64) * 100.0 > p * records as f64,
        }
    }

    fn describe(limit: Option<MaxRejects>) -> String {
        match limit {
            None => "the default limit fails a load when every record is rejected".into(),
            Some(MaxRejects::Count(n)) => format!("--max-rejects {n}"),
            Some(MaxRejects::Percent(p)) => format!("--max-rejects {p}%"),
        }
    }
}

pub fn run(settings: &Settings, args: LoadArgs) -> anyhow::Result<()> {
    for f in &args.files {
        if !f.exists() {
            return Err(UserError {
                message: format!("input file {} does not exist", f.display()),
                hint: Some("check the path; nothing was loaded".into()),
            }
            .into());
        }
    }
    let opts = options(
        settings,
        args.table.clone(),
        args.disposition.as_deref(),
        args.force,
    )?;
    crate::traced::run_locked(settings, "load", !args.no_wait, |dest, traced| {
        load_traced(settings, &args, opts, dest, traced)
    })
}

fn load_traced(
    settings: &Settings,
    args: &LoadArgs,
    opts: LoadFilesOptions,
    dest: Box<dyn harbor_core::destination::Destination>,
    traced: &mut crate::traced::Traced,
) -> anyhow::Result<()> {
    let described = dest.describe();
    let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
    let total = input_bytes(&args.files);
    let counter = Arc::new(AtomicU64::new(0));
    let progress = Progress::bytes("loading", total, counter.clone());
    let started = std::time::Instant::now();
    let result = pipeline.load_files(&args.files, &opts, counter);
    progress.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let notices = pipeline.package_notices();
            crate::cmd::packages::record_notices(traced, &notices);
            crate::cmd::packages::print_notices(&notices);
            return Err(pipeline_error(e));
        }
    };
    let secs = started.elapsed().as_secs_f64();
    record(traced, &summary, total);
    if args.json {
        crate::cmd::packages::print_notices(&summary.packages);
        println!("{}", summary_json(&summary, &described, secs));
    } else {
        print_summary(&summary, &described, secs);
    }
    rejects_check(&summary, args.max_rejects)
}

/// The `--max-rejects` check after a committed load.
fn rejects_check(s: &RunSummary, limit: Option<MaxRejects>) -> anyhow::Result<()> {
    let (rejects, records) = (s.extract.rejects, s.extract.records);
    if s.load.is_none() || !MaxRejects::exceeded(limit, rejects, records) {
        return Ok(());
    }
    let rows: u64 = s.load.iter().flat_map(|l| l.rows.iter().map(|(_, n)| n)).sum();
    let load_id = s.load.as_ref().map(|l| l.load_id.as_str()).unwrap_or("-");
    let file = s
        .rejects_path
        .as_ref()
        .map(|p| format!("; the rejected records are in {}", p.display()))
        .unwrap_or_default();
    Err(crate::output::Failure {
        code: 3,
        message: format!(
            "{rejects} of {records} records were rejected ({}); what was accepted is loaded: {rows} rows in load \
             {load_id}{file}",
            MaxRejects::describe(limit)
        ),
        hint: Some(
            "check that the input is NDJSON or JSON of Reddit things or objects; --max-rejects N or P% sets the \
             limit"
                .into(),
        ),
    }
    .into())
}

/// The size of the input files together (unreadable ones count 0; the load reports them).
pub(crate) fn input_bytes(files: &[std::path::PathBuf]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// What the run trace keeps of a load.
pub(crate) fn record(traced: &mut crate::traced::Traced, s: &RunSummary, bytes: u64) {
    traced.stage("extract", s.seconds.0);
    traced.stage("load", s.seconds.1);
    let stats = traced.stats();
    stats.bytes = bytes;
    stats.rejects = s.extract.rejects;
    if let Some(load) = &s.load {
        for (t, n) in &load.rows {
            *stats.rows.entry(t.clone()).or_default() += n;
        }
        stats
            .details
            .insert("load_id".into(), serde_json::Value::String(load.load_id.clone()));
    }
    if !s.skipped.is_empty() {
        stats
            .details
            .insert("skipped_files".into(), serde_json::json!(s.skipped));
    }
    crate::cmd::packages::record_notices(traced, &s.packages);
}

/// The load options of the settings for one run (shared with runs started through the API):
/// `[load]`, `[contracts]`, `[tables]` and `[pii]`, bare objects routed to `table`.
pub fn options(
    settings: &Settings,
    table: Option<String>,
    disposition: Option<&str>,
    force: bool,
) -> anyhow::Result<LoadFilesOptions> {
    let mut extract = crate::cmd::pii::extract_options(settings)?;
    extract.normalize.routing = Routing { default_table: table };
    Ok(LoadFilesOptions {
        extract,
        disposition: disposition.and_then(WriteDisposition::parse),
        force,
    })
}

fn summary_json(s: &RunSummary, dest: &str, secs: f64) -> serde_json::Value {
    serde_json::json!({
        "destination": dest,
        "load_id": s.load.as_ref().map(|l| l.load_id.clone()),
        "records": s.extract.records,
        "unchanged_records": s.extract.unchanged,
        "rows": s.load.as_ref().map(|l| l.rows.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        "new_columns": s.extract.resolve.new_columns,
        "new_tables": s.extract.resolve.new_tables,
        "schema_changes": s.load.as_ref().map(|l| l.schema_changes.clone()),
        "rejects": s.extract.rejects,
        "rejects_file": s.rejects_path,
        "discarded_rows": s.extract.resolve.discarded_rows,
        "discarded_values": s.extract.resolve.discarded_values,
        "json_columns": s.extract.resolve.json_columns.iter().map(|(t, c, r)| serde_json::json!({"table": t, "column": c, "reason": r})).collect::<Vec<_>>(),
        "overflowed_keys": s.extract.resolve.overflowed.iter().map(|(t, p)| (t.clone(), p.len())).collect::<std::collections::BTreeMap<_, _>>(),
        "more_stubs_skipped": s.extract.more_stubs,
        "skipped_files": s.skipped,
        "recovered_loads": s.recovered.iter().map(|r| r.load_id.clone()).collect::<Vec<_>>(),
        "packages_other_destination": s.packages.other_destination,
        "packages_set_aside": s.packages.set_aside,
        "packages_failed": s.packages.failed,
        "seconds": secs,
        "seconds_extract": s.seconds.0,
        "seconds_load": s.seconds.1,
    })
}

fn print_summary(s: &RunSummary, dest: &str, secs: f64) {
    for r in &s.recovered {
        eprintln!(
            "recovered: replayed package {} left by an interrupted run",
            r.load_id
        );
    }
    for f in &s.skipped {
        eprintln!("skipped {} (already loaded; --force loads it again)", f.display());
    }
    crate::cmd::packages::print_notices(&s.packages);
    let Some(load) = &s.load else {
        eprintln!("nothing to load");
        return;
    };
    eprintln!("loaded into {dest} (load {})", load.load_id);
    let width = load.rows.iter().map(|(t, _)| t.len()).max().unwrap_or(5).max(5);
    for (t, n) in &load.rows {
        eprintln!("  {t:<width$}  {n:>10} rows");
    }
    let new_cols = s.extract.resolve.new_columns.len();
    eprintln!(
        "  {} records, {} new tables, {new_cols} new columns, {} rejects, {:.2} s (normalize {:.2} s, load {:.2} s)",
        s.extract.records,
        s.extract.resolve.new_tables.len(),
        s.extract.rejects,
        secs,
        s.seconds.0,
        s.seconds.1
    );
    if s.extract.unchanged > 0 {
        eprintln!(
            "  {} records skipped: identical to records already stored",
            s.extract.unchanged
        );
    }
    if s.extract.resolve.discarded_rows + s.extract.resolve.discarded_values > 0 {
        eprintln!(
            "  schema contract discarded {} rows and {} values",
            s.extract.resolve.discarded_rows, s.extract.resolve.discarded_values
        );
    }
    for note in s.extract.resolve.wide_notes() {
        eprintln!("  {note}");
    }
    if let Some(p) = &s.rejects_path {
        eprintln!("  rejected records are in {}", p.display());
    }
}

#[cfg(test)]
mod tests {
    use super::MaxRejects;

    #[test]
    fn max_rejects_parses_and_compares() {
        assert_eq!(MaxRejects::parse("10"), Ok(MaxRejects::Count(10)));
        assert_eq!(MaxRejects::parse("2.5%"), Ok(MaxRejects::Percent(2.5)));
        assert!(MaxRejects::parse("ten").is_err());
        assert!(MaxRejects::parse("150%").is_err());
        assert!(MaxRejects::exceeded(None, 4005, 4005));
        assert!(!MaxRejects::exceeded(None, 4004, 4005));
        assert!(!MaxRejects::exceeded(None, 0, 0));
        assert!(MaxRejects::exceeded(Some(MaxRejects::Count(0)), 1, 10));
        assert!(!MaxRejects::exceeded(Some(MaxRejects::Count(1)), 1, 10));
        assert!(MaxRejects::exceeded(Some(MaxRejects::Percent(10.0)), 2, 10));
        assert!(!MaxRejects::exceeded(Some(MaxRejects::Percent(10.0)), 1, 10));
    }
}
