//! Posts and comments that appear while a test runs, at set rates per subreddit, the way a live
//! subreddit fills up: the input of real-time collection tests and of the watch benchmark.
//!
//! Arrivals are a Poisson process per subreddit and kind (exponential gaps from a seeded
//! generator), stamped with the wall clock in whole seconds as Reddit stamps `created_utc`. Each
//! appearance is recorded with the instant it became visible, so a test can measure the delay from
//! appearance to commit.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::corpus::Rng;
use crate::state::Shared;

/// How busy one subreddit of a stream is (also read from JSON by `fake-reddit --stream`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRate {
    /// Subreddit name (created in the corpus if it does not exist).
    pub subreddit: String,
    /// New posts per minute (mean).
    pub posts_per_minute: f64,
    /// New comments per minute (mean), on the subreddit's recent posts.
    pub comments_per_minute: f64,
}

/// A stream of new items.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    /// Rates per subreddit.
    pub rates: Vec<StreamRate>,
    /// Seed of the arrival times.
    pub seed: u64,
    /// How often the generator wakes up to add what has arrived.
    pub tick: Duration,
}

impl Default for StreamSpec {
    fn default() -> Self {
        Self {
            rates: Vec::new(),
            seed: 7,
            tick: Duration::from_millis(50),
        }
    }
}

/// One item that became visible.
#[derive(Debug, Clone, PartialEq)]
pub struct Appearance {
    /// Fullname (`t3_...` or `t1_...`).
    pub fullname: String,
    /// Subreddit.
    pub subreddit: String,
    /// Wall-clock epoch seconds at which it became visible in the listings.
    pub at: f64,
}

pub(crate) fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An exponential gap with mean `60 / per_minute` seconds; `None` for a zero rate.
fn gap(rng: &mut Rng, per_minute: f64) -> Option<f64> {
    if per_minute <= 0.0 {
        return None;
    }
    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    Some(-(1.0 - u).ln() * 60.0 / per_minute)
}

/// Runs the stream until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, spec: StreamSpec) {
    let mut rng = Rng::new(spec.seed);
    let start = epoch_now();
    // Next arrival time of (posts, comments) per subreddit.
    let mut next: Vec<(Option<f64>, Option<f64>)> = spec
        .rates
        .iter()
        .map(|r| {
            (
                gap(&mut rng, r.posts_per_minute).map(|g| start + g),
                gap(&mut rng, r.comments_per_minute).map(|g| start + g),
            )
        })
        .collect();
    loop {
        tokio::time::sleep(spec.tick).await;
        let now = epoch_now();
        let mut s = shared.lock();
        for (i, rate) in spec.rates.iter().enumerate() {
            while let Some(t) = next[i].0.filter(|t| *t <= now) {
                let id = s.corpus.add_post_at(&rate.subreddit, t.floor());
                s.appeared.push(Appearance {
                    fullname: format!("t3_{id}"),
                    subreddit: rate.subreddit.clone(),
                    at: now,
                });
                next[i].0 = gap(&mut rng, rate.posts_per_minute).map(|g| t + g);
            }
            while let Some(t) = next[i].1.filter(|t| *t <= now) {
                next[i].1 = gap(&mut rng, rate.comments_per_minute).map(|g| t + g);
                // On one of the subreddit's 20 newest posts, if it has any.
                let Some(posts) = s.corpus.subreddit_posts(&rate.subreddit) else {
                    continue;
                };
                if posts.is_empty() {
                    continue;
                }
                let recent = posts.len().min(20);
                let post = posts[posts.len() - 1 - rng.below(recent)];
                let name = s.corpus.add_comment(post, t.floor());
                s.appeared.push(Appearance {
                    fullname: name,
                    subreddit: rate.subreddit.clone(),
                    at: now,
                });
            }
        }
    }
}
