//! Forgetting what the collector remembers about subreddits, so the next run starts over.

use harbor_core::state::PipelineState;
use serde_json::Value;

use super::tracked::Tracked;
use crate::error::Result;
use crate::extract::ExtractSummary;
use crate::run::Pipeline;

/// Whether a state key belongs to the collector's memory of `subreddit` (listing cursors
/// `reddit/r/{sub}/...` and tracked posts `reddit/tracked/r/{sub}`).
fn belongs_to(key: &str, subreddit: &str) -> bool {
    let sub = subreddit.to_lowercase();
    key == Tracked::key(&sub) || under(key, "reddit/r/", &sub)
}

/// Whether `key` is `{prefix}{sub}/...`.
fn under(key: &str, prefix: &str, sub: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(sub))
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a state key holds what runs or the watcher remember about `subreddit`: the keys
/// [`reset`] forgets and the watcher's cursors `watch/r/{sub}/...`.
pub fn subreddit_key(key: &str, subreddit: &str) -> bool {
    belongs_to(key, subreddit) || under(key, "watch/r/", &subreddit.to_lowercase())
}

/// Sets `keys` to `null` in one committed load (like any other state change; collected rows
/// stay), with `source` as the load's source. Returns how many were set.
pub fn forget(pipeline: &mut Pipeline, keys: &[String], source: &str) -> Result<usize> {
    pipeline.recover()?;
    let mut cleared = PipelineState::default();
    for key in keys {
        cleared.set(key.clone(), Value::Null);
    }
    if keys.is_empty() {
        return Ok(0);
    }
    let (package, _) =
        pipeline.build_package(source, None, |_, _, _| Ok((ExtractSummary::default(), cleared)))?;
    pipeline.load_package(package)?;
    Ok(keys.len())
}

/// Forgets the listing cursors and tracked posts of `subreddits` (the values become `null`), in
/// one committed load like any other state change, so the next run collects them as a first run
/// would. Collected rows stay. Returns how many state values were cleared.
pub fn reset(pipeline: &mut Pipeline, subreddits: &[String]) -> Result<usize> {
    pipeline.recover()?;
    let stored = pipeline.state()?;
    let keys: Vec<String> = stored
        .values
        .iter()
        .filter(|(key, value)| !value.is_null() && subreddits.iter().any(|s| belongs_to(key, s)))
        .map(|(key, _)| key.clone())
        .collect();
    let source = format!("reddit api: reset r/{}", subreddits.join(", r/"));
    forget(pipeline, &keys, &source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_a_subreddit() {
        assert!(belongs_to("reddit/r/rust/new", "Rust"));
        assert!(belongs_to("reddit/r/rust/top?t=week", "rust"));
        assert!(belongs_to("reddit/tracked/r/rust", "rust"));
        assert!(!belongs_to("reddit/r/rustlang/new", "rust"));
        assert!(!belongs_to("file:/x/r/rust/new", "rust"));
        assert!(!belongs_to("watch/r/rust/new", "rust"));
        assert!(subreddit_key("watch/r/rust/comments", "Rust"));
        assert!(subreddit_key("reddit/tracked/r/rust", "rust"));
        assert!(!subreddit_key("watch/r/rustlang/new", "rust"));
    }
}
