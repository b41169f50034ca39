//! The rejects file: one JSON line per record that could not be loaded, with file, line and reason.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

/// Writes rejects lazily: the file exists only when something was rejected.
#[derive(Debug)]
pub struct RejectSink {
    path: PathBuf,
    files: Vec<PathBuf>,
    out: Option<BufWriter<File>>,
    count: u64,
}

impl RejectSink {
    /// A sink that will write to `path`; `files` are the input files by index.
    pub fn new(path: PathBuf, files: Vec<PathBuf>) -> Self {
        Self {
            path,
            files,
            out: None,
            count: 0,
        }
    }

    /// Records one reject. Failing to write the rejects file is reported once on stderr via tracing and
    /// never stops the load.
    pub fn push(&mut self, file: u32, line: u64, reason: &str, text: Option<&[u8]>) {
        self.count += 1;
        if self.out.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match File::create(&self.path) {
                Ok(f) => self.out = Some(BufWriter::new(f)),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "Cannot write rejects file");
                    return;
                }
            }
        }
        let file_name = self
            .files
            .get(file as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let snippet = text.map(|t| {
            let s = String::from_utf8_lossy(&t[..t.len().min(2000)]);
            s.into_owned()
        });
        let rec = json!({"file": file_name, "line": line, "error": reason, "text": snippet});
        if let Some(out) = &mut self.out {
            let _ = writeln!(out, "{rec}");
        }
    }

    /// Number of rejects.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes and returns the path if anything was written.
    pub fn finish(&mut self) -> Option<&Path> {
        let out = self.out.as_mut()?;
        let _ = out.flush();
        Some(&self.path)
    }
}
