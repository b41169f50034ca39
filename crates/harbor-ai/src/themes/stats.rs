//! What a theme says about itself: members, weekly counts (posts and distinct authors, overall and
//! per subreddit), growth over the last 4 weeks against the 4 before, the best opportunity score
//! inside it, an offline name from its heaviest terms, and example posts with a quote each.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use super::cluster::Cluster;
use super::group::ThemePost;
use super::tokenize::Tokenizer;
use super::vectors::{Corpus, dot};

const DAY: i64 = 86_400;
/// Weeks in the sparkline of a theme (`recent_weeks`).
pub const RECENT_WEEKS: usize = 12;
/// Characters of a quote.
const QUOTE_CHARS: usize = 200;

/// A member post.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    /// Post id.
    pub post_id: String,
    /// Cosine similarity to the theme's centroid.
    pub similarity: f64,
}

/// Counts of one week (Monday, UTC), overall (`subreddit: None`) or in one subreddit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Week {
    /// The Monday that starts the week, `YYYY-MM-DD`.
    pub week: String,
    /// The subreddit, or `None` for all of them.
    pub subreddit: Option<String>,
    /// Posts created that week.
    pub posts: u64,
    /// Distinct authors of those posts.
    pub authors: u64,
}

/// An example post: evidence of the theme.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    /// Post id.
    pub post_id: String,
    /// Subreddit.
    pub subreddit: String,
    /// Title.
    pub title: String,
    /// Link to the post on Reddit.
    pub url: Option<String>,
    /// The sentence of the post that says most about the theme.
    pub quote: String,
}

/// One theme.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Theme {
    /// Stable id.
    pub id: String,
    /// Name: the LLM's when it named the theme, else the heaviest terms.
    pub name: String,
    /// The heaviest terms of the centroid (surface words).
    pub terms: Vec<String>,
    /// Member posts (present in this run), ascending by id.
    pub members: Vec<Member>,
    /// Posts.
    pub posts: u64,
    /// Distinct authors.
    pub authors: u64,
    /// Posts per subreddit, most first.
    pub subreddits: Vec<(String, u64)>,
    /// Weekly counts, overall and per subreddit, oldest first.
    pub weeks: Vec<Week>,
    /// Posts per week over the last [`RECENT_WEEKS`] weeks up to the reference week (sparkline).
    pub recent_weeks: Vec<u64>,
    /// Posts in the last 4 weeks (the reference week included).
    pub posts_last_4w: u64,
    /// Posts in the 4 weeks before those.
    pub posts_prev_4w: u64,
    /// `(last - prev) / max(prev, 1)`: 1.0 means twice as many posts as in the 4 weeks before.
    pub growth: f64,
    /// The best opportunity score of a member post.
    pub best_score: Option<f64>,
    /// Example posts, most central first.
    pub examples: Vec<Example>,
    /// Oldest member post (Unix seconds).
    pub first_seen: Option<f64>,
    /// Newest member post (Unix seconds).
    pub last_seen: Option<f64>,
}

impl Theme {
    /// Member post ids.
    pub fn member_ids(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.post_id.as_str()).collect()
    }
}

/// (week, subreddit or `None` for all) -> (posts, distinct authors).
type WeekCounts<'a> = BTreeMap<(i64, Option<String>), (u64, BTreeSet<&'a str>)>;

/// The Monday (days since the epoch) of the week holding `secs`.
fn week_start(secs: f64) -> i64 {
    let days = (secs.floor() as i64).div_euclid(DAY);
    // 1970-01-01 was a Thursday: Monday is 3 days before.
    days - (days + 3).rem_euclid(7)
}

