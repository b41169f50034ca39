//! The per-run token budget and cost cap.
//!
//! Before a post is sent, its estimated cost is reserved; the reservation is replaced by the real
//! cost when the answer arrives. A post whose reservation would pass a limit is not sent, so the
//! run stops at the cap, overshooting by at most the error of one estimate. Only billed usage
//! (successful answers) decides that a limit is reached: a failed call settles at zero.

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

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// Reserved: send the post.
    Granted,
    /// Room is held by posts in flight: ask again after one settles.
    Wait,
    /// A limit is reached by what was billed: send nothing more.
    Stop,
}

/// Shared accounting of one run.
#[derive(Debug, Default)]
pub struct Budget {
    limits: Limits,
    state: Mutex<State>,
    settled: tokio::sync::Notify,
}

impl Budget {
    /// A budget with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
            settled: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind; keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an estimate. Only what was billed (usage of successful answers) decides that a
    /// limit is reached: an estimate that passes a limit only together with the reservations of
    /// posts still in flight waits for them to settle (a failed call settles at zero).
    pub fn try_reserve(&self, tokens: u64, usd: f64) -> Reserve {
        let mut s = self.lock();
        if s.stopped.is_some() {
            return Reserve::Stop;
        }
        if let Some(max) = self.limits.max_tokens {
            if s.spent_tokens + tokens > max {
                s.stopped = Some(format!(
                    "token budget reached ({} of {max} tokens spent; the next post may need {tokens})",
                    s.spent_tokens
                ));
                return Reserve::Stop;
            }
            if s.spent_tokens + s.reserved_tokens + tokens > max {
                return Reserve::Wait;
            }
        }
        if let Some(max) = self.limits.max_cost_usd {
            if s.spent_usd + usd > max {
                s.stopped = Some(format!(
                    "cost cap reached (${:.6} of ${max:.6} spent; the next post may cost ${usd:.6})",
                    s.spent_usd
                ));
                return Reserve::Stop;
            }
            if s.spent_usd + s.reserved_usd + usd > max {
                return Reserve::Wait;
            }
        }
        s.reserved_tokens += tokens;
        s.reserved_usd += usd;
        Reserve::Granted
    }

    /// [`Budget::try_reserve`], waiting while posts in flight hold the room; `false` when a limit
    /// is reached (the run is then marked stopped).
    pub async fn reserve(&self, tokens: u64, usd: f64) -> bool {
        loop {
            // Registered before the check, so a settle between the check and the wait is seen.
            let settled = self.settled.notified();
            match self.try_reserve(tokens, usd) {
                Reserve::Granted => return true,
                Reserve::Stop => return false,
                // `Wait` is only answered while reservations are held, so a settle will come.
                Reserve::Wait => settled.await,
            }
        }
    }

    /// Replaces a reservation by what was really spent.
    pub fn settle(&self, reserved: (u64, f64), usage: &Usage, cost_usd: f64) {
        let mut s = self.lock();
        s.reserved_tokens = s.reserved_tokens.saturating_sub(reserved.0);
        s.reserved_usd = (s.reserved_usd - reserved.1).max(0.0);
        s.spent_tokens += usage.total();
        s.spent_usd += cost_usd;
        drop(s);
        self.settled.notify_waiters();
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
        assert_eq!(b.try_reserve(10, 0.4), Reserve::Granted);
        assert_eq!(b.try_reserve(10, 0.4), Reserve::Granted);
        assert_eq!(
            b.try_reserve(10, 0.4),
            Reserve::Wait,
            "only reservations fill the cap"
        );
        assert!(b.stopped().is_none());
        // Two calls fail (nothing billed), their reservations free the room.
        b.settle((10, 0.4), &Usage::default(), 0.0);
        b.settle((10, 0.4), &Usage::default(), 0.0);
        assert_eq!(b.try_reserve(10, 0.4), Reserve::Granted);
        b.settle((10, 0.4), &Usage::default(), 0.7);
        assert_eq!(
            b.try_reserve(10, 0.4),
            Reserve::Stop,
            "0.7 billed + 0.4 passes 1.0"
        );
        assert!(
            b.stopped()
                .is_some_and(|s| s.contains("cost cap") && s.contains("0.700000"))
        );
        assert_eq!(
            b.try_reserve(1, 0.01),
            Reserve::Stop,
            "a stopped run stays stopped"
        );
        assert_eq!(b.spent(), (0, 0.7));
    }
}
