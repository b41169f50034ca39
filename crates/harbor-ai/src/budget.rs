//! The per-run token budget and cost cap.
//!
//! Before a post is sent, its estimated cost is reserved; the reservation is replaced by the real
//! cost when the answer arrives. A post whose reservation would pass a limit is not sent, so the
//! run stops at the cap, overshooting by at most the error of one estimate.

use std::sync::Mutex;

use crate::analysis::Usage;

/// Limits of one run (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Most tokens (prompt + completion) to spend.
    pub max_tokens: Option<u64>,
    /// Most USD to spend.
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Default)]
struct State {
    spent_tokens: u64,
    spent_usd: f64,
    reserved_tokens: u64,
    reserved_usd: f64,
    stopped: Option<String>,
}

/// Shared accounting of one run.
#[derive(Debug, Default)]
pub struct Budget {
    limits: Limits,
    state: Mutex<State>,
}

impl Budget {
    /// A budget with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind; keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an estimate; `false` (and the run is marked stopped) when it would pass a limit.
    pub fn reserve(&self, tokens: u64, usd: f64) -> bool {
        let mut s = self.lock();
        if s.stopped.is_some() {
            return false;
        }
        if let Some(max) = self.limits.max_tokens
            && s.spent_tokens + s.reserved_tokens + tokens > max
        {
            s.stopped = Some(format!(
                "token budget reached ({} of {max} tokens spent)",
                s.spent_tokens + s.reserved_tokens
            ));
            return false;
        }
        if let Some(max) = self.limits.max_cost_usd
            && s.spent_usd + s.reserved_usd + usd > max
        {
            s.stopped = Some(format!(
                "cost cap reached (${:.6} of ${max:.6} spent)",
                s.spent_usd + s.reserved_usd
            ));
            return false;
        }
        s.reserved_tokens += tokens;
        s.reserved_usd += usd;
        true
    }

    /// Replaces a reservation by what was really spent.
    pub fn settle(&self, reserved: (u64, f64), usage: &Usage, cost_usd: f64) {
        let mut s = self.lock();
        s.reserved_tokens = s.reserved_tokens.saturating_sub(reserved.0);
        s.reserved_usd = (s.reserved_usd - reserved.1).max(0.0);
        s.spent_tokens += usage.total();
        s.spent_usd += cost_usd;
    }

    /// Why the run stopped early, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.lock().stopped.clone()
    }

    /// Tokens and USD spent so far.
    pub fn spent(&self) -> (u64, f64) {
        let s = self.lock();
        (s.spent_tokens, s.spent_usd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_before_the_cap() {
        let b = Budget::new(Limits {
            max_tokens: None,
            max_cost_usd: Some(1.0),
        });
        assert!(b.reserve(10, 0.4));
        assert!(b.reserve(10, 0.4));
        assert!(!b.reserve(10, 0.4), "0.4 + 0.4 + 0.4 passes 1.0");
        assert!(b.stopped().is_some_and(|s| s.contains("cost cap")));
        b.settle((10, 0.4), &Usage::default(), 0.3);
        assert!(!b.reserve(1, 0.01), "a stopped run stays stopped");
        assert_eq!(b.spent(), (0, 0.3));
    }
}
