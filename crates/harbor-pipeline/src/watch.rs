//! Real-time collection (`harbor watch`): combined listings polled within a call budget, small
//! packages committed with their cursors, exactly once.
//!
//! A [`Watcher`] keeps one [`WatchCursor`] per (subreddit, listing) and a rate estimate per
//! listing. [`plan::plan`] packs the subreddits into combined listings (`/r/a+b+c/new`,
//! `/r/a+b+c/comments`) so that what arrives between two reads fits a page of 100, and spreads the
//! budget over them by the square-root rule. [`Watcher::poll`] waits for the listing that is due,
//! walks it back to its members' cursors and buffers what is new; [`commit`] writes the buffer and
//! every cursor in ONE load package through the collection run's commit path
//! ([`crate::collect::commit`]), so a crash loses nothing that the next start does not read again
//! (it pages back from the committed cursors) and nothing is loaded twice (ids within the lag
//! window are remembered, and the destination merges by primary key).

pub mod cursor;
pub mod plan;

use std::collections::{BTreeMap, HashMap};

use harbor_core::destination::LoadReport;
use harbor_core::state::PipelineState;
use harbor_reddit::{FilterMode, RedditClient, thing};
use serde_json::Value;

pub use cursor::{Stream, Walked, WatchCursor, cursor_key, walk};
pub use plan::{Group, PlanOptions, Rates};

use crate::collect::annotate::tag_problem;
use crate::collect::{CollectOptions, FilterSetting, Gathered, SubredditBatch, SubredditReport};
use crate::run::Pipeline;

/// Options of a watcher.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Subreddits (lower-cased when read).
    pub subreddits: Vec<String>,
    /// Listings read: posts (`new`), comments, or both.
    pub streams: Vec<Stream>,
    /// Budget and intervals.
    pub plan: PlanOptions,
    /// Seconds below a cursor's head whose ids are remembered (items stamped late or in the same
    /// second as the head).
    pub lag_secs: f64,
    /// Most pages one walk reads back to reach its cursors (Reddit serves about 10).
    pub max_pages: usize,
    /// Problem filter applied to new posts (`only` drops the others; comments are kept).
    pub filter: Option<FilterSetting>,
    /// Seconds between two re-plans of groups and intervals from the observed rates.
    pub replan_secs: f64,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            subreddits: Vec::new(),
            streams: vec![Stream::New, Stream::Comments],
            plan: PlanOptions::default(),
            lag_secs: 60.0,
            max_pages: 10,
            filter: None,
            replan_secs: 30.0,
        }
    }
}

/// Counters of a watcher since it started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchStats {
    /// Listing pages requested.
    pub calls: u64,
    /// New items found.
    pub items: u64,
    /// Items committed.
    pub committed: u64,
    /// Packages committed.
    pub commits: u64,
    /// Walks that failed (after the client's retries); the listing is read again later.
    pub errors: u64,
    /// Walks that could not page back to a cursor (items older than Reddit serves may be missing).
    pub gaps: u64,
}

/// What one [`Watcher::poll`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// No listing is due for `secs` seconds.
    Idle {
        /// Seconds until the next listing is due.
        secs: f64,
    },
    /// A listing was read.
    Read {
        /// `r/a+b+c/new`.
        listing: String,
        /// New items.
        new: usize,
        /// Pages read.
        pages: usize,
    },
    /// A listing failed; it is read again after a back-off.
    Failed {
        /// `r/a+b+c/new`.
        listing: String,
        /// The error (without secrets: the client never puts them in errors).
        error: String,
    },
}

/// Wall-clock epoch seconds.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The watch loop's state between commits.
#[derive(Debug)]
pub struct Watcher {
    opts: WatchOptions,
    cursors: BTreeMap<(Stream, String), WatchCursor>,
    rates: Rates,
    groups: Vec<Group>,
    /// Epoch second each group is due next.
    due: Vec<f64>,
    /// Consecutive failures per group (back-off).
    failures: Vec<u32>,
    planned_at: f64,
    buffer: Vec<Value>,
    /// Fullnames in the buffer with their `created_utc`.
    buffered: Vec<(String, f64)>,
    /// Counters.
    pub stats: WatchStats,
}

fn listing_name(g: &Group) -> String {
    format!("r/{}/{}", g.members.join("+"), g.stream.as_str())
}

