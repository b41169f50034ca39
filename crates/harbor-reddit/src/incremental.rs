//! Incremental listing walks: page newest-first until the page that reaches the cursor.
//!
//! The cursor of a (subreddit, listing) is the newest `created_utc` collected plus the ids collected
//! inside the lag window below it. A walk re-reads the lag window (posts can become visible late),
//! skips ids the cursor already holds, and stops after the first page that contains an item older
//! than `cursor - lag`. With k new posts that costs ceil(k/100) pages, plus one when the new posts
//! exactly fill their pages or when the lag window reaches onto the next page.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::RedditClient;
use crate::error::Result;
use crate::listing::{ListingSource, PAGE_SIZE};
use crate::thing;

/// Reddit serves about 1000 items of a listing; the default first-run limit.
pub const DEFAULT_LIMIT: usize = 1000;

/// Where the last walk of a listing stopped. Store it with the data (pipeline state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingCursor {
    /// Newest `created_utc` (epoch seconds) collected so far.
    pub max_created_utc: f64,
    /// Fullnames collected with `created_utc >= max_created_utc - lag`, to dedup at the boundary.
    pub boundary_ids: Vec<String>,
}

/// Options of one walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalkOptions {
    /// Maximum new items to return (Reddit's cap is about 1000).
    pub limit: usize,
    /// Seconds below the cursor to re-read, for posts that appear in the listing late.
    pub lag_window_secs: f64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            lag_window_secs: 0.0,
        }
    }
}

/// Why a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A page reached the cursor.
    Cursor,
    /// The listing has no more pages.
    Exhausted,
    /// The item limit was reached.
    Limit,
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingWalk {
    /// New things (not in the previous cursor), newest first, each once.
    pub things: Vec<Value>,
    /// The cursor to store for the next walk.
    pub cursor: ListingCursor,
    /// Listing pages requested.
    pub pages: usize,
    /// Why the walk stopped.
    pub stop: StopReason,
}

impl RedditClient {
    /// Walks `source` from the newest item. With a `cursor` on a time-ordered listing (`new`), stops
    /// at the first page that reaches it and returns only items not collected before; otherwise reads
    /// up to `options.limit` items.
    pub async fn walk_listing(
        &self,
        source: &ListingSource,
        cursor: Option<&ListingCursor>,
        options: &WalkOptions,
    ) -> Result<ListingWalk> {
        let lag = options.lag_window_secs.max(0.0);
        let threshold = cursor
            .filter(|_| source.is_time_ordered())
            .map(|c| c.max_created_utc - lag);
        let known: HashSet<&str> = cursor
            .map(|c| c.boundary_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut seen = HashSet::new();
        let mut observed: Vec<(String, f64)> = Vec::new();
        let mut things = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        let stop = loop {
            let want = (options.limit - things.len()).min(PAGE_SIZE);
            let page_size = if threshold.is_some() {
                PAGE_SIZE
            } else {
                want.max(1)
            };
            let page = self.listing_page(source, after.as_deref(), page_size).await?;
            pages += 1;
            let mut reached = false;
            for item in page.things {
                let Some(name) = thing::fullname(&item) else {
                    continue;
                };
                let created = thing::created_utc(&item).unwrap_or(0.0);
                if threshold.is_some_and(|t| created < t) {
                    reached = true;
                    continue;
                }
                if lag == 0.0 && threshold.is_some() && known.contains(name.as_str()) {
                    // Without a lag window the newest known item is the boundary itself: what
                    // follows it is older or was seen with it.
                    reached = true;
                }
                if !seen.insert(name.clone()) {
                    continue; // listings shift while paging: an item can show up twice
                }
                if known.contains(name.as_str()) {
                    observed.push((name, created));
                    continue;
                }
                if things.len() >= options.limit {
                    continue;
                }
                observed.push((name, created));
                things.push(item);
            }
            if reached {
                break StopReason::Cursor;
            }
            if things.len() >= options.limit {
                break StopReason::Limit;
            }
            match page.after {
                Some(next) => after = Some(next),
                None => break StopReason::Exhausted,
            }
        };
        let cursor = next_cursor(cursor, &observed, lag);
        tracing::debug!(listing = %source.state_key(), new = things.len(), pages, ?stop, "Listing walked");
        Ok(ListingWalk {
            things,
            cursor,
            pages,
            stop,
        })
    }
}

/// The cursor after a walk that observed `observed` (every item at or above the old threshold).
fn next_cursor(old: Option<&ListingCursor>, observed: &[(String, f64)], lag: f64) -> ListingCursor {
    let old_max = old.map_or(f64::NEG_INFINITY, |c| c.max_created_utc);
    let max = observed.iter().map(|(_, c)| *c).fold(old_max, f64::max);
    if !max.is_finite() {
        return ListingCursor::default();
    }
    let mut ids: Vec<String> = observed
        .iter()
        .filter(|(_, c)| *c >= max - lag)
        .map(|(n, _)| n.clone())
        .collect();
    if let Some(old) = old.filter(|o| o.max_created_utc >= max - lag) {
        // Items of the old boundary may have left the listing (deleted); keep them so a late
        // reappearance is not collected twice.
        for id in &old.boundary_ids {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    ids.sort();
    ListingCursor {
        max_created_utc: max,
        boundary_ids: ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keeps_boundary_ids() {
        let observed = vec![
            ("t3_a".to_owned(), 10.0),
            ("t3_b".to_owned(), 10.0),
            ("t3_c".to_owned(), 9.0),
        ];
        let c = next_cursor(None, &observed, 0.0);
        assert_eq!(c.max_created_utc, 10.0);
        assert_eq!(c.boundary_ids, vec!["t3_a", "t3_b"]);
        let c = next_cursor(None, &observed, 1.0);
        assert_eq!(c.boundary_ids, vec!["t3_a", "t3_b", "t3_c"]);
        let again = next_cursor(Some(&c), &[], 1.0);
        assert_eq!(again, c);
    }
}
