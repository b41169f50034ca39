//! Call statistics and the event hook through which the client reports waits and retries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// The Reddit endpoints the client calls, used to label statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The OAuth token endpoint.
    Token,
    /// A subreddit listing (`/r/{sub}/new` ...).
    Listing,
    /// Subreddit search.
    Search,
    /// A user's submissions or comments.
    UserListing,
    /// `/comments/{id}` (a thread).
    Comments,
    /// `/comments/{id}/_/{comment}` ("continue this thread").
    ContinueThread,
    /// `/api/morechildren`.
    MoreChildren,
    /// `/api/info`.
    Info,
    /// `/r/{sub}/about`.
    SubredditAbout,
    /// `/user/{name}/about`.
    UserAbout,
    /// Anything else requested through the raw request methods.
    Other,
}

impl Endpoint {
    /// A short stable name (`listing`, `morechildren`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Listing => "listing",
            Endpoint::Search => "search",
            Endpoint::UserListing => "user_listing",
            Endpoint::Comments => "comments",
            Endpoint::ContinueThread => "continue_thread",
            Endpoint::MoreChildren => "morechildren",
            Endpoint::Info => "info",
            Endpoint::SubredditAbout => "subreddit_about",
            Endpoint::UserAbout => "user_about",
            Endpoint::Other => "other",
        }
    }
}

/// Counters of one client, cumulative since it was built. Cheap to snapshot with
/// [`crate::RedditClient::stats`]; subtract two snapshots with [`CallStats::since`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallStats {
    /// HTTP requests sent per endpoint (every attempt, retries included).
    pub requests: BTreeMap<&'static str, u64>,
    /// Logical calls that succeeded per endpoint (one per answered request, retries excluded).
    pub calls: BTreeMap<&'static str, u64>,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Retries made after transient failures.
    pub retries: u64,
    /// Tokens obtained (first token included).
    pub token_refreshes: u64,
    /// Times the client waited on the rate limit longer than the reporting threshold.
    pub rate_limit_waits: u64,
    /// Total time spent waiting on the rate limit (pacing included).
    pub rate_limit_wait: Duration,
}

impl CallStats {
    /// Total HTTP requests to the API (the token endpoint excluded).
    pub fn api_requests(&self) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| **k != Endpoint::Token.as_str())
            .map(|(_, v)| v)
            .sum()
    }

    /// Successful calls to one endpoint.
    pub fn calls_to(&self, endpoint: Endpoint) -> u64 {
        self.calls.get(endpoint.as_str()).copied().unwrap_or(0)
    }

    /// HTTP requests sent to one endpoint, retries included.
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.requests.get(endpoint.as_str()).copied().unwrap_or(0)
    }

    /// The difference `self - earlier` (for per-run figures from a long-lived client).
    pub fn since(&self, earlier: &CallStats) -> CallStats {
        let diff = |a: &BTreeMap<&'static str, u64>, b: &BTreeMap<&'static str, u64>| {
            a.iter()
                .map(|(k, v)| (*k, v - b.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        CallStats {
            requests: diff(&self.requests, &earlier.requests),
            calls: diff(&self.calls, &earlier.calls),
            rate_limited: self.rate_limited - earlier.rate_limited,
            retries: self.retries - earlier.retries,
            token_refreshes: self.token_refreshes - earlier.token_refreshes,
            rate_limit_waits: self.rate_limit_waits - earlier.rate_limit_waits,
            rate_limit_wait: self.rate_limit_wait.saturating_sub(earlier.rate_limit_wait),
        }
    }
}

/// Something the client wants a user to know while it works (drive a progress line with it).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Waiting because the rate-limit budget is spent (or a 429 asked to wait).
    RateLimitWait {
        /// How long the client will wait.
        wait: Duration,
        /// Requests left in the current window, as last reported.
        remaining: f64,
    },
    /// A transient failure; the request is retried after `delay`.
    Retry {
        /// The request being retried.
        request: String,
        /// Retry number (1 for the first retry).
        attempt: u32,
        /// Delay before the retry.
        delay: Duration,
        /// The error that caused it.
        error: String,
    },
    /// A new access token was obtained.
    TokenRefreshed,
}

/// Receives [`ClientEvent`]s. Must be quick: it runs on the request path.
pub type EventHook = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// Shared mutable counters.
#[derive(Debug, Default)]
pub(crate) struct StatsCell(Mutex<CallStats>);

impl StatsCell {
    pub(crate) fn update(&self, f: impl FnOnce(&mut CallStats)) {
        // A poisoned lock only means another thread panicked mid-update; counters stay usable.
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }

    pub(crate) fn snapshot(&self) -> CallStats {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn request(&self, endpoint: Endpoint) {
        self.update(|s| *s.requests.entry(endpoint.as_str()).or_default() += 1);
    }

    pub(crate) fn call(&self, endpoint: Endpoint) {
        self.update(|s| *s.calls.entry(endpoint.as_str()).or_default() += 1);
    }
}
