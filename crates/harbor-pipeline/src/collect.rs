//! Collection from the Reddit API into the pipeline, exactly once.
//!
//! One run walks each subreddit's listings from the cursors in the pipeline state (`new` stops at
//! the first page that reaches its cursor), refreshes the posts of the refresh window with
//! `/api/info` (100 a call), fetches the comment trees of new posts and of posts whose
//! `num_comments` grew, tags problem posts, records deletions (`removed_at`), and optionally keeps a
//! metrics history and about pages. Everything, cursors included, goes into ONE load package that
//! the destination commits in one transaction: a crash or an error leaves the old cursors with the
//! old data, never new cursors without their rows. A private, banned or missing subreddit is
//! reported and the others go on.

pub(crate) mod annotate;
mod commit;
mod gather;
mod options;
mod report;
mod reset;
mod tracked;

pub use commit::{commit, run};
pub use gather::{Gathered, SubredditBatch, cursor_key, gather};
pub use options::{CollectOptions, DEFAULT_REFRESH_WINDOW_SECS, FilterSetting, ListingSpec};
pub use report::{
    CollectEvent, CollectReport, ProblemPost, SubredditReport, SubredditStatus, TOP_PROBLEM_POSTS,
};
pub use reset::{forget, reset, subreddit_key};
pub use tracked::{Tracked, TrackedPost};
