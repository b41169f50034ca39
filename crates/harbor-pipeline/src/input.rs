//! Input files: NDJSON (plain or zstd, any window size), and whole JSON documents (Listing pages,
//! `/comments` responses, arrays of things). Records are read as raw bytes here and parsed by the
//! normalize workers.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use harbor_core::normalize::SourceRef;

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
    mut emit: impl FnMut(RawRecord) -> bool,
) -> Result<u64> {
    let format = InputFormat::detect(path)?;
    let file = File::open(path).map_err(|source| Error::Input {
        path: path.to_owned(),
        source,
    })?;
    let counted = Counting {
        inner: file,
        count: bytes_read,
    };
    let reader: Box<dyn BufRead> = match format {
        InputFormat::NdjsonZstd => {
            let mut dec = zstd::stream::read::Decoder::new(counted).map_err(|source| Error::Input {
                path: path.to_owned(),
                source,
            })?;
            dec.window_log_max(31).map_err(|source| Error::Input {
                path: path.to_owned(),
                source,
            })?;
            Box::new(BufReader::with_capacity(1 << 20, dec))
        }
        _ => Box::new(BufReader::with_capacity(1 << 20, counted)),
    };
    if format == InputFormat::Document {
        let mut bytes = Vec::new();
        let mut reader = reader;
        reader.read_to_end(&mut bytes).map_err(|source| Error::Input {
            path: path.to_owned(),
            source,
        })?;
        emit(RawRecord::bytes(
            bytes,
            SourceRef {
                file: file_index,
                line: 1,
            },
        ));
        return Ok(1);
    }
    read_lines(path, file_index, reader, format, emit)
}

fn read_lines(
    path: &Path,
    file_index: u32,
    mut reader: Box<dyn BufRead>,
    format: InputFormat,
    mut emit: impl FnMut(RawRecord) -> bool,
) -> Result<u64> {
    let mut line_no = 0u64;
    loop {
        let mut buf = Vec::with_capacity(4096);
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) if format == InputFormat::NdjsonZstd => {
                return Err(Error::CorruptInput {
                    path: path.to_owned(),
                    lines: line_no,
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
            return Ok(line_no);
        }
        line_no += 1;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !emit(RawRecord::bytes(
            buf,
            SourceRef {
                file: file_index,
                line: line_no,
            },
        )) {
            return Ok(line_no);
        }
    }
}

/// Canonical form of an input path, for state keys and messages.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
