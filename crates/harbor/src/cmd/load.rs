//! `harbor load FILE...`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::Args;
use harbor_core::WriteDisposition;
use harbor_core::normalize::Routing;
use harbor_pipeline::{LoadFilesOptions, RejectLimit, RunSummary};

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
/// a package set aside); 3 refused: more records were rejected than --max-rejects allows.
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
    /// Refuse the load and exit with code 3 when more records than this were rejected: a count
    /// (`100`) or a share of the records read (`5%`). Nothing is loaded then (the rejects file is
    /// still written) and the next run of the same files is refused again. Default: refuse only
    /// when every record was rejected.
    #[arg(long, value_name = "N|P%", value_parser = RejectLimit::parse)]
    max_rejects: Option<RejectLimit>,
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
    let mut opts = options(
        settings,
        args.table.clone(),
        args.disposition.as_deref(),
        args.force,
    )?;
    opts.max_rejects = Some(args.max_rejects.unwrap_or(RejectLimit::AllRejected));
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
            if let harbor_pipeline::Error::TooManyRejects { .. } = e {
                return Err(crate::output::Failure {
                    code: 3,
                    message: e.to_string(),
                    hint: e.hint(),
                }
                .into());
            }
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
    Ok(())
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
    if s.load_ids.len() > 1 {
        stats
            .details
            .insert("load_ids".into(), serde_json::json!(s.load_ids));
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
    let package_bytes = harbor_pipeline::parse_size(&settings.load.package_size).map_err(|e| UserError {
        message: format!("[load] package_size: {e}"),
        hint: Some("set it to a size such as 64MB or 1GB (harbor.toml or HARBOR_LOAD__PACKAGE_SIZE)".into()),
    })?;
    Ok(LoadFilesOptions {
        extract,
        disposition: disposition.and_then(WriteDisposition::parse),
        force,
        max_rejects: None,
        package_bytes,
        overlap: settings.load.overlap_packages,
    })
}

fn summary_json(s: &RunSummary, dest: &str, secs: f64) -> serde_json::Value {
    serde_json::json!({
        "destination": dest,
        "load_id": s.load.as_ref().map(|l| l.load_id.clone()),
        "load_ids": s.load_ids,
        "resumed_files": s.resumed.iter().map(|(f, line)| serde_json::json!({"file": f, "after_line": line})).collect::<Vec<_>>(),
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
    for (f, line) in &s.resumed {
        eprintln!(
            "resumed {} after line {line} (committed by an interrupted run)",
            f.display()
        );
    }
    crate::cmd::packages::print_notices(&s.packages);
    let Some(load) = &s.load else {
        eprintln!("nothing to load");
        return;
    };
    if s.load_ids.len() > 1 {
        eprintln!(
            "loaded into {dest} ({} packages, last load {})",
            s.load_ids.len(),
            load.load_id
        );
    } else {
        eprintln!("loaded into {dest} (load {})", load.load_id);
    }
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
