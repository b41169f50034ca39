//! Errors of the operations crate.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in an operations task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A statement failed in a store (`what` names the table or the task).
    #[error("{store}: {what}: {message}")]
    Sql {
        /// The store, without secrets.
        store: String,
        /// What was being done.
        what: String,
        /// The database's message.
        message: String,
    },
    /// A store could not be opened.
    #[error("cannot open {store}: {message}")]
    Open {
        /// The store, without secrets.
        store: String,
        /// Why.
        message: String,
    },
    /// A value in the operations tables or in the config is not what it should be.
    #[error("{0}")]
    Invalid(String),
    /// An alert webhook could not be delivered after its retries.
    #[error("alert webhook {endpoint}: {message} (after {attempts} attempts)")]
    Webhook {
        /// Scheme, host and port of the endpoint (never the path, which often holds a secret).
        endpoint: String,
        /// The last error.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// An alert e-mail could not be sent.
    #[error("alert e-mail through {endpoint}: {message}")]
    Email {
        /// Scheme, host and port of the SMTP server (never its credentials).
        endpoint: String,
        /// What failed.
        message: String,
    },
    /// Running a configured command (the legacy collector) failed.
    #[error("command `{command}`: {message}")]
    Command {
        /// The command line, secrets redacted.
        command: String,
        /// Why.
        message: String,
    },
    /// The pipeline refused (import writes through the pipeline).
    #[error(transparent)]
    Pipeline(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// An [`Error::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
