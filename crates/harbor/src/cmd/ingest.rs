//! `harbor ingest FILE...`: Pushshift / Arctic Shift dumps into `submissions` and `comments`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use harbor_dumps::{DumpFilter, KeywordFilter, parse_time};
use harbor_pipeline::{IngestOptions, IngestProgress, IngestSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// Ingest Reddit dump files (Pushshift / Arctic Shift `RS_*.zst` submissions, `RC_*.zst` comments).
///
/// Files are zstd-compressed NDJSON (2 GiB windows are fine), plain NDJSON or `.json` files with one
/// object per line. Records go to `submissions` or `comments` (from the file name, or per record:
/// submissions have a title, comments a body) and merge on `id` with rows collected from the API.
///
/// Filters apply while reading, before rows are built. A package is committed every --commit-every
/// lines together with the file position, so a killed ingest resumes after the last committed line:
/// run the same command again. A file that was ingested completely is skipped.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Dump files: RS_YYYY-MM.zst, RC_YYYY-MM.zst, *.ndjson, *.ndjson.zst, *.json (one object per line).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Keep only these subreddits (case-insensitive; repeat or separate with commas).
    #[arg(long, short = 's', value_name = "NAME", value_delimiter = ',')]
    subreddit: Vec<String>,
    /// Keep only the subreddits listed in this file (one per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    subreddits_file: Option<PathBuf>,
    /// Keep records created at or after this time (2019-08, 2019-08-15, RFC 3339, or epoch seconds; UTC).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Keep records created before this time (same forms as --from).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Keep only records by these authors (repeat or separate with commas).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    author: Vec<String>,
    /// Keep only records whose title or text contains a problem keyword (struggle, frustrated, wish, ...).
    #[arg(long)]
    problem_only: bool,
    /// Problem keywords instead of the default list (implies --problem-only; separate with commas).
    #[arg(long, value_name = "WORD", value_delimiter = ',')]
    keywords: Vec<String>,
    /// Keep only these top-level fields of each record (`id` is always kept; separate with commas).
    #[arg(long, value_name = "FIELD", value_delimiter = ',')]
    fields: Vec<String>,
    /// Input lines per committed package: the most work a kill can lose.
    #[arg(long, value_name = "N", default_value_t = 250_000)]
    commit_every: u64,
    /// Read every file from the beginning, ignoring the stored position.
    #[arg(long)]
    restart: bool,
    /// Go on with the next file when a file turns out to be corrupt (the error is in the summary).
    #[arg(long)]
    skip_corrupt: bool,
    /// Progress on stderr: a bar on a terminal (auto), always as plain lines, or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// A plain line every two seconds and one at the end.
    Plain,
    /// Nothing.
    None,
}

fn filter(args: &IngestArgs) -> anyhow::Result<DumpFilter> {
    let user = |e: harbor_dumps::Error, hint: &str| UserError {
        message: e.to_string(),
        hint: Some(hint.into()),
    };
    let mut f = DumpFilter::default();
    if !args.subreddit.is_empty() {
        f = f.subreddits(args.subreddit.iter().map(String::as_str));
    }
    if let Some(p) = &args.subreddits_file {
        f = f
            .subreddits_file(p)
            .map_err(|e| user(e, "one subreddit name per line; `#` starts a comment"))?;
    }
    let time = |s: &Option<String>| -> anyhow::Result<Option<f64>> {
        match s {
            Some(s) => Ok(Some(parse_time(s).map_err(|e| {
                user(
                    e,
                    "for example --from 2019-08 --to 2019-09 (UTC; --to is exclusive)",
                )
            })?)),
            None => Ok(None),
        }
    };
    let (from, to) = (time(&args.from)?, time(&args.to)?);
    if let (Some(a), Some(b)) = (from, to)
        && a >= b
    {
        return Err(UserError {
            message: "--from must be before --to".into(),
            hint: Some("--to is exclusive: --from 2019-08 --to 2019-09 keeps August 2019".into()),
        }
        .into());
    }
    if from.is_some() || to.is_some() {
        f = f.time_range(from, to);
    }
    if !args.author.is_empty() {
        f = f.authors(args.author.iter().map(String::as_str));
    }
    if !args.keywords.is_empty() {
        let k = KeywordFilter::new(args.keywords.iter().map(String::as_str))
            .map_err(|e| user(e, "keywords are plain words or phrases"))?;
        f = f.keywords(k);
    } else if args.problem_only {
        f = f.keywords(KeywordFilter::default());
    }
    if !args.fields.is_empty() {
        f = f.fields(args.fields.iter().map(String::as_str));
    }
    Ok(f)
}

pub fn run(settings: &Settings, args: IngestArgs) -> anyhow::Result<()> {
    for f in &args.files {
        if !f.is_file() {
            return Err(UserError {
                message: format!("dump file {} does not exist", f.display()),
                hint: Some("check the path; nothing was ingested".into()),
            }
            .into());
        }
    }
    let workdir = std::path::absolute(&settings.workdir)?;
    let opts = IngestOptions {
        extract: crate::cmd::pii::extract_options(settings)?,
        filter: Arc::new(filter(&args)?),
        package_lines: args.commit_every.max(1),
        rejects_path: workdir
            .join(&settings.pipeline)
            .join("rejects")
            .join(format!("ingest-{}.ndjson", harbor_core::package::new_load_id())),
        restart: args.restart,
        skip_corrupt: args.skip_corrupt,
    };
    crate::traced::run_locked(settings, "ingest", !args.no_wait, |dest, traced| {
        let described = dest.describe();
        let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
        let total = crate::cmd::load::input_bytes(&args.files);
        let progress = Arc::new(IngestProgress::default());
        let shown = ShowProgress::start(args.progress, total, progress.clone());
        let result = pipeline.ingest(&args.files, &opts, &progress);
        shown.finish();
        let notices = pipeline.package_notices();
        crate::cmd::packages::record_notices(traced, &notices);
        crate::cmd::packages::print_notices(&notices);
        let summary = result.map_err(pipeline_error)?;
        record(traced, &summary);
        if args.json {
            println!("{}", summary_json(&summary, &described));
        } else {
            print_summary(&summary, &described);
        }
        if summary.files.iter().any(|f| f.error.is_some()) {
            return Err(UserError {
                message: "some files were corrupt; everything before the corrupt part was ingested".into(),
                hint: Some("re-download the files named above; the rest is loaded".into()),
            }
            .into());
        }
        Ok(())
    })
}

