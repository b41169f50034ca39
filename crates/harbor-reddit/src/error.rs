//! The crate's error type and the one place where errors are classified transient or terminal.

use std::time::Duration;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// HTTP statuses that are worth retrying: timeouts, rate limiting and server/CDN failures.
pub const TRANSIENT_STATUSES: [u16; 8] = [408, 429, 500, 502, 503, 504, 520, 522];

/// Everything that can go wrong while talking to Reddit.
///
/// Every variant that concerns a request names it (`GET /r/rust/new?...`); secrets never appear.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is incomplete or inconsistent.
    #[error("invalid reddit config: {0}")]
    Config(String),

    /// The User-Agent is missing or does not follow Reddit's rules.
    #[error("invalid user agent {user_agent:?}: {reason}")]
    UserAgent {
        /// The rejected value.
        user_agent: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The token endpoint refused to issue a token (also when it answered HTTP 200 with an `error`).
    #[error("oauth token request {request} refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// The token request (grant type, URL).
        request: String,
        /// Reddit's error code, e.g. `invalid_grant`.
        error: String,
        /// Reddit's `error_description`, when given.
        description: Option<String>,
    },

    /// Reddit answered with an error status.
    #[error("{request} failed with HTTP {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Status {
        /// The request, e.g. `GET /r/rust/about`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// Reddit's `reason`/`message` from the body, or the start of a non-JSON body.
        reason: Option<String>,
        /// The `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },

    /// Reddit answered with a redirect (a missing subreddit, `/r/random`, a share link).
    #[error("{request} was redirected to {location}")]
    Redirect {
        /// The request.
        request: String,
        /// The `Location` header.
        location: String,
    },

    /// The request could not be sent or its body could not be read (connection refused/reset, timeout).
    #[error("{request}: transport error")]
    Transport {
        /// The request.
        request: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// The body is not valid JSON (for example truncated in transit).
    #[error("{request}: invalid JSON body ({len} bytes)")]
    Decode {
        /// The request.
        request: String,
        /// Body length in bytes.
        len: usize,
        /// The parser error.
        #[source]
        source: serde_json::Error,
    },

    /// The JSON is valid but not shaped as expected.
    #[error("{request}: unexpected response: {what}")]
    Shape {
        /// The request.
        request: String,
        /// What was expected.
        what: String,
    },

    /// A transient error persisted through every retry.
    #[error("{request}: giving up after {attempts} attempts")]
    RetriesExhausted {
        /// The request.
        request: String,
        /// Attempts made (first try included).
        attempts: u32,
        /// The last error seen.
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// Whether retrying the same request may succeed. This is the only place that decides it.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status { status, .. } => TRANSIENT_STATUSES.contains(status),
            Error::Transport { .. } | Error::Decode { .. } => true,
            Error::Config(_)
            | Error::UserAgent { .. }
            | Error::OAuth { .. }
            | Error::Redirect { .. }
            | Error::Shape { .. }
            | Error::RetriesExhausted { .. } => false,
        }
    }

    /// The HTTP status behind this error, looking through [`Error::RetriesExhausted`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            Error::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// True when the resource is private, banned, quarantined or missing (403/404, or a redirect to
    /// search, which is how Reddit answers for a subreddit that does not exist). A collector reports
    /// these and goes on with the next subreddit.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.status(), Some(403 | 404 | 451)) || matches!(self, Error::Redirect { .. })
    }
}
