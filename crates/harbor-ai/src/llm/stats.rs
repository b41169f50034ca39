//! Counters of what the LLM scorer did, for the run trace.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub http_429: AtomicU64,
    pub http_5xx: AtomicU64,
    pub malformed: AtomicU64,
    pub schema_fallbacks: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LlmStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Retries after 429, 5xx or transport errors.
    pub retries: u64,
    /// 429 answers.
    pub http_429: u64,
    /// 5xx answers.
    pub http_5xx: u64,
    /// Answers that did not match the schema.
    pub malformed: u64,
    /// Times the endpoint rejected `response_format` and the scorer switched to text answers.
    pub schema_fallbacks: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> LlmStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LlmStats {
            requests: g(&self.requests),
            retries: g(&self.retries),
            http_429: g(&self.http_429),
            http_5xx: g(&self.http_5xx),
            malformed: g(&self.malformed),
            schema_fallbacks: g(&self.schema_fallbacks),
        }
    }
}
