//! Server-side fixed-window rate limit with Reddit's headers.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimit;

/// Outcome of admitting one request.
pub(crate) enum Admission {
    /// Allowed; send these headers.
    Allowed(Vec<(&'static str, String)>),
    /// Over the limit; answer 429 with these headers.
    Limited(Vec<(&'static str, String)>),
}

#[derive(Debug)]
pub(crate) struct Limiter {
    pub limit: RateLimit,
    epoch: Instant,
    window: u64,
    used: u32,
    /// Admitted requests per window index (for utilization).
    pub per_window: BTreeMap<u64, u32>,
}

fn format_reset(left: Duration, window: Duration) -> String {
    if window.subsec_nanos() == 0 {
        format!("{}", left.as_secs_f64().ceil() as u64)
    } else {
        // Rounded up, never down: a client trusting the header must not start early.
        format!("{:.3}", (left.as_secs_f64() * 1000.0).ceil() / 1000.0)
    }
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            epoch: Instant::now(),
            window: 0,
            used: 0,
            per_window: BTreeMap::new(),
        }
    }

    pub(crate) fn set(&mut self, limit: RateLimit) {
        *self = Self::new(limit);
    }

    pub(crate) fn admit(&mut self) -> Admission {
        let now = Instant::now();
        let elapsed = now - self.epoch;
        let window = (elapsed.as_nanos() / self.limit.window.as_nanos().max(1)) as u64;
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
        let end = self.epoch + self.limit.window * (window as u32 + 1);
        let reset = format_reset(end - now, self.limit.window);
        if self.used >= self.limit.requests {
            let retry = (end - now).as_secs_f64().ceil().max(1.0) as u64;
            return Admission::Limited(vec![
                ("x-ratelimit-used", self.used.to_string()),
                ("x-ratelimit-remaining", "0.0".to_owned()),
                ("x-ratelimit-reset", reset),
                ("retry-after", retry.to_string()),
            ]);
        }
        self.used += 1;
        *self.per_window.entry(window).or_default() += 1;
        Admission::Allowed(vec![
            ("x-ratelimit-used", self.used.to_string()),
            (
                "x-ratelimit-remaining",
                format!("{:.1}", f64::from(self.limit.requests - self.used)),
            ),
            ("x-ratelimit-reset", reset),
        ])
    }

    /// Admitted requests divided by the budget of every complete window from the first request on
    /// (the last window, still running or cut short by the end of the run, is left out).
    pub(crate) fn utilization(&self) -> f64 {
        let (Some((&first, _)), Some((&last, _))) = (
            self.per_window.first_key_value(),
            self.per_window.last_key_value(),
        ) else {
            return 0.0;
        };
        let last = if last > first { last - 1 } else { last };
        let admitted: u32 = self.per_window.range(first..=last).map(|(_, v)| v).sum();
        let windows = (last - first + 1) as f64;
        admitted as f64 / (windows * f64::from(self.limit.requests))
    }
}