impl Watcher {
    /// A watcher that continues from the cursors committed in `state`. Fails on a cursor that
    /// cannot be read (naming its key), rather than reading everything again or skipping.
    pub fn new(opts: WatchOptions, state: &PipelineState, now: f64) -> Result<Self, String> {
        let mut cursors = BTreeMap::new();
        let mut rates = Rates::default();
        let subs: Vec<String> = opts.subreddits.iter().map(|s| s.to_lowercase()).collect();
        for &stream in &opts.streams {
            for s in &subs {
                let key = cursor_key(s, stream);
                if let Some(v) = state.get(&key) {
                    let c: WatchCursor = serde_json::from_value(v.clone()).map_err(|e| {
                        format!(
                            "pipeline state `{key}` is not a watch cursor ({e}); nothing was read or \
                             changed (a fresh pipeline name starts the watch again)"
                        )
                    })?;
                    // A first estimate from the cursor: what it held over its lifetime is unknown, so
                    // start from the items in its lag window.
                    if opts.lag_secs > 0.0 {
                        rates.observe(s, stream, c.recent.len(), opts.lag_secs);
                    }
                    cursors.insert((stream, s.clone()), c);
                }
            }
        }
        let mut w = Self {
            opts: WatchOptions {
                subreddits: subs,
                ..opts
            },
            cursors,
            rates,
            groups: Vec::new(),
            due: Vec::new(),
            failures: Vec::new(),
            planned_at: now,
            buffer: Vec::new(),
            buffered: Vec::new(),
            stats: WatchStats::default(),
        };
        w.replan(now, true);
        Ok(w)
    }

    /// The current groups (combined listings) and their intervals.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The cursors (committed or not).
    pub fn cursors(&self) -> &BTreeMap<(Stream, String), WatchCursor> {
        &self.cursors
    }

    /// Items waiting for a commit.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Fullnames waiting for a commit, with `created_utc`.
    pub fn pending_names(&self) -> &[(String, f64)] {
        &self.buffered
    }

    fn replan(&mut self, now: f64, first: bool) {
        let groups = plan::plan(
            &self.opts.subreddits,
            &self.opts.streams,
            &self.rates,
            &self.opts.plan,
        );
        // A group is due one interval after the oldest read of its members (now for a new member).
        let due = groups
            .iter()
            .map(|g| {
                let last = g
                    .members
                    .iter()
                    .map(|m| {
                        self.cursors
                            .get(&(g.stream, m.clone()))
                            .map_or(f64::NEG_INFINITY, |c| c.polled_at)
                    })
                    .fold(f64::INFINITY, f64::min);
                if first || !last.is_finite() {
                    // On start, read everything once: that pages back to the committed cursors.
                    now
                } else {
                    (last + g.interval.as_secs_f64()).min(now + g.interval.as_secs_f64())
                }
            })
            .collect();
        self.failures = vec![0; groups.len()];
        self.groups = groups;
        self.due = due;
        self.planned_at = now;
    }

