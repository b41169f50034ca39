//! Per-subreddit memory of recent posts, kept in the pipeline state and committed with the data:
//! when each post was created (for the refresh window), the `num_comments` its comments were last
//! collected at (so threads are fetched again only when they grew) and when it was found removed.

use std::collections::{BTreeMap, HashSet};

use harbor_core::state::PipelineState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the collector remembers about one post.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackedPost {
    /// `created_utc` (epoch seconds).
    #[serde(rename = "c")]
    pub created_utc: f64,
    /// `num_comments` when its comments were last collected; `None` when they never were.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub comments_at: Option<u64>,
    /// When a refresh first found it deleted or removed (epoch seconds).
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<f64>,
}

/// The tracked posts of one subreddit, by fullname.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tracked {
    /// Posts by fullname (`t3_...`).
    pub posts: BTreeMap<String, TrackedPost>,
}

impl Tracked {
    /// The state key of a subreddit's tracked posts.
    pub fn key(subreddit: &str) -> String {
        format!("reddit/tracked/r/{}", subreddit.to_lowercase())
    }

    /// Reads a subreddit's tracked posts from the state (empty when absent or unreadable).
    pub fn from_state(state: &PipelineState, subreddit: &str) -> Tracked {
        state
            .get(&Self::key(subreddit))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// The state value.
    pub fn to_value(&self) -> Value {
        // A map of plain numbers always serializes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Fullnames created at or after `since`, except those in `exclude`, oldest first.
    pub fn due_for_refresh(&self, since: f64, exclude: &HashSet<String>) -> Vec<String> {
        let mut due: Vec<(&String, f64)> = self
            .posts
            .iter()
            .filter(|(name, p)| p.created_utc >= since && !exclude.contains(*name))
            .map(|(name, p)| (name, p.created_utc))
            .collect();
        due.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        due.into_iter().map(|(n, _)| n.clone()).collect()
    }

    /// Forgets posts created before `horizon`.
    pub fn prune(&mut self, horizon: f64) {
        self.posts.retain(|_, p| p.created_utc >= horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_selects_the_window() {
        let mut t = Tracked::default();
        for (i, name) in ["t3_a", "t3_b", "t3_c"].iter().enumerate() {
            t.posts.insert(
                (*name).to_owned(),
                TrackedPost {
                    created_utc: 100.0 * i as f64,
                    comments_at: Some(i as u64),
                    removed_at: None,
                },
            );
        }
        let mut state = PipelineState::default();
        state.set(Tracked::key("Rust"), t.to_value());
        let back = Tracked::from_state(&state, "rust");
        assert_eq!(back, t);
        let exclude: HashSet<String> = ["t3_c".to_owned()].into();
        assert_eq!(back.due_for_refresh(50.0, &exclude), vec!["t3_b"]);
        let mut pruned = back.clone();
        pruned.prune(150.0);
        assert_eq!(pruned.posts.keys().collect::<Vec<_>>(), vec!["t3_c"]);
    }
}
