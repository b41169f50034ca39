//! The line reader: zstd or plain NDJSON in, lines out, with the position kept for resuming.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::format::DumpFormat;

/// How far a file has been read: whole lines only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Lines consumed (blank lines included); the next line has number `line + 1`.
    pub line: u64,
    /// Uncompressed bytes consumed, up to and including the newline of line `line`.
    pub offset: u64,
}

/// Streams the lines of one dump file. Memory: one decoder window plus one line.
pub struct DumpReader {
    path: PathBuf,
    format: DumpFormat,
    inner: Box<dyn BufRead + Send>,
    pos: Position,
    buf: Vec<u8>,
}

/// Counts bytes read from the file itself (compressed bytes for zstd), for progress and ETA.
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

impl std::fmt::Debug for DumpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("pos", &self.pos)
            .finish()
    }
}

impl DumpReader {
    /// Opens `path` and moves to `start`. `file_bytes` grows with the bytes read from disk.
    ///
    /// Plain files seek to `start.offset`; zstd files are decoded from the beginning and the first
    /// `start.line` lines are skipped without parsing (decoding runs at several hundred MB/s).
    pub fn open(path: &Path, start: Position, file_bytes: Arc<AtomicU64>) -> Result<DumpReader> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let format = DumpFormat::detect(path);
        let mut file = File::open(path).map_err(io)?;
        if format == DumpFormat::Ndjson && start.offset > 0 {
            let len = file.metadata().map_err(io)?.len();
            if start.offset > len {
                return Err(Error::BadPosition {
                    path: path.to_owned(),
                    line: start.line,
                });
            }
            file.seek(SeekFrom::Start(start.offset)).map_err(io)?;
            file_bytes.fetch_add(start.offset, Ordering::Relaxed);
        }
        let counted = Counting {
            inner: file,
            count: file_bytes,
        };
        let inner: Box<dyn BufRead + Send> = match format {
            DumpFormat::Zstd => {
                let mut dec = zstd::stream::read::Decoder::new(counted).map_err(io)?;
                // Pushshift and Arctic Shift dumps are written with `--long=31`.
                dec.window_log_max(31).map_err(io)?;
                Box::new(BufReader::with_capacity(1 << 20, dec))
            }
            DumpFormat::Ndjson => Box::new(BufReader::with_capacity(1 << 20, counted)),
        };
        let mut reader = DumpReader {
            path: path.to_owned(),
            format,
            inner,
            pos: Position::default(),
            buf: Vec::new(),
        };
        match format {
            DumpFormat::Ndjson => reader.pos = start,
            DumpFormat::Zstd => reader.skip_lines(start)?,
        }
        Ok(reader)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The encoding.
    pub fn format(&self) -> DumpFormat {
        self.format
    }

    /// Lines and bytes consumed so far.
    pub fn position(&self) -> Position {
        self.pos
    }

    fn corrupt(&self, e: &std::io::Error) -> Error {
        match self.format {
            DumpFormat::Zstd => Error::Corrupt {
                path: self.path.clone(),
                line: self.pos.line,
                message: e.to_string(),
            },
            DumpFormat::Ndjson => Error::Io {
                path: self.path.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            },
        }
    }

    fn skip_lines(&mut self, start: Position) -> Result<()> {
        while self.pos.line < start.line {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.corrupt(&e)),
            };
            if chunk.is_empty() {
                return Err(Error::BadPosition {
                    path: self.path.clone(),
                    line: start.line,
                });
            }
            let want = (start.line - self.pos.line) as usize;
            let mut used = chunk.len();
            let mut found = 0usize;
            for (i, b) in chunk.iter().enumerate() {
                if *b == b'\n' {
                    found += 1;
                    if found == want {
                        used = i + 1;
                        break;
                    }
                }
            }
            self.inner.consume(used);
            self.pos.line += found as u64;
            self.pos.offset += used as u64;
        }
        Ok(())
    }

    /// The next line (without its line break) and its 1-based number, or `None` at the end.
    ///
    /// A line cut off by a corrupt or truncated zstd frame is never returned: the error comes instead,
    /// and the position stays after the last complete line.
    pub fn next_line(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        self.buf.clear();
        let n = match self.inner.read_until(b'\n', &mut self.buf) {
            Ok(n) => n,
            Err(e) => return Err(self.corrupt(&e)),
        };
        if n == 0 {
            return Ok(None);
        }
        self.pos.line += 1;
        self.pos.offset += n as u64;
        let mut end = self.buf.len();
        while end > 0 && (self.buf[end - 1] == b'\n' || self.buf[end - 1] == b'\r') {
            end -= 1;
        }
        // Hand the buffer itself over (no copy); the next line starts in a buffer sized like this one.
        let capacity = self.buf.len().max(256);
        let mut line = std::mem::replace(&mut self.buf, Vec::with_capacity(capacity));
        line.truncate(end);
        Ok(Some((self.pos.line, line)))
    }

    /// Whether the end of the file was reached (a decoding error counts as not at the end: the next
    /// [`DumpReader::next_line`] reports it).
    pub fn at_end(&mut self) -> bool {
        matches!(self.inner.fill_buf(), Ok(b) if b.is_empty())
    }
}
