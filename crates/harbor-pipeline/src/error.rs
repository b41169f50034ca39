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
        /// Whether packages read before the corrupt part were committed (`ingest` commits one
        /// package every N lines; `load` commits nothing of a failed run).
        committed_before: bool,
    },
    /// Normalization failed (a schema contract, usually).
    #[error(transparent)]
    Core(#[from] harbor_core::Error),
    /// Writing a job file failed.
    #[error(transparent)]
    Parquet(#[from] harbor_parquet::Error),
    /// The destination refused.
    #[error("{}", destination_message(.destination, .source))]
    Destination {
        /// The destination, without secrets.
        destination: String,
        /// The error.
        #[source]
        source: DestinationError,
    },
    /// Loading a package failed; the attempt was counted (and the package set aside at the limit).
    #[error("{}", package_failed_message(.load_id, *.attempts, *.max_attempts, *.transient, *.set_aside, .source))]
    PackageFailed {
        /// The package.
        load_id: String,
        /// Failed attempts with this error so far.
        attempts: u32,
        /// The limit.
        max_attempts: u32,
        /// The error was transient (not counted).
        transient: bool,
        /// The package was moved to the store's `failed/` area.
        set_aside: bool,
        /// The destination error.
        #[source]
        source: Box<Error>,
    },
    /// More records were rejected than the run allows; nothing was loaded.
    #[error(
        "{rejects} of {records} records were rejected ({limit}); {} (package {load_id} discarded){}",
        if *committed_packages == 0 { "nothing was loaded".to_owned() } else {
            format!("the {committed_packages} earlier package(s) of this run stay committed and the next run resumes after them")
        },
        .rejects_path.as_ref().map(|p| format!("; the rejected records are in {}", p.display())).unwrap_or_default()
    )]
    TooManyRejects {
        /// Rejected records.
        rejects: u64,
        /// Records read.
        records: u64,
        /// The limit, as given.
        limit: String,
        /// The discarded package.
        load_id: String,
        /// The rejects file.
        rejects_path: Option<PathBuf>,
        /// Packages of the same run committed before the limit was passed.
        committed_packages: u64,
    },
    /// `harbor packages`: no pending or failed package has this id.
    #[error("no pending or failed package {load_id} in {store}")]
    NoSuchPackage {
        /// The id asked for.
        load_id: String,
        /// The package store.
        store: PathBuf,
    },
    /// A package was made for another destination than the one of this run.
    #[error("package {load_id} was made for {made_for}, not for {this}")]
    OtherDestination {
        /// The package.
        load_id: String,
        /// Its destination.
        made_for: String,
        /// The destination of this run.
        this: String,
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

/// `destination D: message`, or only the message when it already names the destination.
fn destination_message(destination: &str, source: &DestinationError) -> String {
    if source.message.contains(destination) {
        source.message.clone()
    } else {
        format!("destination {destination}: {}", source.message)
    }
}

fn package_failed_message(
    load_id: &str,
    attempts: u32,
    max: u32,
    transient: bool,
    set_aside: bool,
    source: &Error,
) -> String {
    let what = if set_aside {
        format!("failed {attempts} times with the same error and was set aside (harbor packages list)")
    } else if transient {
        "failed with a transient error (not counted; the next run tries again)".to_owned()
    } else {
        format!("failed (attempt {attempts} of {max}; the next run tries again)")
    };
    format!("load package {load_id} {what}: {source}")
}

impl Error {
    /// A hint for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::PackageFailed {
                load_id,
                set_aside,
                source,
                ..
            } => {
                let own = source.hint();
                let packages = if *set_aside {
                    format!(
                        "fix the cause, then `harbor packages retry {load_id}`, or `harbor packages drop {load_id}` to \
                         discard it; later runs go on without it"
                    )
                } else {
                    format!(
                        "`harbor packages show {load_id}` shows its attempts; `harbor packages drop {load_id}` discards \
                         it"
                    )
                };
                Some(match own {
                    Some(h) => format!("{h}; {packages}"),
                    None => packages,
                })
            }
            Error::Input { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the file name; paths are relative to the current directory".into())
            }
            Error::CorruptInput {
                committed_before: true,
                ..
            } => Some(
                "the packages read before the corrupt part are committed and a rerun resumes after them; \
                 re-download the file, or pass --skip-corrupt to keep what was read and go on with the next file"
                    .into(),
            ),
            Error::CorruptInput { .. } => Some(
                "nothing of this run was loaded (a load is one transaction); re-download the file, or use `harbor \
                 ingest --skip-corrupt` for dump files, which skips the corrupt part and loads the rest"
                    .into(),
            ),
            Error::Core(e) if e.is_contract_violation() => Some(
                "the schema contract in harbor.toml forbids this change; set the contract to `evolve` or \
                 `discard_value`, or fix the input"
                    .into(),
            ),
            Error::Destination { source, .. } => source.hint.clone(),
            Error::TooManyRejects { .. } => Some(
                "check that the input is NDJSON or JSON of Reddit things or objects (the rejects file names each \
                 line and why); --max-rejects N or P% sets the limit"
                    .into(),
            ),
            Error::NoSuchPackage { .. } => Some("`harbor packages list` shows the pending and failed packages".into()),
            Error::OtherDestination { made_for, .. } => Some(format!(
                "run it with --destination set to {made_for} (with its credentials), or drop it with `harbor \
                 packages drop`"
            )),
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
            Error::Input { .. }
            | Error::CorruptInput { .. }
            | Error::Locked { .. }
            | Error::NoSuchPackage { .. }
            | Error::TooManyRejects { .. }
            | Error::OtherDestination { .. } => true,
            Error::Reddit { source, .. } => matches!(
                source,
                harbor_reddit::Error::OAuth { .. }
                    | harbor_reddit::Error::Config(_)
                    | harbor_reddit::Error::UserAgent { .. }
            ),
            Error::Core(e) => e.is_contract_violation(),
            Error::Destination { source, .. } => source.hint.is_some(),
            // An outage (transient) is not the user's, even when the destination has a hint for it.
            Error::PackageFailed {
                source,
                set_aside,
                transient,
                ..
            } => *set_aside || (!*transient && source.is_user_error()),
            _ => false,
        }
    }
}
