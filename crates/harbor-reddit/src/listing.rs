//! Listings: subreddit sorts, search and user listings, fetched 100 items a page.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Call, RedditClient};
use crate::error::{Error, Result};
use crate::stats::Endpoint;
use crate::thing;

/// Items per page: Reddit's maximum.
pub const PAGE_SIZE: usize = 100;

/// A listing sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Newest first: the only order incremental collection can stop early on.
    New,
    /// Reddit's "hot" ranking.
    Hot,
    /// Highest score within the time filter.
    Top,
    /// Gaining momentum now.
    Rising,
    /// Most controversial within the time filter.
    Controversial,
    /// Search relevance (search only).
    Relevance,
}

impl Sort {
    /// The URL segment / `sort=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::New => "new",
            Sort::Hot => "hot",
            Sort::Top => "top",
            Sort::Rising => "rising",
            Sort::Controversial => "controversial",
            Sort::Relevance => "relevance",
        }
    }
}

/// The `t=` time filter of top/controversial listings and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFilter {
    /// Past hour.
    Hour,
    /// Past day.
    Day,
    /// Past week.
    Week,
    /// Past month.
    Month,
    /// Past year.
    Year,
    /// All time.
    All,
}

impl TimeFilter {
    /// The `t=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeFilter::Hour => "hour",
            TimeFilter::Day => "day",
            TimeFilter::Week => "week",
            TimeFilter::Month => "month",
            TimeFilter::Year => "year",
            TimeFilter::All => "all",
        }
    }
}

/// Where a listing comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ListingSource {
    /// `/r/{subreddit}/{sort}` (with `t=` for top and controversial).
    Subreddit {
        /// Subreddit name without `r/`.
        subreddit: String,
        /// Sort order.
        sort: Sort,
        /// Time filter for top/controversial.
        time: Option<TimeFilter>,
    },
    /// `/r/{subreddit}/search?q=...&restrict_sr=1`.
    Search {
        /// Subreddit name without `r/`.
        subreddit: String,
        /// The query.
        query: String,
        /// Sort order (`new` makes it incremental).
        sort: Sort,
        /// Time filter.
        time: Option<TimeFilter>,
    },
    /// `/r/{subreddit}/comments`: the subreddit's newest comments, newest first (`a+b+c` combines).
    Comments {
        /// Subreddit name without `r/` (or names joined by `+`).
        subreddit: String,
    },
    /// `/user/{user}/submitted?sort=...`.
    UserSubmitted {
        /// Account name without `u/`.
        user: String,
        /// Sort order.
        sort: Sort,
    },
    /// `/user/{user}/comments?sort=...`.
    UserComments {
        /// Account name without `u/`.
        user: String,
        /// Sort order.
        sort: Sort,
    },
}

impl ListingSource {
    /// `/r/{subreddit}/new`: the incremental collection listing.
    pub fn new_posts(subreddit: &str) -> Self {
        ListingSource::Subreddit {
            subreddit: subreddit.to_owned(),
            sort: Sort::New,
            time: None,
        }
    }

    /// `/r/{a+b+c}/{sort}` (or `/r/{a+b+c}/comments` with `comments`): one listing of several
    /// subreddits, newest first across all of them, so many subreddits cost one call a page.
    pub fn combined(subreddits: &[String], comments: bool) -> Self {
        let subreddit = subreddits.join("+");
        if comments {
            ListingSource::Comments { subreddit }
        } else {
            ListingSource::Subreddit {
                subreddit,
                sort: Sort::New,
                time: None,
            }
        }
    }

    /// The listing's sort.
    pub fn sort(&self) -> Sort {
        match self {
            ListingSource::Comments { .. } => Sort::New,
            ListingSource::Subreddit { sort, .. }
            | ListingSource::Search { sort, .. }
            | ListingSource::UserSubmitted { sort, .. }
            | ListingSource::UserComments { sort, .. } => *sort,
        }
    }

