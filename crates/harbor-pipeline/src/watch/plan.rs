//! How a watcher spends its budget: which subreddits share a combined listing, and how often each
//! listing is read.
//!
//! Every (subreddit, stream) has a rate estimate (items per second, an exponentially weighted
//! average of what the walks found). Subreddits are packed into groups, busiest first, so that one
//! group's expected new items between two reads fit in a page of 100 with room to spare; a
//! subreddit busier than that gets a listing of its own (and pages). The intervals follow the
//! square-root rule: with a budget of C calls a second, group g is read every
//! `I_g = sum(sqrt(R)) / (C * sqrt(R_g))` seconds, which minimises the mean delay per item for that
//! budget; intervals are clamped to `[min_interval, max_interval]`, and a group that would need
//! more than one page per read is charged for its pages.

use std::collections::BTreeMap;
use std::time::Duration;

use super::cursor::Stream;

/// A rate below which a subreddit counts as quiet (one item a day).
const QUIET: f64 = 1.0 / 86_400.0;

/// One combined listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The listing.
    pub stream: Stream,
    /// Member subreddits (lower case).
    pub members: Vec<String>,
    /// Expected new items per second of all members.
    pub rate: f64,
    /// How often it is read.
    pub interval: Duration,
}

/// Knobs of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// Listing calls per minute the watcher may spend.
    pub calls_per_minute: f64,
    /// Shortest interval between two reads of one listing.
    pub min_interval: Duration,
    /// Longest interval between two reads of one listing (bounds the delay of quiet ones).
    pub max_interval: Duration,
    /// Expected items per read a group may hold (of the 100 a page shows).
    pub page_target: f64,
    /// Longest `a+b+c` list of one listing URL, in characters.
    pub max_names_len: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            calls_per_minute: 60.0,
            min_interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
            page_target: 60.0,
            max_names_len: 1500,
        }
    }
}

/// Rate estimates per (subreddit, stream).
#[derive(Debug, Clone, Default)]
pub struct Rates {
    rates: BTreeMap<(String, Stream), f64>,
}

impl Rates {
    /// The estimate (items per second), `None` before the first walk.
    pub fn get(&self, sub: &str, stream: Stream) -> Option<f64> {
        self.rates.get(&(sub.to_owned(), stream)).copied()
    }

    /// Folds in `items` new items found over `secs` seconds.
    pub fn observe(&mut self, sub: &str, stream: Stream, items: usize, secs: f64) {
        if secs <= 0.0 {
            return;
        }
        let sample = items as f64 / secs;
        let e = self.rates.entry((sub.to_owned(), stream)).or_insert(sample);
        // Weight by how much time the sample covers: a long quiet stretch counts for more.
        let w = (secs / 120.0).clamp(0.1, 1.0);
        *e = (1.0 - w) * *e + w * sample;
    }
}

/// Groups and intervals for `subreddits` on the given streams.
pub fn plan(subreddits: &[String], streams: &[Stream], rates: &Rates, o: &PlanOptions) -> Vec<Group> {
    // Capacity of a group: what accumulates in the longest interval must fit the page target.
    let mut groups = Vec::new();
    for &stream in streams {
        let mut subs: Vec<(String, f64)> = subreddits
            .iter()
            .map(|s| {
                let s = s.to_lowercase();
                let r = rates.get(&s, stream).unwrap_or(QUIET).max(QUIET);
                (s, r)
            })
            .collect();
        subs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let cap = o.page_target / o.max_interval.as_secs_f64().max(1.0);
        let mut open: Vec<Group> = Vec::new();
        for (s, r) in subs {
            let fit = open.iter_mut().find(|g| {
                g.rate + r <= cap
                    && g.members.iter().map(|m| m.len() + 1).sum::<usize>() + s.len() <= o.max_names_len
            });
            match fit {
                Some(g) => {
                    g.members.push(s);
                    g.rate += r;
                }
                None => open.push(Group {
                    stream,
                    members: vec![s],
                    rate: r,
                    interval: o.max_interval,
                }),
            }
        }
        groups.extend(open);
    }
    set_intervals(&mut groups, o);
    groups
}

/// The square-root allocation of the budget over the groups.
fn set_intervals(groups: &mut [Group], o: &PlanOptions) {
    let budget = (o.calls_per_minute / 60.0).max(1e-3);
    let min = o.min_interval.as_secs_f64();
    let max = o.max_interval.as_secs_f64().max(min);
    // Calls per read: a group whose items overflow a page pays for the extra pages.
    let pages = |g: &Group, i: f64| (g.rate * i / 100.0).ceil().max(1.0);
    let sum_sqrt: f64 = groups.iter().map(|g| g.rate.sqrt()).sum();
    for g in groups.iter_mut() {
        let i = sum_sqrt / (budget * g.rate.sqrt().max(1e-9));
        g.interval = Duration::from_secs_f64(i.clamp(min, max));
    }
    // Clamping may overspend: stretch every interval until the plan fits the budget.
    for _ in 0..50 {
        let spend: f64 = groups
            .iter()
            .map(|g| pages(g, g.interval.as_secs_f64()) / g.interval.as_secs_f64())
            .sum();
        if spend <= budget * 1.001 {
            break;
        }
        let f = spend / budget;
        for g in groups.iter_mut() {
            g.interval = Duration::from_secs_f64((g.interval.as_secs_f64() * f).max(min));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sub{i}")).collect()
    }

    #[test]
    fn quiet_subreddits_share_one_listing_and_busy_ones_get_their_own() {
        let names = subs(50);
        let mut rates = Rates::default();
        rates.observe("sub0", Stream::New, 600, 60.0); // 10 a second: pages on its own
        rates.observe("sub1", Stream::New, 60, 60.0);
        let o = PlanOptions::default();
        let groups = plan(&names, &[Stream::New, Stream::Comments], &rates, &o);
        let new: Vec<&Group> = groups.iter().filter(|g| g.stream == Stream::New).collect();
        assert_eq!(new[0].members, vec!["sub0"]);
        assert!(new.len() <= 3, "{new:?}");
        let comments: Vec<&Group> = groups.iter().filter(|g| g.stream == Stream::Comments).collect();
        assert_eq!(comments.len(), 1, "all quiet: one combined listing");
        assert_eq!(comments[0].members.len(), 50);
        // Every member is in exactly one group per stream.
        let mut all: Vec<&String> = new.iter().flat_map(|g| &g.members).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 50);
        // The busy listing is read most often, and the plan stays within the budget.
        assert!(new[0].interval <= comments[0].interval);
        let spend: f64 = groups
            .iter()
            .map(|g| (g.rate * g.interval.as_secs_f64() / 100.0).ceil().max(1.0) / g.interval.as_secs_f64())
            .sum::<f64>()
            * 60.0;
        assert!(spend <= o.calls_per_minute * 1.01, "{spend} calls a minute");
    }

    #[test]
    fn rates_follow_what_walks_find() {
        let mut r = Rates::default();
        r.observe("a", Stream::New, 10, 10.0);
        assert!((r.get("a", Stream::New).expect("rate") - 1.0).abs() < 1e-9);
        r.observe("a", Stream::New, 0, 600.0);
        assert!(r.get("a", Stream::New).expect("rate") < 0.01);
        assert_eq!(r.get("b", Stream::New), None);
    }
}
