//! `harbor import --from postgres://...`: the legacy RedditHarbor database into our tables.

use clap::Args;
use harbor_ops::import::{ImportOptions, ImportReport, import};
use harbor_pipeline::ExtractOptions;

use crate::settings::Settings;

/// Import a legacy RedditHarbor database, in either layout: the original tables (submission,
/// comment, redditor, with score / upvote_ratio / num_comments time series) or the migration
/// plan's (submissions, comments). Ids are kept, so later collection merges with the imported rows;
/// time series become submission_history rows; the listing cursors start after the newest imported
/// post of each subreddit, so the first incremental run fetches only newer posts. One transaction.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The legacy database: postgres://user:password@host:port/db (or a DuckDB file).
    #[arg(long, value_name = "URL", env = "HARBOR_LEGACY_URL")]
    from: String,
    /// Only these subreddits.
    #[arg(long, value_delimiter = ',')]
    subreddits: Vec<String>,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    let report = crate::traced::run_locked(settings, "import", !args.no_wait, |dest, traced| {
        run_traced(settings, &args, dest, traced)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let layout = match report.layout {
            Some(harbor_ops::legacy::Layout::Original) => "original (submission, comment, redditor tables)",
            Some(harbor_ops::legacy::Layout::Plan) => "migration plan (submissions, comments tables)",
            None => "unknown",
        };
        eprintln!(
            "imported {} submissions, {} comments, {} redditors, {} history rows ({} deleted authors) from the {} layout",
            report.submissions,
            report.comments,
            report.redditors,
            report.history,
            report.deleted_authors,
            layout
        );
        for (t, n) in &report.rows {
            eprintln!("  {t:<30} {n:>10} rows");
        }
        for (k, v) in &report.cursors {
            eprintln!("  cursor {k} = {v}");
        }
        for s in &report.skipped {
            eprintln!("  not imported: {s}");
        }
        if report.analyses > 0 {
            eprintln!(
                "  {} opportunity scores kept from the legacy opportunity_analysis table (scorer `imported`): \
                 `harbor score` leaves those posts alone, `harbor score --rescore` scores them again",
                report.analyses
            );
        }
    }
    Ok(())
}

fn run_traced(
    settings: &Settings,
    args: &ImportArgs,
    dest: Box<dyn harbor_core::destination::Destination>,
    traced: &mut crate::traced::Traced,
) -> anyhow::Result<ImportReport> {
    let mut legacy = harbor_ops::store::open(&args.from)?;
    let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
    let mut extract = ExtractOptions {
        chunk_records: settings.load.chunk_records,
        ..Default::default()
    };
    if settings.load.workers > 0 {
        extract.workers = settings.load.workers;
    }
    let opts = ImportOptions {
        subreddits: args.subreddits.clone(),
        extract,
        rejects_dir: settings.workdir.join(&settings.pipeline).join("rejects"),
        lag_window_secs: settings.collect.lag_window_secs,
    };
    let t0 = std::time::Instant::now();
    let report = import(legacy.as_mut(), &mut pipeline, &opts)?;
    traced.stage("import", t0.elapsed().as_secs_f64());
    let stats = traced.stats();
    stats.rows = report.rows.clone();
    stats.rejects = report.rejects;
    stats
        .details
        .insert("source".into(), serde_json::json!(legacy.describe()));
    Ok(report)
}
