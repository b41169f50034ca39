//! About pages of redditors (`/user/{name}/about`) and subreddits (`/r/{sub}/about`), cached per
//! client so each is fetched at most once.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;

use crate::client::{Call, RedditClient};
use crate::error::Result;
use crate::stats::Endpoint;

/// Cache of about pages, keyed by `r/name` or `u/name` (lower-cased).
#[derive(Debug, Default)]
pub(crate) struct AboutCache(Mutex<HashMap<String, Value>>);

impl AboutCache {
    fn get(&self, key: &str) -> Option<Value> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    fn put(&self, key: String, value: Value) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, value);
    }
}

impl RedditClient {
    /// The `t5` thing of a subreddit. Private, banned or missing subreddits give an error for which
    /// [`crate::Error::is_unavailable`] is true.
    pub async fn subreddit_about(&self, subreddit: &str) -> Result<Value> {
        self.about(
            format!("r/{}", subreddit.to_lowercase()),
            format!("/r/{subreddit}/about"),
            Endpoint::SubredditAbout,
        )
        .await
    }

    /// The `t2` thing of a redditor (suspended or missing accounts give an error).
    pub async fn user_about(&self, user: &str) -> Result<Value> {
        self.about(
            format!("u/{}", user.to_lowercase()),
            format!("/user/{user}/about"),
            Endpoint::UserAbout,
        )
        .await
    }

    async fn about(&self, key: String, path: String, endpoint: Endpoint) -> Result<Value> {
        if let Some(hit) = self.inner.about.get(&key) {
            return Ok(hit);
        }
        let value = self
            .send(Call {
                endpoint,
                method: Method::GET,
                path: &path,
                query: &[],
                form: None,
            })
            .await?;
        self.inner.about.put(key, value.clone());
        Ok(value)
    }
}
