//! Client-side pacing from Reddit's `X-Ratelimit-*` headers.
//!
//! Reddit reports, on every API response, the requests used and remaining in the current window and
//! the seconds until it resets. The pacer spreads the remaining budget evenly over the time left,
//! never lets a request go out that the budget cannot cover (requests still in flight are counted as
//! spent), and after a window resets sends a single probe until fresh headers arrive. A 429 blocks
//! everyone until its `Retry-After` has passed.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Rate-limit values parsed from one response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitHeaders {
    /// `X-Ratelimit-Used`.
    pub used: f64,
    /// `X-Ratelimit-Remaining` (Reddit sends `"598.0"` or `"299"`).
    pub remaining: f64,
    /// `X-Ratelimit-Reset` in seconds.
    pub reset: Duration,
    /// Whether `reset` had sub-second precision; whole seconds get a one-second safety margin.
    pub precise_reset: bool,
}

impl RateLimitHeaders {
    /// Parses the headers; `None` when any of the three is missing or malformed.
    pub fn parse(headers: &HeaderMap) -> Option<Self> {
        let get = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
        let num = |name: &str| {
            get(name)?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        let reset_raw = get("x-ratelimit-reset")?;
        Some(Self {
            used: num("x-ratelimit-used")?,
            remaining: num("x-ratelimit-remaining")?,
            reset: Duration::from_secs_f64(num("x-ratelimit-reset")?),
            precise_reset: reset_raw.contains('.'),
        })
    }
}

/// Parses `Retry-After` given in seconds (HTTP dates are not used by Reddit).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v))
}

#[derive(Debug, Default)]
struct State {
    /// Requests we may still send in the current window; `None` when unknown (start, after reset).
    budget: Option<f64>,
    /// When the current window ends (margin included).
    reset_at: Option<Instant>,
    /// `used` of the freshest header in the current window, to ignore stale out-of-order answers.
    last_used: f64,
    in_flight: u32,
    last_send: Option<Instant>,
    blocked_until: Option<Instant>,
    remaining_reported: f64,
    /// Share of each window's allowance this client may spend (1.0 = all of it).
    share: Option<f64>,
    /// Requests this process sent in the current window (for the share).
    sent_in_window: f64,
}

/// What [`Pacer::acquire`] decided.
enum Step {
    Go,
    Sleep { until: Instant, exhausted: bool },
    WaitForResponse,
}

/// Shared pacing state of one OAuth client.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    answered: Notify,
}

/// Outcome of a wait inside [`Pacer::acquire`], for statistics and progress reporting.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Waited {
    pub total: Duration,
    pub remaining: f64,
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Poisoning only means a panic elsewhere; the numbers inside remain meaningful.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request may be sent and reserves one unit of budget for it. `on_wait` is called
    /// before every wait (pacing, spent budget or a 429 block) with the wait and the remaining budget.
    pub(crate) async fn acquire(&self, mut on_wait: impl FnMut(Duration, f64)) -> Waited {
        let mut waited = Waited::default();
        loop {
            let step = {
                let mut s = self.lock();
                waited.remaining = s.remaining_reported;
                decide(&mut s, Instant::now())
            };
            match step {
                Step::Go => return waited,
                Step::WaitForResponse => {
                    let notified = self.answered.notified();
                    // Re-check under the lock is done by the loop; bound the wait in case the
                    // answer came between the decision and `notified()`.
                    let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
                }
                Step::Sleep { until, exhausted } => {
                    let wait = until.saturating_duration_since(Instant::now());
                    tracing::trace!(?wait, exhausted, "Pacing");
                    on_wait(wait, waited.remaining);
                    tokio::time::sleep_until(until).await;
                    waited.total += wait;
                }
            }
        }
    }

    /// Spend at most `share` (0-1] of each window's allowance (`used + remaining` of Reddit's
    /// headers), leaving the rest for other processes of the same OAuth client.
    pub(crate) fn set_share(&self, share: f64) {
        self.lock().share = Some(share.clamp(0.01, 1.0));
    }

    /// Records the answer to a request sent after [`Pacer::acquire`] (also for failures without
    /// headers, to release the in-flight slot).
    pub(crate) fn record(&self, headers: Option<RateLimitHeaders>, retry_after: Option<Duration>) {
        let mut s = self.lock();
        let now = Instant::now();
        s.in_flight = s.in_flight.saturating_sub(1);
        if let Some(h) = headers {
            let margin = if h.precise_reset {
                Duration::ZERO
            } else {
                Duration::from_secs(1)
            };
            let reset_at = now + h.reset + margin;
            let new_window = s
                .reset_at
                .is_none_or(|old| reset_at > old + Duration::from_secs(1))
                || h.used < s.last_used && s.budget.is_none();
            if new_window || h.used >= s.last_used {
                if new_window {
                    s.sent_in_window = 1.0 + f64::from(s.in_flight);
                }
                // Requests still in flight may not be counted in these headers yet: assume spent.
                let mut budget = h.remaining - f64::from(s.in_flight);
                if let Some(share) = s.share {
                    // The share of the window this process may still spend, whatever others do.
                    let allowance = ((h.used + h.remaining) * share).floor();
                    budget = budget.min(allowance - s.sent_in_window);
                }
                s.budget = Some(budget);
                s.reset_at = Some(reset_at);
                s.last_used = h.used;
                s.remaining_reported = h.remaining;
            }
        }
        if let Some(wait) = retry_after {
            let until = now + wait;
            s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
        }
        drop(s);
        self.answered.notify_waiters();
    }
}

