//! `harbor ingest`: Pushshift / Arctic Shift dumps into the same tables as API collection, resumable.
//!
//! A dump is loaded as a series of packages of at most `package_lines` input lines. Each package
//! carries the file's position (`ingest:<path>` = line, uncompressed offset, size, mtime, done) as
//! pipeline state, so the position commits in the same transaction as the rows. A killed ingest
//! replays the package it left on disk, then continues after the last committed line: no duplicate
//! and no gap, and at most one package of work is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use harbor_core::destination::LoadReport;
use harbor_core::normalize::{Routing, SourceRef};
use harbor_core::state::PipelineState;
use harbor_core::testhook::pause_point;
use harbor_dumps::{DumpFilter, DumpKind, DumpReader, Position};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::extract::{ExtractOptions, extract_records};
use crate::input::{RawRecord, canonical};
use crate::rejects::RejectSink;
use crate::run::Pipeline;

/// Options of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Extraction and normalization (routing is set per file from its kind).
    pub extract: ExtractOptions,
    /// Record filters and projection.
    pub filter: Arc<DumpFilter>,
    /// Input lines per load package (the most work a kill can lose).
    pub package_lines: u64,
    /// The rejects file of this run.
    pub rejects_path: PathBuf,
    /// Start every file from the beginning, ignoring the stored position.
    pub restart: bool,
    /// Go on with the next file when a file is corrupt, recording the error in its summary.
    pub skip_corrupt: bool,
}

/// Live counters for progress display.
#[derive(Debug, Default)]
pub struct IngestProgress {
    /// Bytes read from the files (compressed bytes for zstd).
    pub file_bytes: Arc<AtomicU64>,
    /// Lines consumed in this run (including skipped ones on resume, excluding nothing).
    pub lines: AtomicU64,
    /// Records kept by the filters in this run.
    pub kept: AtomicU64,
}

/// What happened to one file.
#[derive(Debug, Clone, Default)]
pub struct FileSummary {
    /// The file.
    pub path: PathBuf,
    /// `submissions`, `comments`, or `detected per record`.
    pub kind: String,
    /// Line the run started after (0 for a fresh file).
    pub resumed_at: u64,
    /// Lines consumed in this run.
    pub lines: u64,
    /// Uncompressed bytes consumed in this run.
    pub bytes: u64,
    /// Records kept.
    pub kept: u64,
    /// Records dropped by the filters.
    pub dropped: u64,
    /// The file was already completely ingested: nothing was read.
    pub skipped: bool,
    /// The file was corrupt (with `skip_corrupt`): what was read before the error is committed.
    pub error: Option<String>,
}

/// What one ingest run did.
#[derive(Debug, Default)]
pub struct IngestSummary {
    /// Per file, in input order.
    pub files: Vec<FileSummary>,
    /// Packages left by an interrupted run and loaded first.
    pub recovered: Vec<LoadReport>,
    /// Packages loaded in this run.
    pub packages: u64,
    /// Rows loaded per table.
    pub rows: BTreeMap<String, u64>,
    /// New columns added to the schema.
    pub new_columns: Vec<String>,
    /// Rejected records (malformed lines, unknown shapes).
    pub rejects: u64,
    /// The rejects file, if anything was rejected.
    pub rejects_path: Option<PathBuf>,
    /// Seconds.
    pub seconds: f64,
}

/// The stored position of one file.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stored {
    pos: Position,
    size: u64,
    mtime: u64,
    done: bool,
}

impl Stored {
    fn from_value(v: &Value) -> Option<Stored> {
        Some(Stored {
            pos: Position {
                line: v.get("line")?.as_u64()?,
                offset: v.get("offset")?.as_u64()?,
            },
            size: v.get("size")?.as_u64()?,
            mtime: v.get("mtime")?.as_u64()?,
            done: v.get("done")?.as_bool()?,
        })
    }

    fn to_value(self) -> Value {
        json!({"line": self.pos.line, "offset": self.pos.offset, "size": self.size, "mtime": self.mtime, "done": self.done})
    }
}

/// The state key of a dump file.
pub fn state_key(path: &Path) -> String {
    format!("ingest:{}", canonical(path).display())
}

