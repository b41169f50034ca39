//! `harbor load`: input files into the destination as one package or, past the package size, as
//! several packages, each committed with the position it reached in its file.
//!
//! A package takes records until the input it consumed reaches [`LoadFilesOptions::package_bytes`]
//! (at a line boundary). Its state holds, for every file it touched, either the file's fingerprint
//! (`file:<path>` = size and mtime: loaded whole) or the fingerprint with the position reached
//! (line and uncompressed byte offset). The position commits in the same transaction as the rows,
//! so a killed load resumes after the last committed package: no duplicate, no gap, and memory
//! bounded by the package size rather than by the input.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use harbor_core::WriteDisposition;
use harbor_core::destination::LoadReport;
use harbor_core::state::PipelineState;
use harbor_core::testhook::pause_point;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::extract::{ExtractOptions, ExtractSummary, extract_records};
use crate::input::{Position, RawRecord, canonical, read_file_from};
use crate::rejects::RejectSink;
use crate::run::{PackageNotices, Pipeline, describe_inputs, mtime};

/// Input bytes per load package unless configured (`[load] package_size`): big enough that the
/// fixed cost of a transaction is small, small enough that memory stays a few hundred MB.
pub const DEFAULT_PACKAGE_BYTES: u64 = 64 << 20;

/// Options of one `load` run.
#[derive(Debug, Clone)]
pub struct LoadFilesOptions {
    /// Extraction and normalization.
    pub extract: ExtractOptions,
    /// Overrides the write disposition of the root tables in this run.
    pub disposition: Option<WriteDisposition>,
    /// Load files again even if the state says they were loaded.
    pub force: bool,
    /// Refuse the load (the package discarded) when more records than this were rejected; `None`:
    /// no limit. Packages of the same run committed before the limit was passed stay committed.
    pub max_rejects: Option<RejectLimit>,
    /// Uncompressed input bytes per package: a package is closed at the first line boundary at or
    /// past this size, and the next one starts there (at least 1).
    pub package_bytes: u64,
    /// Build the next package while the destination loads the last one (one more package of
    /// memory in flight). Off: each package is loaded before the next one is built.
    pub overlap: bool,
}

/// Parses a size: `64MB`, `512KB`, `1GB`, `1.5GB`, `1TB` or a number of bytes (units of 1024, case
/// insensitive, `B`, `KiB`-style spellings allowed).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let unit = unit.trim().trim_end_matches('b').trim_end_matches('i');
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit (expected e.g. 64MB, 512KB, 1GB or bytes)"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (expected e.g. 64MB, 512KB, 1GB or bytes)"))?;
    let bytes = (n * factor as f64).round();
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("`{s}`: a size of at least 1 byte"));
    }
    Ok(bytes as u64)
}

impl Default for LoadFilesOptions {
    fn default() -> Self {
        Self {
            extract: ExtractOptions::default(),
            disposition: None,
            force: false,
            max_rejects: None,
            package_bytes: DEFAULT_PACKAGE_BYTES,
            overlap: false,
        }
    }
}

/// How many rejected records a load accepts (`harbor load --max-rejects`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    /// Refused only when every record read was rejected (and at least one was read).
    AllRejected,
    /// At most this many rejects.
    Count(u64),
    /// At most this percentage of the records read.
    Percent(f64),
}

impl RejectLimit {
    /// Parses `100` or `5%`.
    pub fn parse(s: &str) -> std::result::Result<RejectLimit, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a percentage (expected e.g. 5%)"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("`{s}`: a percentage between 0% and 100%"));
            }
            return Ok(RejectLimit::Percent(v));
        }
        s.parse()
            .map(RejectLimit::Count)
            .map_err(|_| format!("`{s}` is neither a count (100) nor a percentage (5%)"))
    }

    /// Whether `rejects` of `records` read exceed the limit.
    pub fn exceeded(self, rejects: u64, records: u64) -> bool {
        match self {
            RejectLimit::AllRejected => records > 0 && rejects >= records,
            RejectLimit::Count(n) => rejects > n,
            RejectLimit::Percent(p) => records > 0 && (rejects as f64) * 100.0 > p * records as f64,
        }
    }
}