/// Decides whether a request may go now; reserves budget when it may.
fn decide(s: &mut State, now: Instant) -> Step {
    if let Some(until) = s.blocked_until.filter(|u| *u > now) {
        return Step::Sleep {
            until,
            exhausted: true,
        };
    }
    if s.reset_at.is_some_and(|r| r <= now) {
        s.budget = None;
        s.reset_at = None;
        s.last_used = 0.0;
        s.sent_in_window = 0.0;
    }
    let step = match (s.budget, s.reset_at) {
        (None, _) if s.in_flight > 0 => Step::WaitForResponse,
        (Some(budget), Some(reset_at)) if budget < 1.0 => Step::Sleep {
            until: reset_at,
            exhausted: true,
        },
        (Some(budget), Some(reset_at)) => {
            let interval = (reset_at - now).div_f64(budget.max(1.0));
            match s.last_send.map(|t| t + interval).filter(|t| *t > now) {
                Some(until) => Step::Sleep {
                    until,
                    exhausted: false,
                },
                None => Step::Go,
            }
        }
        _ => Step::Go,
    };
    if matches!(step, Step::Go) {
        s.in_flight += 1;
        s.sent_in_window += 1.0;
        s.last_send = Some(now);
        if let Some(b) = s.budget.as_mut() {
            *b -= 1.0;
        }
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        h
    }

    #[test]
    fn parses_float_and_integer_remaining() {
        let h = headers(&[
            ("x-ratelimit-used", "2"),
            ("x-ratelimit-remaining", "598.0"),
            ("x-ratelimit-reset", "104"),
        ]);
        let p = RateLimitHeaders::parse(&h).expect("parsed");
        assert_eq!(p.remaining, 598.0);
        assert_eq!(p.reset, Duration::from_secs(104));
        assert!(!p.precise_reset);
        let h = headers(&[
            ("x-ratelimit-used", "1"),
            ("x-ratelimit-remaining", "299"),
            ("x-ratelimit-reset", "0.250"),
        ]);
        let p = RateLimitHeaders::parse(&h).expect("parsed");
        assert_eq!(p.remaining, 299.0);
        assert!(p.precise_reset);
        assert!(RateLimitHeaders::parse(&headers(&[("x-ratelimit-used", "1")])).is_none());
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "4")])),
            Some(Duration::from_secs(4))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn spreads_budget_and_never_exceeds_it() {
        let pacer = Pacer::default();
        pacer.acquire(|_, _| {}).await;
        let h = RateLimitHeaders {
            used: 8.0,
            remaining: 2.0,
            reset: Duration::from_secs(10),
            precise_reset: true,
        };
        pacer.record(Some(h), None);
        let start = Instant::now();
        for _ in 0..2 {
            pacer.acquire(|_, _| {}).await;
            pacer.record(None, None);
        }
        // Two requests left for 10 s: spread 5 s apart, the second not before 5 s.
        assert!(start.elapsed() >= Duration::from_secs(5), "{:?}", start.elapsed());
        pacer.acquire(|_, _| {}).await;
        // A third only once the window has reset.
        assert!(
            start.elapsed() >= Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let h = RateLimitHeaders {
            used: 10.0,
            remaining: 0.0,
            reset: Duration::from_secs(3),
            precise_reset: true,
        };
        pacer.record(Some(h), None);
        let mut reported = Vec::new();
        let before = Instant::now();
        pacer.acquire(|w, _| reported.push(w)).await;
        assert!(before.elapsed() >= Duration::from_secs(3));
        assert_eq!(reported.len(), 1, "the wait is reported");
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_leaves_the_rest_of_the_window_to_others() {
        let pacer = Pacer::default();
        pacer.set_share(0.5);
        let start = Instant::now();
        // Reddit's window: 10 requests per 10 s, of which this process may send 5.
        let mut per_window = [0u32; 3];
        loop {
            pacer.acquire(|_, _| {}).await;
            let window = (start.elapsed().as_secs_f64() / 10.0) as usize;
            if window >= per_window.len() {
                break;
            }
            per_window[window] += 1;
            let left = Duration::from_secs(10 * (window as u64 + 1)) - start.elapsed();
            let used = f64::from(per_window[window]);
            let h = RateLimitHeaders {
                used,
                remaining: 10.0 - used,
                reset: left,
                precise_reset: true,
            };
            pacer.record(Some(h), None);
        }
        assert!(per_window.iter().all(|n| *n <= 5), "{per_window:?}");
        assert!(
            per_window.iter().sum::<u32>() >= 12,
            "the share is spent: {per_window:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_blocks_everyone() {
        let pacer = Pacer::default();
        pacer.acquire(|_, _| {}).await;
        pacer.record(None, Some(Duration::from_secs(4)));
        let start = Instant::now();
        pacer.acquire(|_, _| {}).await;
        assert!(start.elapsed() >= Duration::from_secs(4));
    }
}
