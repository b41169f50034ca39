//! Input files: NDJSON (plain or zstd, any window size), and whole JSON documents (Listing pages,
//! `/comments` responses, arrays of things). Records are read as raw bytes here and parsed by the
//! normalize workers.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use harbor_core::normalize::SourceRef;
pub use harbor_dumps::Position;

use crate::error::{Error, Result};

/// One raw record: a line, a whole document, or an already parsed value (API pages).
#[derive(Debug)]
pub struct RawRecord {
    /// The JSON text or value.
    pub payload: Payload,
    /// Where it came from.
    pub source: SourceRef,
}

/// The content of a record.
#[derive(Debug)]
pub enum Payload {
    /// JSON text, parsed by the normalize workers.
    Bytes(Vec<u8>),
    /// An already parsed value.
    Value(serde_json::Value),
}

impl RawRecord {
    /// A record from JSON text.
    pub fn bytes(bytes: Vec<u8>, source: SourceRef) -> Self {
        Self {
            payload: Payload::Bytes(bytes),
            source,
        }
    }

    /// A record from a parsed value.
    pub fn value(value: serde_json::Value, source: SourceRef) -> Self {
        Self {
            payload: Payload::Value(value),
            source,
        }
    }
}

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON value per line.
    Ndjson,
    /// zstd-compressed NDJSON (Pushshift / Arctic Shift dumps; 2 GiB windows allowed).
    NdjsonZstd,
    /// One JSON document (Listing, array, or a single thing).
    Document,
}

impl InputFormat {
    /// Chooses the format from the file name and, for `.json`, from the content.
    pub fn detect(path: &Path) -> Result<InputFormat> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".zst") || name.ends_with(".zstd") {
            return Ok(InputFormat::NdjsonZstd);
        }
        if name.ends_with(".json") {
            // A `.json` file is a document unless its first line is already a complete value.
            let f = File::open(path).map_err(|source| Error::Input {
                path: path.to_owned(),
                source,
            })?;
            let mut first = Vec::new();
            BufReader::new(f)
                .read_until(b'\n', &mut first)
                .map_err(|source| Error::Input {
                    path: path.to_owned(),
                    source,
                })?;
            let complete = serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok();
            let more = std::fs::metadata(path)
                .map(|m| m.len() > first.len() as u64)
                .unwrap_or(false);
            return Ok(if complete && more {
                InputFormat::Ndjson
            } else {
                InputFormat::Document
            });
        }
        Ok(InputFormat::Ndjson)
    }
}

/// Counts bytes read from the underlying (compressed) file, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads the records of one file and passes them to `emit` in order.
///
/// `bytes_read` grows with the bytes consumed from disk. Decoding errors of compressed input stop the
/// file with [`Error::CorruptInput`] after everything before them was emitted.
pub fn read_file(
    path: &Path,
    file_index: u32,
    bytes_read: Arc<AtomicU64>,
    emit: impl FnMut(RawRecord) -> bool,
) -> Result<u64> {
    read_file_from(path, file_index, Position::default(), u64::MAX, bytes_read, emit).map(|r| r.records)
}

/// Where one [`read_file_from`] call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRead {
    /// Records emitted.
    pub records: u64,
    /// The position after the last line consumed (whole lines only).
    pub end: Position,
    /// Whether the whole file has been consumed.
    pub at_end: bool,
}

/// Reads the records of one file from `start` on and passes them to `emit` in order, stopping after
/// the line that brings the uncompressed bytes consumed by this call to `budget` or more (a
/// document is always read whole). Line numbers stay those of the whole file.
///
/// Plain files seek to `start.offset`; zstd files are decoded from the beginning and the first
/// `start.offset` bytes skipped without parsing. A start past the end of the file (it changed since
/// the position was stored) is an [`Error::CorruptInput`].
pub fn read_file_from(
    path: &Path,
    file_index: u32,
    start: Position,
    budget: u64,
    bytes_read: Arc<AtomicU64>,
    mut emit: impl FnMut(RawRecord) -> bool,
) -> Result<FileRead> {
    let io = |source| Error::Input {
        path: path.to_owned(),
        source,
    };
    let format = InputFormat::detect(path)?;
    let mut file = File::open(path).map_err(io)?;
    let changed = || Error::CorruptInput {
        path: path.to_owned(),
        lines: start.line,
        message: format!(
            "the file is shorter than the stored load position (line {}, byte {}); it changed since; \
             use --force to load it from the beginning",
            start.line, start.offset
        ),
        committed_before: true,
    };
    if format == InputFormat::Ndjson && start.offset > 0 {
        if start.offset > file.metadata().map_err(io)?.len() {
            return Err(changed());
        }
        file.seek(SeekFrom::Start(start.offset)).map_err(io)?;
        bytes_read.fetch_add(start.offset, Ordering::Relaxed);
    }
    let counted = Counting {
        inner: file,
        count: bytes_read,
    };
    let mut reader: Box<dyn BufRead> = match format {
        InputFormat::NdjsonZstd => {
            let mut dec = zstd::stream::read::Decoder::new(counted).map_err(io)?;
            dec.window_log_max(31).map_err(io)?;
            Box::new(BufReader::with_capacity(1 << 20, dec))
        }
        _ => Box::new(BufReader::with_capacity(1 << 20, counted)),
    };
    if format == InputFormat::Document {
        if start.line > 0 {
            // A document is one record: a stored position means it was loaded whole.
            return Ok(FileRead {
                records: 0,
                end: start,
                at_end: true,
            });
        }
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(io)?;
        let end = Position {
            line: 1,
            offset: bytes.len() as u64,
        };
        emit(RawRecord::bytes(
            bytes,
            SourceRef {
                file: file_index,
                line: 1,
            },
        ));
        return Ok(FileRead {
            records: 1,
            end,
            at_end: true,
        });
    }
    if format == InputFormat::NdjsonZstd && start.offset > 0 {
        let skipped =
            std::io::copy(&mut (&mut reader).take(start.offset), &mut std::io::sink()).map_err(|e| {
                Error::CorruptInput {
                    path: path.to_owned(),
                    lines: 0,
                    message: e.to_string(),
                    committed_before: true,
                }
            })?;
        if skipped < start.offset {
            return Err(changed());
        }
    }
    read_lines(path, file_index, reader, format, start, budget, emit)
}

fn read_lines(
    path: &Path,
    file_index: u32,
    mut reader: Box<dyn BufRead>,
    format: InputFormat,
    start: Position,
    budget: u64,
    mut emit: impl FnMut(RawRecord) -> bool,
) -> Result<FileRead> {
    let mut pos = start;
    let mut records = 0u64;
    loop {
        if pos.offset - start.offset >= budget {
            let at_end = matches!(reader.fill_buf(), Ok(b) if b.is_empty());
            return Ok(FileRead {
                records,
                end: pos,
                at_end,
            });
        }
        let mut buf = Vec::with_capacity(4096);
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) if format == InputFormat::NdjsonZstd => {
                return Err(Error::CorruptInput {
                    path: path.to_owned(),
                    lines: pos.line,
                    message: e.to_string(),
                    committed_before: false,
                });
            }
            Err(source) => {
                return Err(Error::Input {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if n == 0 {
            return Ok(FileRead {
                records,
                end: pos,
                at_end: true,
            });
        }
        pos.line += 1;
        pos.offset += n as u64;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        if !emit(RawRecord::bytes(
            buf,
            SourceRef {
                file: file_index,
                line: pos.line,
            },
        )) {
            return Ok(FileRead {
                records,
                end: pos,
                at_end: false,
            });
        }
    }
}

/// Canonical form of an input path, for state keys and messages.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