impl std::fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectLimit::AllRejected => f.write_str("by default a load fails when every record is rejected"),
            RejectLimit::Count(n) => write!(f, "--max-rejects {n}"),
            RejectLimit::Percent(p) => write!(f, "--max-rejects {p}%"),
        }
    }
}

/// What one run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Extraction, over every package of the run.
    pub extract: ExtractSummary,
    /// What the destination loaded, over every package of the run (`load_id`: the last package);
    /// `None` when nothing was loaded.
    pub load: Option<LoadReport>,
    /// The load ids of the packages this run committed, in order.
    pub load_ids: Vec<String>,
    /// Packages left by an earlier, interrupted run and loaded first.
    pub recovered: Vec<LoadReport>,
    /// Inputs skipped because they were loaded before.
    pub skipped: Vec<PathBuf>,
    /// Inputs resumed after a position an interrupted run committed: (file, line).
    pub resumed: Vec<(PathBuf, u64)>,
    /// The rejects file, if any record was rejected.
    pub rejects_path: Option<PathBuf>,
    /// Seconds spent extracting+normalizing and loading.
    pub seconds: (f64, f64),
    /// Packages left alone (other destination) or set aside (failed too often).
    pub packages: PackageNotices,
}

/// One input file of a run and where its reading starts.
struct Todo {
    path: PathBuf,
    key: String,
    size: u64,
    mtime: u64,
    start: Position,
}

impl Todo {
    /// The state value of a file read to its end: its fingerprint (what earlier versions stored).
    fn done(&self) -> Value {
        json!({"size": self.size, "mtime": self.mtime})
    }

    /// The state value of a file read up to `pos`.
    fn partial(&self, pos: Position) -> Value {
        json!({"size": self.size, "mtime": self.mtime, "line": pos.line, "offset": pos.offset})
    }

    /// The position a stored value says this file was committed up to, if it is a partial value of
    /// this very file (same size and mtime).
    fn stored_position(&self, v: &Value) -> Option<Position> {
        let same = v.get("size")?.as_u64()? == self.size && v.get("mtime")?.as_u64()? == self.mtime;
        let pos = Position {
            line: v.get("line")?.as_u64()?,
            offset: v.get("offset")?.as_u64()?,
        };
        same.then_some(pos)
    }
}

/// Where the next package starts: a file of the run and a position in it.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    file: usize,
    pos: Position,
}

