//! Fault injection: queued one-shot faults and a periodic plan.

use std::collections::VecDeque;
use std::time::Duration;

use crate::replay::Recorded;

/// Something to do to a request instead of (or on top of) answering it normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and body (no rate-limit headers).
    Status {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// 429 with `Retry-After` (seconds, may be fractional).
    TooManyRequests {
        /// Value of `Retry-After`.
        retry_after_secs: f64,
    },
    /// The normal answer with its body cut in half (valid HTTP, invalid JSON).
    TruncatedBody,
    /// The normal answer after a delay.
    Slow(Duration),
    /// Headers, half the body, then the connection is reset.
    DropConnection,
    /// Every issued access token expires now (the request then gets a 401).
    ExpireTokens,
    /// Serve a recorded exchange (status, headers and body) as is.
    Recorded(Box<Recorded>),
}

/// Faults waiting to be applied.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queue: VecDeque<Fault>,
    plan: Option<(u64, Vec<Fault>, usize)>,
    seen: u64,
}

impl Faults {
    pub(crate) fn push(&mut self, fault: Fault) {
        self.queue.push_back(fault);
    }

    /// Every `every`-th request gets the next fault of `faults`, cyclically.
    pub(crate) fn plan(&mut self, every: u64, faults: Vec<Fault>) {
        self.plan = (every > 0 && !faults.is_empty()).then_some((every, faults, 0));
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.plan = None;
    }

    /// The fault for the request arriving now, if any.
    pub(crate) fn next(&mut self) -> Option<Fault> {
        self.seen += 1;
        if let Some(f) = self.queue.pop_front() {
            return Some(f);
        }
        let (every, faults, cursor) = self.plan.as_mut()?;
        if !self.seen.is_multiple_of(*every) {
            return None;
        }
        let fault = faults[*cursor % faults.len()].clone();
        *cursor += 1;
        Some(fault)
    }
}
