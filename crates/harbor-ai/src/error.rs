//! Errors of the scoring crate.

/// A scoring error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration (base URL, prompt, price table, PII key).
    #[error("invalid scoring configuration: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for {url}")]
    Client {
        /// The endpoint.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