impl Pipeline {
    /// `harbor load`: files in, one package per [`LoadFilesOptions::package_bytes`] of input, each
    /// loaded in one transaction with the position it reached.
    pub fn load_files(
        &mut self,
        files: &[PathBuf],
        opts: &LoadFilesOptions,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<RunSummary> {
        let mut run = RunSummary {
            recovered: self.recover()?,
            ..Default::default()
        };
        let state = self.state()?;
        let mut todo = Vec::new();
        for f in files {
            let meta = std::fs::metadata(f).map_err(|source| Error::Input {
                path: f.clone(),
                source,
            })?;
            let mut t = Todo {
                path: f.clone(),
                key: format!("file:{}", canonical(f).display()),
                size: meta.len(),
                mtime: mtime(&meta),
                start: Position::default(),
            };
            if !opts.force {
                match state.get(&t.key) {
                    Some(v) if *v == t.done() => {
                        run.skipped.push(f.clone());
                        continue;
                    }
                    Some(v) => {
                        if let Some(pos) = t.stored_position(v) {
                            tracing::info!(file = %f.display(), line = pos.line, "Resuming after the last committed package");
                            run.resumed.push((f.clone(), pos.line));
                            t.start = pos;
                        }
                    }
                    None => {}
                }
            }
            todo.push(t);
        }
        if todo.is_empty() {
            run.packages = self.package_notices();
            return Ok(run);
        }
        let mut extract_opts = opts.extract.clone();
        if matches!(opts.disposition, None | Some(WriteDisposition::Merge))
            && extract_opts.skip_hashes.is_none()
        {
            extract_opts.skip_hashes = self.known_content()?;
        }
        let rejects_dir = self.pipeline_dir().join("rejects");
        let paths: Vec<PathBuf> = todo.iter().map(|t| t.path.clone()).collect();
        let source = describe_inputs(&paths);
        let mut schema = self.schema()?;
        let builder = self.builder();
        let stop = AtomicBool::new(false);
        let mut extract_secs = 0.0;
        // The next package is built on its own thread while this one loads the last one; the
        // channel holds none (a rendezvous), so at most one built package waits for its load.
        let (tx, rx) = crossbeam_channel::bounded::<Result<Built>>(0);
        // Without overlap the builder waits for each package's load before the next one.
        let (loaded_tx, loaded_rx) = crossbeam_channel::bounded::<()>(1);
        let outcome = std::thread::scope(|s| -> Result<()> {
            let producer = s.spawn(|| {
                let mut rejects: Option<RejectSink> = None;
                let mut cursor = Cursor {
                    file: 0,
                    pos: todo[0].start,
                };
                let mut continuation = false;
                while cursor.file < todo.len() && !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let built = builder.build(
                        &mut schema,
                        &source,
                        opts.disposition,
                        continuation,
                        |writer, schema, load_id| {
                            let sink = rejects.get_or_insert_with(|| {
                                RejectSink::new(rejects_dir.join(format!("{load_id}.ndjson")), paths.clone())
                            });
                            let mut new_state = PipelineState::default();
                            let read = |emit: &mut dyn FnMut(RawRecord) -> bool| -> Result<u64> {
                                let mut emit = |rec| !stop.load(Ordering::Relaxed) && emit(rec);
                                read_package(
                                    &todo,
                                    &mut cursor,
                                    opts.package_bytes,
                                    &bytes_read,
                                    &mut new_state,
                                    &mut emit,
                                )
                            };
                            let summary =
                                extract_records(read, writer, schema, &extract_opts, load_id, sink)?;
                            pause_point("extract");
                            Ok((summary, new_state))
                        },
                    );
                    extract_secs += t.elapsed().as_secs_f64();
                    let failed = built.is_err();
                    let built = built.map(|(package, summary)| Built {
                        package,
                        summary,
                        rejects: rejects.as_ref().map_or(0, RejectSink::count),
                        rejects_path: rejects.as_mut().and_then(|r| r.finish().map(Path::to_path_buf)),
                    });
                    if let Err(crossbeam_channel::SendError(unsent)) = tx.send(built) {
                        // The load stopped (an error, too many rejects): this package was never
                        // loaded and its records were not committed, so it goes.
                        if let Ok(b) = unsent {
                            let _ = b.package.remove();
                        }
                        break;
                    }
                    if failed || !opts.overlap && loaded_rx.recv().is_err() {
                        break;
                    }
                    continuation = true;
                }
                drop(tx);
            });
            let result = self.load_built(&rx, &loaded_tx, opts, &mut run);
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            drop(rx);
            drop(loaded_tx);
            producer
                .join()
                .map_err(|_| Error::Internal("the package builder thread panicked".into()))?;
            result
        });
        run.seconds.0 = extract_secs;
        outcome?;
        run.packages = self.package_notices();
        Ok(run)
    }