fn day_text(days: i64) -> String {
    chrono::DateTime::from_timestamp(days * DAY, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A Reddit link from a permalink.
pub fn url(permalink: Option<&str>) -> Option<String> {
    let p = permalink?.trim();
    if p.is_empty() {
        None
    } else if p.starts_with("http") {
        Some(p.to_owned())
    } else {
        Some(format!("https://www.reddit.com{p}"))
    }
}

fn quote(tok: &Tokenizer, post: &ThemePost, terms: &HashSet<&str>) -> String {
    let text = format!("{}.\n{}", post.title, post.body);
    let best = text
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| {
            let hits = tok.stems(s).iter().filter(|t| terms.contains(t.as_str())).count();
            (hits, std::cmp::Reverse(i), s)
        })
        .max()
        .map(|(_, _, s)| s)
        .unwrap_or(post.title.as_str());
    let mut q: String = best.chars().take(QUOTE_CHARS).collect();
    if best.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    q
}

/// The theme of cluster `c`.
pub fn theme(
    id: String,
    name: Option<String>,
    c: &Cluster,
    posts: &[ThemePost],
    corpus: &Corpus,
    as_of: Option<f64>,
    examples: usize,
) -> Theme {
    let mut heavy = c.centroid.clone();
    heavy.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    heavy.truncate(6);
    let terms: Vec<String> = heavy
        .iter()
        .map(|(t, _)| corpus.words[*t as usize].clone())
        .collect();
    let stems: HashSet<&str> = heavy
        .iter()
        .map(|(t, _)| corpus.stems[*t as usize].as_str())
        .collect();
    let mut members: Vec<(Member, usize)> = c
        .members
        .iter()
        .map(|&d| {
            let sim = dot(&corpus.vectors[d as usize], &c.centroid) as f64;
            (
                Member {
                    post_id: posts[d as usize].id.clone(),
                    similarity: (sim * 10_000.0).round() / 10_000.0,
                },
                d as usize,
            )
        })
        .collect();
    members.sort_by(|a, b| a.0.post_id.cmp(&b.0.post_id));
    let mut authors = BTreeSet::new();
    let mut subs: BTreeMap<String, u64> = BTreeMap::new();
    let mut weeks: WeekCounts<'_> = BTreeMap::new();
    let (mut first, mut last, mut best) = (None::<f64>, None::<f64>, None::<f64>);
    for (_, d) in &members {
        let p = &posts[*d];
        let author = p.author.as_deref().filter(|a| !a.is_empty() && *a != "[deleted]");
        if let Some(a) = author {
            authors.insert(a);
        }
        *subs.entry(p.subreddit.clone()).or_default() += 1;
        if let Some(t) = p.created_utc {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
            let w = week_start(t);
            for key in [(w, None), (w, Some(p.subreddit.clone()))] {
                let e = weeks.entry(key).or_default();
                e.0 += 1;
                if let Some(a) = author {
                    e.1.insert(a);
                }
            }
        }
        if let Some(s) = p.best_score {
            best = Some(best.map_or(s, |b| b.max(s)));
        }
    }
    let reference = as_of.map(week_start);
    let count_between = |from: i64, to: i64| -> u64 {
        weeks
            .iter()
            .filter(|((w, s), _)| s.is_none() && *w >= from && *w <= to)
            .map(|(_, (n, _))| *n)
            .sum()
    };
    let (last4, prev4, recent) = match reference {
        Some(r) => (
            count_between(r - 21, r),
            count_between(r - 49, r - 28),
            (0..RECENT_WEEKS as i64)
                .rev()
                .map(|k| count_between(r - 7 * k, r - 7 * k))
                .collect(),
        ),
        None => (0, 0, vec![0; RECENT_WEEKS]),
    };
    let mut subreddits: Vec<(String, u64)> = subs.into_iter().collect();
    subreddits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let tok = Tokenizer::default();
    let mut central: Vec<&(Member, usize)> = members.iter().collect();
    central.sort_by(|a, b| {
        b.0.similarity
            .total_cmp(&a.0.similarity)
            .then_with(|| a.0.post_id.cmp(&b.0.post_id))
    });
    // Examples from as many subreddits as possible: the most central post of each first.
    let mut seen_subs = HashSet::new();
    let (first_pass, rest): (Vec<_>, Vec<_>) = central
        .into_iter()
        .partition(|(_, d)| seen_subs.insert(posts[*d].subreddit.clone()));
    let examples = first_pass
        .into_iter()
        .chain(rest)
        .take(examples)
        .map(|(_, d)| {
            let p = &posts[*d];
            Example {
                post_id: p.id.clone(),
                subreddit: p.subreddit.clone(),
                title: p.title.clone(),
                url: url(p.permalink.as_deref()),
                quote: quote(&tok, p, &stems),
            }
        })
        .collect();
    let name = name.unwrap_or_else(|| terms.iter().take(3).cloned().collect::<Vec<_>>().join(", "));
    Theme {
        id,
        name,
        terms,
        posts: members.len() as u64,
        authors: authors.len() as u64,
        members: members.into_iter().map(|(m, _)| m).collect(),
        subreddits,
        weeks: weeks
            .into_iter()
            .map(|((w, s), (n, a))| Week {
                week: day_text(w),
                subreddit: s,
                posts: n,
                authors: a.len() as u64,
            })
            .collect(),
        recent_weeks: recent,
        posts_last_4w: last4,
        posts_prev_4w: prev4,
        growth: (last4 as f64 - prev4 as f64) / (prev4.max(1) as f64),
        best_score: best,
        examples,
        first_seen: first,
        last_seen: last,
    }
}

/// Orders themes best first: growth, then posts, then id.
pub fn rank(themes: &mut [Theme]) {
    themes.sort_by(|a, b| {
        b.growth
            .total_cmp(&a.growth)
            .then(b.posts.cmp(&a.posts))
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        // 2026-12-07 is a Monday; 2026-12-13 (Sunday) belongs to the same week.
        let monday = 1_796_601_600.0; // 2026-12-07T00:00:00Z
        assert_eq!(day_text(week_start(monday)), "2026-12-07");
        assert_eq!(
            day_text(week_start(monday + 6.0 * 86_400.0 + 3600.0)),
            "2026-12-07"
        );
        assert_eq!(day_text(week_start(monday - 1.0)), "2026-11-30");
    }

    #[test]
    fn links_from_permalinks() {
        assert_eq!(
            url(Some("/r/x/comments/abc/t/")).as_deref(),
            Some("https://www.reddit.com/r/x/comments/abc/t/")
        );
        assert_eq!(url(Some("")), None);
    }
}
