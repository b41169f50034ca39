//! What a collection run tells its caller: events while it works, and the report at the end.

use std::collections::BTreeMap;

use harbor_reddit::{CallStats, thing};
use serde::Serialize;
use serde_json::Value;

/// How many problem posts a [`CollectReport`] lists.
pub const TOP_PROBLEM_POSTS: usize = 20;

/// Something worth telling the user while a run is under way.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectEvent {
    /// Starting subreddit `index` (1-based) of `total`.
    Subreddit {
        /// Subreddit name.
        name: String,
        /// 1-based position.
        index: usize,
        /// Subreddits in the run.
        total: usize,
    },
    /// A listing was walked.
    Listing {
        /// Subreddit name.
        subreddit: String,
        /// The listing (`new`, `top:week`...).
        listing: String,
        /// New posts found.
        new: usize,
        /// Pages requested.
        pages: usize,
    },
    /// Recent posts were refreshed through `/api/info`.
    Refresh {
        /// Subreddit name.
        subreddit: String,
        /// Posts refreshed.
        posts: usize,
        /// Calls made.
        calls: usize,
    },
    /// Comment trees fetched so far in a subreddit.
    Comments {
        /// Subreddit name.
        subreddit: String,
        /// Threads fetched.
        done: usize,
        /// Threads to fetch.
        total: usize,
    },
    /// The subreddit is private, banned or missing; the run goes on without it.
    Unavailable {
        /// Subreddit name.
        subreddit: String,
        /// What Reddit answered.
        reason: String,
    },
    /// Collecting the subreddit failed; the run goes on without it and reports the failure.
    Failed {
        /// Subreddit name.
        subreddit: String,
        /// The error.
        error: String,
    },
    /// Writing and loading the package.
    Loading {
        /// Things to normalize.
        records: usize,
    },
}

/// How a subreddit's collection ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubredditStatus {
    /// Collected; its rows and cursors are in the package.
    #[default]
    Collected,
    /// Private, banned or missing.
    Unavailable,
    /// An error stopped it; nothing of it was written and its cursors did not move.
    Failed,
}

/// What happened to one subreddit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubredditReport {
    /// Subreddit name.
    pub subreddit: String,
    /// How it ended.
    pub status: SubredditStatus,
    /// The error or Reddit's answer, for unavailable and failed subreddits.
    pub message: Option<String>,
    /// Posts not collected before.
    pub new_posts: usize,
    /// Listing pages requested.
    pub listing_pages: usize,
    /// Posts refreshed through `/api/info`.
    pub refreshed: usize,
    /// `/api/info` calls.
    pub info_calls: usize,
    /// Refreshed posts Reddit no longer returns at all.
    pub vanished: usize,
    /// Comment trees fetched (new posts and posts whose `num_comments` grew).
    pub comment_threads: usize,
    /// Comments collected.
    pub comments: usize,
    /// Posts and comments found deleted or removed.
    pub removed: usize,
    /// Posts the problem filter matched.
    pub problem_posts: usize,
    /// New posts dropped by the filter in mode `only`.
    pub filtered_out: usize,
    /// Redditor about pages collected.
    pub redditors: usize,
}

/// A post the problem filter matched, as listed in [`CollectReport::top_problem_posts`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemPost {
    /// Post id (without `t3_`).
    pub id: String,
    /// Subreddit name.
    pub subreddit: String,
    /// Title.
    pub title: String,
    /// Score when collected.
    pub score: i64,
    /// `num_comments` when collected.
    pub num_comments: u64,
    /// The keywords that matched.
    pub keywords: Vec<String>,
    /// Permalink (`/r/{sub}/comments/...`).
    pub permalink: String,
}

impl ProblemPost {
    /// The listing entry of a tagged post (`is_problem` and `problem_keywords` already set).
    pub fn of(post: &Value) -> Option<ProblemPost> {
        let d = thing::data(post);
        if d.get("is_problem").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        Some(ProblemPost {
            id: text("id"),
            subreddit: text("subreddit"),
            title: text("title"),
            score: d.get("score").and_then(Value::as_i64).unwrap_or(0),
            num_comments: d.get("num_comments").and_then(Value::as_u64).unwrap_or(0),
            keywords: d
                .get("problem_keywords")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            permalink: text("permalink"),
        })
    }

    /// Ranks posts by engagement (score, then comments, then id for a stable order), keeps each id
    /// once (the first occurrence wins) and at most `n`.
    pub fn top(posts: impl IntoIterator<Item = ProblemPost>, n: usize) -> Vec<ProblemPost> {
        let mut seen = std::collections::HashSet::new();
        let mut all: Vec<ProblemPost> = posts.into_iter().filter(|p| seen.insert(p.id.clone())).collect();
        all.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(b.num_comments.cmp(&a.num_comments))
                .then_with(|| a.id.cmp(&b.id))
        });
        all.truncate(n);
        all
    }
}

/// What one collection run did.
#[derive(Debug, Default, Serialize)]
pub struct CollectReport {
    /// One entry per subreddit, in run order.
    pub subreddits: Vec<SubredditReport>,
    /// API calls, retries, 429s and rate-limit waits of this run.
    pub stats: CallStats,
    /// The load id, when something was loaded.
    pub load_id: Option<String>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Things that could not be normalized (kept in the rejects file of the load).
    pub rejects: u64,
    /// Packages of an interrupted earlier run that were loaded first.
    pub recovered: Vec<String>,
    /// The problem posts collected or refreshed in this run with the most engagement.
    pub top_problem_posts: Vec<ProblemPost>,
    /// Seconds spent collecting (network).
    pub seconds_collect: f64,
    /// Seconds spent normalizing and loading.
    pub seconds_load: f64,
}

impl CollectReport {
    /// Subreddits whose collection failed (not merely unavailable).
    pub fn failed(&self) -> impl Iterator<Item = &SubredditReport> {
        self.subreddits
            .iter()
            .filter(|s| s.status == SubredditStatus::Failed)
    }

    /// Subreddits that are private, banned or missing.
    pub fn unavailable(&self) -> impl Iterator<Item = &SubredditReport> {
        self.subreddits
            .iter()
            .filter(|s| s.status == SubredditStatus::Unavailable)
    }

    /// Rows written in all tables.
    pub fn rows_total(&self) -> u64 {
        self.rows.values().sum()
    }

    /// Seconds of the whole run.
    pub fn seconds(&self) -> f64 {
        self.seconds_collect + self.seconds_load
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problem_posts_are_ranked_and_deduplicated() {
        let post = |id: &str, score: i64, problem: bool| {
            json!({"kind":"t3","data":{"id":id,"subreddit":"rust","title":format!("t {id}"),"score":score,
                "num_comments":1,"is_problem":problem,"problem_keywords":["pain"],"permalink":"/r/rust/x"}})
        };
        assert!(ProblemPost::of(&post("x", 1, false)).is_none());
        let posts = [
            post("a", 5, true),
            post("b", 9, true),
            post("a", 1, true),
            post("c", 7, true),
        ];
        let top = ProblemPost::top(posts.iter().filter_map(ProblemPost::of), 2);
        let ids: Vec<&str> = top.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(top[0].keywords, ["pain"]);
    }
}
