//! Watch cursors and the walk of one combined listing from them.
//!
//! A combined listing (`/r/a+b+c/new`, `/r/a+b+c/comments`) is newest first across its members.
//! Each member keeps its own cursor, so groups can be split and merged freely: `head_utc`, the
//! newest `created_utc` the listing showed when it was last read completely down to the member's
//! previous head (every item of the member at or above that time has been seen), the newest
//! fullname of the member, and the member's ids within the lag window below the head (the
//! boundary: items stamped in the same second, or made visible late, are deduplicated by id).
//! A walk pages back until every member's cursor is reached (Reddit serves about 1000 items of a
//! listing; a walk that runs out of pages first reports a gap).

use std::collections::{BTreeMap, HashMap, HashSet};

use harbor_reddit::{ListingSource, RedditClient, thing};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The two listings a watcher reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// `/r/{subs}/new`: posts.
    New,
    /// `/r/{subs}/comments`: comments.
    Comments,
}

impl Stream {
    /// `new` or `comments`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::New => "new",
            Stream::Comments => "comments",
        }
    }

    /// The thing kind the listing holds.
    fn kind(self) -> &'static str {
        match self {
            Stream::New => "t3",
            Stream::Comments => "t1",
        }
    }
}

/// The state key of a member's cursor, e.g. `watch/r/rust/new`.
pub fn cursor_key(subreddit: &str, stream: Stream) -> String {
    format!("watch/r/{}/{}", subreddit.to_lowercase(), stream.as_str())
}

/// Where a member's listing was last read, committed with the items (pipeline state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchCursor {
    /// Newest `created_utc` of the listing when it was last read through to this member's cursor.
    pub head_utc: f64,
    /// The newest fullname of this member seen so far.
    pub newest: Option<String>,
    /// This member's fullnames (with `created_utc`) within the lag window below `head_utc`.
    pub recent: Vec<(String, f64)>,
    /// Wall-clock epoch seconds of that read: the data is complete up to this instant.
    pub polled_at: f64,
    /// Items collected through this cursor since it was created.
    pub items: u64,
    /// Walks that ran out of pages before reaching this cursor (items may be missing).
    pub gaps: u64,
}

/// What one walk of a combined listing found.
#[derive(Debug, Default)]
pub struct Walked {
    /// New things, newest first.
    pub things: Vec<Value>,
    /// The members' new cursors.
    pub cursors: BTreeMap<String, WatchCursor>,
    /// New things per member.
    pub new_per_member: BTreeMap<String, usize>,
    /// Listing pages requested.
    pub pages: usize,
    /// Seconds of `created_utc` the walk covered (head minus the oldest item seen), for rates.
    pub span_secs: f64,
    /// Items of each member seen on the walk (new or not), for rates on a first walk.
    pub seen_per_member: BTreeMap<String, usize>,
    /// Whether the walk ran out of pages before reaching every cursor.
    pub gap: bool,
}

/// Walks `/r/{members}/{stream}` from the members' cursors (`None`: a first walk of that member,
/// which takes what the pages read for the others show, one page when all are new).
pub async fn walk(
    client: &RedditClient,
    stream: Stream,
    members: &[String],
    cursors: &HashMap<String, WatchCursor>,
    lag_secs: f64,
    max_pages: usize,
    now: f64,
) -> harbor_reddit::Result<Walked> {
    let source = ListingSource::combined(members, stream == Stream::Comments);
    let lower: Vec<String> = members.iter().map(|m| m.to_lowercase()).collect();
    let known: HashMap<&str, HashSet<&str>> = lower
        .iter()
        .map(|m| {
            let ids = cursors
                .get(m)
                .map(|c| c.recent.iter().map(|(n, _)| n.as_str()).collect())
                .unwrap_or_default();
            (m.as_str(), ids)
        })
        .collect();
    let threshold = |m: &str| cursors.get(m).map(|c| c.head_utc - lag_secs);
    // Paging stops at the first page that reaches below every member's threshold.
    let stop_below = lower
        .iter()
        .filter_map(|m| threshold(m))
        .fold(None, |acc: Option<f64>, t| Some(acc.map_or(t, |a| a.min(t))));
    let mut out = Walked::default();
    let mut seen = HashSet::new();
    let mut observed: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    let mut head = f64::NEG_INFINITY;
    let mut oldest = f64::INFINITY;
    let mut after: Option<String> = None;
    let reached = loop {
        let page = client.listing_page(&source, after.as_deref(), 100).await?;
        out.pages += 1;
        let mut page_oldest = f64::INFINITY;
        for item in page.things {
            if thing::kind(&item) != Some(stream.kind()) {
                continue;
            }
            let Some(name) = thing::fullname(&item) else {
                continue;
            };
            let created = thing::created_utc(&item).unwrap_or(0.0);
            page_oldest = page_oldest.min(created);
            let sub = thing::data(&item)
                .get("subreddit")
                .and_then(Value::as_str)
                .map(str::to_lowercase)
                .unwrap_or_default();
            if !known.contains_key(sub.as_str()) || !seen.insert(name.clone()) {
                continue; // another subreddit, or shown twice because the listing moved
            }
            head = head.max(created);
            oldest = oldest.min(created);
            *out.seen_per_member.entry(sub.clone()).or_default() += 1;
            if threshold(&sub).is_some_and(|t| created < t) {
                continue; // below this member's cursor: collected before
            }
            observed
                .entry(sub.clone())
                .or_default()
                .push((name.clone(), created));
            if known[sub.as_str()].contains(name.as_str()) {
                continue; // in the boundary: collected before
            }
            *out.new_per_member.entry(sub).or_default() += 1;
            out.things.push(item);
        }
        let done = match stop_below {
            Some(t) => page_oldest < t,
            None => true,
        };
        if done {
            break true;
        }
        match page.after {
            Some(next) if out.pages < max_pages => after = Some(next),
            Some(_) => break false,
            None => break true, // the listing holds nothing older
        }
    };
    out.gap = !reached;
    out.span_secs = if head.is_finite() && oldest.is_finite() {
        (head - oldest).max(0.0)
    } else {
        0.0
    };
    for m in &lower {
        let old = cursors.get(m).cloned().unwrap_or_default();
        let new_head = head.max(old.head_utc);
        let mut recent: Vec<(String, f64)> = old
            .recent
            .iter()
            .filter(|(_, c)| *c >= new_head - lag_secs)
            .cloned()
            .collect();
        let mine = observed.remove(m).unwrap_or_default();
        let newest = mine
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, _)| n.clone())
            .or(old.newest.clone());
        for (n, c) in mine {
            if c >= new_head - lag_secs && !recent.iter().any(|(r, _)| *r == n) {
                recent.push((n, c));
            }
        }
        recent.sort_by(|a, b| a.0.cmp(&b.0));
        let cursor = WatchCursor {
            head_utc: if new_head.is_finite() { new_head } else { 0.0 },
            newest,
            recent,
            polled_at: now,
            items: old.items + out.new_per_member.get(m).copied().unwrap_or(0) as u64,
            gaps: old.gaps + u64::from(out.gap && cursors.contains_key(m)),
        };
        out.cursors.insert(m.clone(), cursor);
    }
    Ok(out)
}