    /// The group due next and its epoch second.
    pub fn next_due(&self) -> Option<(usize, f64)> {
        self.due
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Reads the listing that is due (if one is) back to its members' cursors and buffers what
    /// is new; [`Polled::Idle`] says how long until the next one is due. A listing that fails (after the client's retries) is reported and read again after a
    /// back-off; errors that would fail every listing alike (credentials, configuration) are
    /// returned. Do not cancel a read in flight: the client's pacer counts it until it is answered.
    pub async fn poll(&mut self, client: &RedditClient) -> Result<Polled, harbor_reddit::Error> {
        let now = epoch_now();
        if now - self.planned_at >= self.opts.replan_secs {
            self.replan(now, false);
        }
        let Some((gi, due)) = self.next_due() else {
            return Ok(Polled::Idle { secs: 3600.0 });
        };
        if due > now {
            return Ok(Polled::Idle { secs: due - now });
        }
        let group = self.groups[gi].clone();
        let listing = listing_name(&group);
        let cursors: HashMap<String, WatchCursor> = group
            .members
            .iter()
            .filter_map(|m| {
                self.cursors
                    .get(&(group.stream, m.clone()))
                    .map(|c| (m.clone(), c.clone()))
            })
            .collect();
        let started = epoch_now();
        let result = walk(
            client,
            group.stream,
            &group.members,
            &cursors,
            self.opts.lag_secs,
            self.opts.max_pages,
            started,
        )
        .await;
        let walked = match result {
            Ok(w) => w,
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => {
                self.stats.errors += 1;
                self.failures[gi] += 1;
                let backoff = (2f64.powi(self.failures[gi].min(6) as i32))
                    .min(group.interval.as_secs_f64().max(2.0) * 4.0);
                self.due[gi] = epoch_now() + backoff;
                return Ok(Polled::Failed {
                    listing,
                    error: crate::run::error_text(&e),
                });
            }
        };
        self.failures[gi] = 0;
        self.stats.calls += walked.pages as u64;
        if walked.gap {
            self.stats.gaps += 1;
            tracing::warn!(%listing, pages = walked.pages, "Walk stopped before reaching the cursor; items may be missing");
        }
        // Rates: new items over the time since the member's previous read; a first read estimates
        // from the span of what the page showed.
        for m in &group.members {
            let new = walked.new_per_member.get(m).copied().unwrap_or(0);
            match cursors.get(m) {
                Some(c) if c.polled_at > 0.0 => {
                    self.rates
                        .observe(m, group.stream, new, (started - c.polled_at).max(0.1));
                }
                _ if walked.span_secs > 0.0 => {
                    let seen = walked.seen_per_member.get(m).copied().unwrap_or(0);
                    self.rates.observe(m, group.stream, seen, walked.span_secs);
                }
                _ => self.rates.observe(m, group.stream, 0, 60.0),
            }
        }
        let new = walked.things.len();
        self.stats.items += new as u64;
        for mut t in walked.things {
            let name = thing::fullname(&t).unwrap_or_default();
            let created = thing::created_utc(&t).unwrap_or(0.0);
            if group.stream == Stream::New
                && let Some(f) = &self.opts.filter
                && !tag_problem(&mut t, &f.filter)
                && f.mode == FilterMode::Only
            {
                continue;
            }
            self.buffered.push((name, created));
            self.buffer.push(t);
        }
        for (m, c) in walked.cursors {
            self.cursors.insert((group.stream, m), c);
        }
        self.due[gi] = started + group.interval.as_secs_f64();
        // A listing that needed more than one page is too busy for its group: split it now.
        if walked.pages > 1 && group.members.len() > 1 {
            self.replan(epoch_now(), false);
        }
        Ok(Polled::Read {
            listing,
            new,
            pages: walked.pages,
        })
    }

    /// The buffer and every cursor, as the batch of one package.
    fn gathered(&self) -> Gathered {
        let state = self
            .cursors
            .iter()
            .map(|((stream, sub), c)| {
                (
                    cursor_key(sub, *stream),
                    serde_json::to_value(c).unwrap_or(Value::Null),
                )
            })
            .collect();
        Gathered {
            batches: vec![SubredditBatch {
                things: self.buffer.clone(),
                state,
                problem_posts: Vec::new(),
            }],
            reports: self
                .opts
                .subreddits
                .iter()
                .map(|s| SubredditReport {
                    subreddit: s.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// Errors that stop the watcher: every listing would fail alike.
fn is_fatal(e: &harbor_reddit::Error) -> bool {
    use harbor_reddit::Error as E;
    match e {
        E::Config(_) | E::UserAgent { .. } | E::OAuth { .. } => true,
        E::RetriesExhausted { last, .. } => is_fatal(last),
        E::Status { status, .. } => *status == 401,
        _ => false,
    }
}

/// A committed package and the fullnames (with `created_utc`) it holds.
pub type Committed = (LoadReport, Vec<(String, f64)>);

/// Commits the watcher's buffer and all its cursors in one package and one destination
/// transaction (loading packages an interrupted process left behind first), then empties the
/// buffer. Returns the load and the fullnames committed; `None` when nothing changed.
pub fn commit(
    pipeline: &mut Pipeline,
    watcher: &mut Watcher,
    opts: &CollectOptions,
) -> crate::Result<Option<Committed>> {
    pipeline.recover()?;
    let stored = pipeline.state()?;
    let gathered = watcher.gathered();
    let loaded = crate::collect::commit(pipeline, gathered, &stored, opts, &|_| {})?;
    let names = std::mem::take(&mut watcher.buffered);
    watcher.buffer.clear();
    Ok(loaded.map(|(load, _)| {
        watcher.stats.commits += 1;
        watcher.stats.committed += names.len() as u64;
        (load, names)
    }))
}