    /// Whether items come newest first, so a walk may stop at a cursor.
    pub fn is_time_ordered(&self) -> bool {
        self.sort() == Sort::New
    }

    /// A stable key for per-listing state, e.g. `r/rust/new`, `r/rust/search/new?q=help`.
    pub fn state_key(&self) -> String {
        match self {
            ListingSource::Subreddit {
                subreddit,
                sort,
                time,
            } => match time {
                Some(t) => format!(
                    "r/{}/{}?t={}",
                    subreddit.to_lowercase(),
                    sort.as_str(),
                    t.as_str()
                ),
                None => format!("r/{}/{}", subreddit.to_lowercase(), sort.as_str()),
            },
            ListingSource::Search {
                subreddit,
                query,
                sort,
                ..
            } => {
                format!(
                    "r/{}/search/{}?q={query}",
                    subreddit.to_lowercase(),
                    sort.as_str()
                )
            }
            ListingSource::Comments { subreddit } => format!("r/{}/comments", subreddit.to_lowercase()),
            ListingSource::UserSubmitted { user, sort } => format!("u/{user}/submitted/{}", sort.as_str()),
            ListingSource::UserComments { user, sort } => format!("u/{user}/comments/{}", sort.as_str()),
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            ListingSource::Subreddit { .. } | ListingSource::Comments { .. } => Endpoint::Listing,
            ListingSource::Search { .. } => Endpoint::Search,
            _ => Endpoint::UserListing,
        }
    }

    fn path_and_query(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            ListingSource::Subreddit {
                subreddit,
                sort,
                time,
            } => {
                let mut q = Vec::new();
                if let (Some(t), Sort::Top | Sort::Controversial) = (time, sort) {
                    q.push(("t", t.as_str().to_owned()));
                }
                (format!("/r/{subreddit}/{}", sort.as_str()), q)
            }
            ListingSource::Search {
                subreddit,
                query,
                sort,
                time,
            } => {
                let mut q = vec![
                    ("q", query.clone()),
                    ("restrict_sr", "1".to_owned()),
                    ("sort", sort.as_str().to_owned()),
                ];
                if let Some(t) = time {
                    q.push(("t", t.as_str().to_owned()));
                }
                (format!("/r/{subreddit}/search"), q)
            }
            ListingSource::Comments { subreddit } => (format!("/r/{subreddit}/comments"), Vec::new()),
            ListingSource::UserSubmitted { user, sort } => (
                format!("/user/{user}/submitted"),
                vec![("sort", sort.as_str().to_owned())],
            ),
            ListingSource::UserComments { user, sort } => (
                format!("/user/{user}/comments"),
                vec![("sort", sort.as_str().to_owned())],
            ),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingPage {
    /// The things on the page (`{"kind","data"}` objects), in listing order.
    pub things: Vec<Value>,
    /// The fullname to pass as `after` for the next page; `None` on the last page.
    pub after: Option<String>,
}

impl RedditClient {
    /// Fetches one page of up to `limit` (at most 100) items after the fullname `after`.
    pub async fn listing_page(
        &self,
        source: &ListingSource,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListingPage> {
        let (path, mut query) = source.path_and_query();
        query.push(("limit", limit.clamp(1, PAGE_SIZE).to_string()));
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let call = Call {
            endpoint: source.endpoint(),
            method: Method::GET,
            path: &path,
            query: &query,
            form: None,
        };
        let value = self.send(call).await?;
        parse_listing(&value).ok_or_else(|| Error::Shape {
            request: format!("GET {path}"),
            what: "expected a Listing with data.children".into(),
        })
    }
}

/// Parses a `Listing` into a page.
pub fn parse_listing(value: &Value) -> Option<ListingPage> {
    if thing::kind(value) != Some("Listing") {
        return None;
    }
    let things = thing::listing_children(value)?.clone();
    let after = thing::data(value)
        .get("after")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(ListingPage { things, after })
}
