//! What one collection run collects: subreddits, listings, limits, comments, refresh, filter.

use std::path::PathBuf;
use std::str::FromStr;

use harbor_reddit::{
    CommentOptions, FilterMode, ListingSource, ProblemFilter, Sort, TimeFilter, WalkOptions,
};

use crate::extract::ExtractOptions;

/// Seven days: the default refresh window.
pub const DEFAULT_REFRESH_WINDOW_SECS: f64 = 7.0 * 86_400.0;

/// A subreddit listing to walk: `new`, `hot`, `rising`, `top:week`, `controversial:all`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingSpec {
    /// Sort order.
    pub sort: Sort,
    /// Time filter (top and controversial only).
    pub time: Option<TimeFilter>,
}

impl ListingSpec {
    /// `/r/{subreddit}/new`, the incremental listing.
    pub const NEW: ListingSpec = ListingSpec {
        sort: Sort::New,
        time: None,
    };

    /// The listing of one subreddit.
    pub fn source(&self, subreddit: &str) -> ListingSource {
        ListingSource::Subreddit {
            subreddit: subreddit.to_owned(),
            sort: self.sort,
            time: self.time,
        }
    }
}

impl std::fmt::Display for ListingSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.time {
            Some(t) => write!(f, "{}:{}", self.sort.as_str(), t.as_str()),
            None => f.write_str(self.sort.as_str()),
        }
    }
}

impl FromStr for ListingSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (sort, time) = match s.trim().split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let sort = match sort.to_ascii_lowercase().as_str() {
            "new" => Sort::New,
            "hot" => Sort::Hot,
            "top" => Sort::Top,
            "rising" => Sort::Rising,
            "controversial" => Sort::Controversial,
            other => {
                return Err(format!(
                    "unknown listing `{other}`: expected new, hot, top, rising or controversial"
                ));
            }
        };
        let time = match time.map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("hour") => Some(TimeFilter::Hour),
            Some("day") => Some(TimeFilter::Day),
            Some("week") => Some(TimeFilter::Week),
            Some("month") => Some(TimeFilter::Month),
            Some("year") => Some(TimeFilter::Year),
            Some("all") => Some(TimeFilter::All),
            Some(other) => {
                return Err(format!(
                    "unknown time filter `{other}`: expected hour, day, week, month, year or all"
                ));
            }
        };
        if time.is_some() && !matches!(sort, Sort::Top | Sort::Controversial) {
            return Err(format!(
                "`{s}`: a time filter applies to top and controversial only"
            ));
        }
        Ok(ListingSpec { sort, time })
    }
}

/// The problem-first filter of a run.
#[derive(Debug, Clone)]
pub struct FilterSetting {
    /// Tag every post, or keep problem posts only.
    pub mode: FilterMode,
    /// The compiled keyword list.
    pub filter: ProblemFilter,
}

/// Everything one collection run needs besides the client and the pipeline.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Subreddit names without `r/`.
    pub subreddits: Vec<String>,
    /// Listings walked per subreddit (`new` is incremental; others read up to the limit every run).
    pub listings: Vec<ListingSpec>,
    /// Item limit per listing and the lag window re-read below the cursor.
    pub walk: WalkOptions,
    /// Comment trees of new posts and of posts whose `num_comments` grew; `None` collects no comments.
    pub comments: Option<CommentOptions>,
    /// Posts created within this many seconds before `now` are refreshed through `/api/info`; 0 = never.
    pub refresh_window_secs: f64,
    /// Append a `submission_history` row (score, comments, ratio) for every post observed.
    pub history: bool,
    /// Blank the title, text and author of content found deleted or removed (`removed_at` is always set).
    pub purge_removed: bool,
    /// Problem filter; `None` stores posts untagged.
    pub filter: Option<FilterSetting>,
    /// Fetch `/r/{sub}/about` into `subreddits`.
    pub subreddit_about: bool,
    /// Fetch `/user/{name}/about` of the authors of new posts into `redditors`.
    pub redditor_about: bool,
    /// The reference time (epoch seconds) of the refresh window; `None` is the clock.
    pub now_utc: Option<f64>,
    /// Normalization and job files.
    pub extract: ExtractOptions,
    /// Where a rejects file goes if a thing cannot be normalized.
    pub rejects_dir: PathBuf,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            subreddits: Vec::new(),
            listings: vec![ListingSpec::NEW],
            walk: WalkOptions::default(),
            comments: Some(CommentOptions::default()),
            refresh_window_secs: DEFAULT_REFRESH_WINDOW_SECS,
            history: false,
            purge_removed: false,
            filter: Some(FilterSetting {
                mode: FilterMode::Tag,
                filter: ProblemFilter::default(),
            }),
            subreddit_about: false,
            redditor_about: false,
            now_utc: None,
            extract: ExtractOptions::default(),
            rejects_dir: std::env::temp_dir().join("harbor-rejects"),
        }
    }
}

impl CollectOptions {
    /// The reference time of this run.
    pub fn now(&self) -> f64 {
        self.now_utc.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_specs_parse_and_print() {
        for s in ["new", "hot", "rising", "top:week", "controversial:all"] {
            let spec: ListingSpec = s.parse().expect(s);
            assert_eq!(spec.to_string(), s);
        }
        assert!("new:week".parse::<ListingSpec>().is_err());
        assert!("best".parse::<ListingSpec>().is_err());
        assert!("top:forever".parse::<ListingSpec>().is_err());
        assert_eq!("top".parse::<ListingSpec>().map(|s| s.time), Ok(None));
    }
}
