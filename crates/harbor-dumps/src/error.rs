//! Errors of the dump reader.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or filtering a dump.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or positioned.
    #[error("cannot read dump file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The compressed stream is corrupt or truncated.
    #[error("dump file {path} is corrupt after line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The last complete line before the error.
        line: u64,
        /// The decoder's message.
        message: String,
    },
    /// A resume position does not fit the file (it is shorter than the position says).
    #[error("dump file {path} ends before the resume position (line {line})")]
    BadPosition {
        /// The file.
        path: PathBuf,
        /// The line the state says was reached.
        line: u64,
    },
    /// A filter setting is invalid (date, keyword, subreddits file).
    #[error("invalid filter: {0}")]
    Filter(String),
}