/// What the run trace keeps of an ingest.
fn record(traced: &mut crate::traced::Traced, s: &IngestSummary) {
    traced.stage("ingest", s.seconds);
    let stats = traced.stats();
    stats.rows = s.rows.clone();
    stats.rejects = s.rejects;
    stats.bytes = s.files.iter().map(|f| f.bytes).sum();
    stats.details.insert(
        "lines".into(),
        serde_json::json!(s.files.iter().map(|f| f.lines).sum::<u64>()),
    );
    stats
        .details
        .insert("packages".into(), serde_json::json!(s.packages));
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn summary_json(s: &IngestSummary, dest: &str) -> serde_json::Value {
    let lines: u64 = s.files.iter().map(|f| f.lines).sum();
    let bytes: u64 = s.files.iter().map(|f| f.bytes).sum();
    let kept: u64 = s.files.iter().map(|f| f.kept).sum();
    let files: Vec<_> = s
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path, "kind": f.kind, "resumed_at_line": f.resumed_at, "lines": f.lines,
                "bytes": f.bytes, "kept": f.kept, "dropped": f.dropped, "skipped": f.skipped, "error": f.error,
            })
        })
        .collect();
    serde_json::json!({
        "destination": dest,
        "files": files,
        "lines": lines,
        "bytes": bytes,
        "kept": kept,
        "packages": s.packages,
        "rows": s.rows,
        "new_columns": s.new_columns,
        "rejects": s.rejects,
        "rejects_file": s.rejects_path,
        "recovered_loads": s.recovered.iter().map(|r| r.load_id.clone()).collect::<Vec<_>>(),
        "seconds": s.seconds,
        "mb_per_s": rate(bytes, s.seconds) / 1e6,
        "lines_per_s": rate(lines, s.seconds),
    })
}

fn print_summary(s: &IngestSummary, dest: &str) {
    for r in &s.recovered {
        eprintln!(
            "recovered: replayed package {} left by an interrupted run",
            r.load_id
        );
    }
    for f in &s.files {
        let from = if f.resumed_at > 0 {
            format!(" (resumed after line {})", f.resumed_at)
        } else {
            String::new()
        };
        if f.skipped {
            eprintln!(
                "skipped {} (ingested completely before; --restart reads it again)",
                f.path.display()
            );
            continue;
        }
        eprintln!(
            "{}: {} lines{from}, {} kept, {} filtered out -> {}",
            f.path.display(),
            f.lines,
            f.kept,
            f.dropped,
            f.kind
        );
        if let Some(e) = &f.error {
            eprintln!("  error: {e}");
        }
    }
    eprintln!("ingested into {dest} in {} packages", s.packages);
    let width = s.rows.keys().map(String::len).max().unwrap_or(5).max(5);
    for (t, n) in &s.rows {
        eprintln!("  {t:<width$}  {n:>10} rows");
    }
    let bytes: u64 = s.files.iter().map(|f| f.bytes).sum();
    let lines: u64 = s.files.iter().map(|f| f.lines).sum();
    eprintln!(
        "  {:.1} s, {:.1} MB/s uncompressed, {:.0} lines/s, {} new columns, {} rejects",
        s.seconds,
        rate(bytes, s.seconds) / 1e6,
        rate(lines, s.seconds),
        s.new_columns.len(),
        s.rejects
    );
    if let Some(p) = &s.rejects_path {
        eprintln!("  rejected lines are in {}", p.display());
    }
}

/// Progress of an ingest: file bytes against the total (for the ETA), lines per second, rows kept.
struct ShowProgress {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ShowProgress {
    fn start(mode: ProgressMode, total: u64, p: Arc<IngestProgress>) -> ShowProgress {
        let bar = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "ingest [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                Some(bar)
            }
            ProgressMode::Plain => None,
            _ => {
                return ShowProgress {
                    stop: Arc::new(AtomicBool::new(true)),
                    handle: None,
                };
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut last_print = Instant::now();
            loop {
                let last = s.load(Ordering::Relaxed);
                if !last {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let read = p.file_bytes.load(Ordering::Relaxed);
                let lines = p.lines.load(Ordering::Relaxed);
                let kept = p.kept.load(Ordering::Relaxed);
                let secs = t0.elapsed().as_secs_f64();
                let msg = format!("{lines} lines ({:.0}/s), {kept} kept", rate(lines, secs));
                match &bar {
                    Some(b) => {
                        b.set_position(read);
                        b.set_message(msg);
                    }
                    None if last || last_print.elapsed() >= Duration::from_secs(2) => {
                        last_print = Instant::now();
                        let eta = if read > 0 && total > read {
                            format!("{:.0} s", secs * (total - read) as f64 / read as f64)
                        } else {
                            "-".into()
                        };
                        eprintln!(
                            "progress: {:.1}/{:.1} MB read, {msg}, eta {eta}",
                            read as f64 / 1e6,
                            total as f64 / 1e6
                        );
                    }
                    None => {}
                }
                if last {
                    break;
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        ShowProgress {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
