//! Errors of the pipeline crate.

use std::path::PathBuf;

use harbor_core::destination::DestinationError;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a pipeline run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be opened or read.
    #[error("cannot read input file {path}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed input is corrupt or truncated.
    #[error("input file {path} is corrupt after {lines} lines: {message}")]
    CorruptInput {
        /// The file.
        path: PathBuf,
        /// Lines read before the error.
        lines: u64,
        /// The decoder's message.
        message: String,
    },
    /// Normalization failed (a schema contract, usually).
    #[error(transparent)]
    Core(#[from] harbor_core::Error),
    /// Writing a job file failed.
    #[error(transparent)]
    Parquet(#[from] harbor_parquet::Error),
    /// The destination refused.
    #[error("destination {destination}: {source}")]
    Destination {
        /// The destination, without secrets.
        destination: String,
        /// The error.
        #[source]
        source: DestinationError,
    },
    /// Another run of the same pipeline holds the lock.
    #[error("pipeline `{pipeline}` is locked by another harbor process ({path})")]
    Locked {
        /// Pipeline name.
        pipeline: String,
        /// The lock file.
        path: PathBuf,
    },
    /// The Reddit API failed in a way that stops the whole collection (credentials, config).
    #[error("reddit collection: {context}")]
    Reddit {
        /// What was being collected.
        context: String,
        /// The client error.
        #[source]
        source: harbor_reddit::Error,
    },
    /// A thread of the pipeline stopped unexpectedly (a bug, not the input).
    #[error("internal error: {0}")]
    Internal(String),
    /// Working directory problem.
    #[error("cannot use working directory {path}")]
    Workdir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A hint for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Input { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the file name; paths are relative to the current directory".into())
            }
            Error::CorruptInput { .. } => Some(
                "everything before the corrupt part was loaded; re-download the file or pass --skip-corrupt".into(),
            ),
            Error::Core(e) if e.is_contract_violation() => Some(
                "the schema contract in harbor.toml forbids this change; set the contract to `evolve` or \
                 `discard_value`, or fix the input"
                    .into(),
            ),
            Error::Destination { source, .. } => source.hint.clone(),
            Error::Locked { .. } => Some("wait for the other run to finish, or run without --no-wait to wait".into()),
            Error::Reddit { source, .. } => match source {
                harbor_reddit::Error::OAuth { .. } => Some(
                    "check REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET (and REDDIT_USERNAME / REDDIT_PASSWORD for a \
                     script app)"
                        .into(),
                ),
                harbor_reddit::Error::Config(_) | harbor_reddit::Error::UserAgent { .. } => Some(
                    "set the credentials in the environment (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, \
                     REDDIT_USER_AGENT), or try `harbor demo`, which needs none"
                        .into(),
                ),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the error is the user's to fix (bad input, config) rather than a bug or an outage.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Input { .. } | Error::CorruptInput { .. } | Error::Locked { .. } => true,
            Error::Reddit { source, .. } => matches!(
                source,
                harbor_reddit::Error::OAuth { .. }
                    | harbor_reddit::Error::Config(_)
                    | harbor_reddit::Error::UserAgent { .. }
            ),
            Error::Core(e) => e.is_contract_violation(),
            Error::Destination { source, .. } => source.hint.is_some(),
            _ => false,
        }
    }
}