fn dump_error(e: harbor_dumps::Error) -> Error {
    match e {
        harbor_dumps::Error::Io { path, source } => Error::Input { path, source },
        harbor_dumps::Error::Corrupt { path, line, message } => Error::CorruptInput {
            path,
            lines: line,
            message,
            committed_before: true,
        },
        harbor_dumps::Error::BadPosition { path, line } => Error::CorruptInput {
            path,
            lines: line,
            message: "the file is shorter than the stored ingest position; it changed since; use --restart"
                .into(),
            committed_before: true,
        },
        other => Error::Input {
            path: PathBuf::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

impl Pipeline {
    /// Ingests dump files, one package every `package_lines` lines, resuming where the last
    /// committed package of each file ended.
    pub fn ingest(
        &mut self,
        files: &[PathBuf],
        opts: &IngestOptions,
        progress: &IngestProgress,
    ) -> Result<IngestSummary> {
        let t0 = Instant::now();
        let mut summary = IngestSummary {
            recovered: self.recover()?,
            ..Default::default()
        };
        let state = self.state()?;
        let mut rejects = RejectSink::new(opts.rejects_path.clone(), files.to_vec());
        let result = (|| -> Result<()> {
            for (index, path) in files.iter().enumerate() {
                let mut file = FileSummary::default();
                match self.ingest_file(
                    index,
                    path,
                    &state,
                    opts,
                    progress,
                    &mut rejects,
                    &mut summary,
                    &mut file,
                ) {
                    Ok(()) => {}
                    Err(e @ Error::CorruptInput { .. }) if opts.skip_corrupt => {
                        tracing::warn!(file = %path.display(), error = %e, "Skipping the rest of a corrupt file");
                        file.error = Some(e.to_string());
                    }
                    Err(e) => return Err(e),
                }
                summary.files.push(file);
            }
            Ok(())
        })();
        summary.rejects = rejects.count();
        summary.rejects_path = rejects.finish().map(Path::to_path_buf);
        summary.seconds = t0.elapsed().as_secs_f64();
        result.map(|()| summary)
    }

    #[allow(clippy::too_many_arguments)]
    fn ingest_file(
        &mut self,
        index: usize,
        path: &Path,
        state: &PipelineState,
        opts: &IngestOptions,
        progress: &IngestProgress,
        rejects: &mut RejectSink,
        summary: &mut IngestSummary,
        file: &mut FileSummary,
    ) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Input {
            path: path.to_owned(),
            source,
        })?;
        let (size, mtime) = (meta.len(), mtime(&meta));
        let key = state_key(path);
        let kind = DumpKind::from_name(path);
        *file = FileSummary {
            path: path.to_owned(),
            kind: kind.map_or("detected per record", DumpKind::table).to_owned(),
            ..Default::default()
        };
        let stored = state
            .get(&key)
            .and_then(Stored::from_value)
            .filter(|_| !opts.restart);
        let start = match stored {
            Some(s) if s.size == size && s.mtime == mtime => {
                if s.done {
                    file.skipped = true;
                    file.resumed_at = s.pos.line;
                    progress.file_bytes.fetch_add(size, Ordering::Relaxed);
                    return Ok(());
                }
                s.pos
            }
            Some(_) => {
                tracing::warn!(file = %path.display(), "Dump file changed since the last ingest; starting it over");
                Position::default()
            }
            None => Position::default(),
        };
        file.resumed_at = start.line;
        if start.line > 0 {
            tracing::info!(file = %path.display(), line = start.line, "Resuming after the last committed line");
        }
        let mut reader = DumpReader::open(path, start, progress.file_bytes.clone()).map_err(dump_error)?;
        let mut extract = opts.extract.clone();
        extract.normalize.routing = Routing {
            default_table: kind.map(|k| k.table().to_owned()),
        };
        let source = format!("dump: {}", path.display());
        loop {
            let mut read_error = None;
            let mut at_end = false;
            let (package, ex) = self.build_package(&source, None, |writer, schema, load_id| {
                let read = |emit: &mut dyn FnMut(RawRecord) -> bool| -> Result<u64> {
                    let stats = harbor_dumps::stream(
                        &mut reader,
                        opts.package_lines.max(1),
                        &opts.filter,
                        extract.workers,
                        &mut |rec| {
                            let source = SourceRef {
                                file: index as u32,
                                line: rec.line,
                            };
                            emit(match rec.payload {
                                harbor_dumps::Payload::Bytes(b) => RawRecord::bytes(b, source),
                                harbor_dumps::Payload::Value(v) => RawRecord::value(v, source),
                            })
                        },
                    );
                    progress.lines.fetch_add(stats.lines, Ordering::Relaxed);
                    progress.kept.fetch_add(stats.kept, Ordering::Relaxed);
                    file.lines += stats.lines;
                    file.bytes += stats.bytes;
                    file.kept += stats.kept;
                    file.dropped += stats.dropped;
                    read_error = stats.error;
                    at_end = read_error.is_none() && !stats.stopped && reader.at_end();
                    Ok(stats.kept)
                };
                let ex = extract_records(read, writer, schema, &extract, load_id, rejects)?;
                pause_point(&format!("ingest:extracted:{}", summary.packages + 1));
                let mut new_state = PipelineState::default();
                let stored = Stored {
                    pos: reader.position(),
                    size,
                    mtime,
                    done: at_end,
                };
                new_state.set(key.clone(), stored.to_value());
                Ok((ex, new_state))
            })?;
            pause_point(&format!("ingest:built:{}", summary.packages + 1));
            let report = self.load_package(package)?;
            summary.packages += 1;
            for (t, n) in &report.rows {
                *summary.rows.entry(t.clone()).or_default() += n;
            }
            summary.new_columns.extend(ex.resolve.new_columns.iter().cloned());
            tracing::info!(
                file = %path.display(),
                line = reader.position().line,
                kept = file.kept,
                load_id = %report.load_id,
                "Committed dump package"
            );
            pause_point(&format!("ingest:committed:{}", summary.packages));
            if let Some(e) = read_error {
                return Err(dump_error(e));
            }
            if at_end {
                return Ok(());
            }
        }
    }
}

fn mtime(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