    /// Loads the packages the builder thread sends, in order, until it is done or one fails.
    fn load_built(
        &mut self,
        rx: &crossbeam_channel::Receiver<Result<Built>>,
        loaded: &crossbeam_channel::Sender<()>,
        opts: &LoadFilesOptions,
        run: &mut RunSummary,
    ) -> Result<()> {
        for built in rx {
            let Built {
                package,
                summary,
                rejects,
                rejects_path,
            } = built?;
            run.extract.absorb(summary);
            // The sink is shared by the packages of the run, so its count is the run's.
            run.extract.rejects = rejects;
            run.rejects_path = rejects_path.clone();
            if let Some(limit) = opts.max_rejects
                && limit.exceeded(run.extract.rejects, run.extract.records)
            {
                let load_id = package.manifest.load_id.clone();
                package.remove()?;
                return Err(Error::TooManyRejects {
                    rejects: run.extract.rejects,
                    records: run.extract.records,
                    limit: limit.to_string(),
                    load_id,
                    rejects_path,
                    committed_packages: run.load_ids.len() as u64,
                });
            }
            let t = Instant::now();
            let report = self.load_package(package)?;
            run.seconds.1 += t.elapsed().as_secs_f64();
            run.load_ids.push(report.load_id.clone());
            merge_report(&mut run.load, report);
            pause_point(&format!("load:committed:{}", run.load_ids.len()));
            let _ = loaded.try_send(());
        }
        Ok(())
    }
}

/// A package the builder thread wrote, with the run's reject count so far.
struct Built {
    package: harbor_core::package::Package,
    summary: ExtractSummary,
    rejects: u64,
    rejects_path: Option<PathBuf>,
}

/// Reads one package's worth of records from `cursor` on (across files: a package may end one file
/// and start the next) and records in `state` how far each file it touched was read.
fn read_package(
    todo: &[Todo],
    cursor: &mut Cursor,
    package_bytes: u64,
    bytes_read: &Arc<AtomicU64>,
    state: &mut PipelineState,
    emit: &mut dyn FnMut(RawRecord) -> bool,
) -> Result<u64> {
    let mut budget = package_bytes.max(1);
    let mut records = 0u64;
    while let Some(t) = todo.get(cursor.file) {
        let read = read_file_from(
            &t.path,
            cursor.file as u32,
            cursor.pos,
            budget,
            bytes_read.clone(),
            &mut *emit,
        )?;
        records += read.records;
        if !read.at_end {
            state.set(t.key.clone(), t.partial(read.end));
            cursor.pos = read.end;
            break;
        }
        state.set(t.key.clone(), t.done());
        budget = budget.saturating_sub(read.end.offset - cursor.pos.offset);
        cursor.file += 1;
        cursor.pos = todo.get(cursor.file).map(|t| t.start).unwrap_or_default();
        if budget == 0 {
            break;
        }
    }
    Ok(records)
}

/// Adds the report of one more package of the run to the run's report.
fn merge_report(acc: &mut Option<LoadReport>, r: LoadReport) {
    let Some(a) = acc else {
        *acc = Some(r);
        return;
    };
    a.load_id = r.load_id;
    for (t, n) in r.rows {
        match a.rows.iter_mut().find(|(name, _)| *name == t) {
            Some((_, total)) => *total += n,
            None => a.rows.push((t, n)),
        }
    }
    a.schema_changes.extend(r.schema_changes);
    a.already_loaded &= r.already_loaded;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("64MB"), Ok(64 << 20));
        assert_eq!(parse_size("512kb"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1.5 GB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1TB"), Ok(1 << 40));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MB").is_err());
    }

    #[test]
    fn reject_limits_parse_and_compare() {
        assert_eq!(RejectLimit::parse("10"), Ok(RejectLimit::Count(10)));
        assert_eq!(RejectLimit::parse("2.5%"), Ok(RejectLimit::Percent(2.5)));
        assert!(RejectLimit::parse("ten").is_err());
        assert!(RejectLimit::parse("150%").is_err());
        assert!(RejectLimit::AllRejected.exceeded(4005, 4005));
        assert!(!RejectLimit::AllRejected.exceeded(4004, 4005));
        assert!(!RejectLimit::AllRejected.exceeded(0, 0));
        assert!(RejectLimit::Count(0).exceeded(1, 10));
        assert!(!RejectLimit::Count(1).exceeded(1, 10));
        assert!(RejectLimit::Percent(10.0).exceeded(2, 10));
        assert!(!RejectLimit::Percent(10.0).exceeded(1, 10));
    }
}
