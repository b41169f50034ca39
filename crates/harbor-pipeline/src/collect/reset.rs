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
    key == Tracked::key(&sub)
        || key
            .strip_prefix("reddit/r/")
            .and_then(|rest| rest.strip_prefix(sub.as_str()))
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Forgets the listing cursors and tracked posts of `subreddits` (the values become `null`), in
/// one committed load like any other state change, so the next run collects them as a first run
/// would. Collected rows stay. Returns how many state values were cleared.
pub fn reset(pipeline: &mut Pipeline, subreddits: &[String]) -> Result<usize> {
    pipeline.recover()?;
    let stored = pipeline.state()?;
    let mut cleared = PipelineState::default();
    for (key, value) in &stored.values {
        if !value.is_null() && subreddits.iter().any(|s| belongs_to(key, s)) {
            cleared.set(key.clone(), Value::Null);
        }
    }
    let n = cleared.values.len();
    if n == 0 {
        return Ok(0);
    }
    let source = format!("reddit api: reset r/{}", subreddits.join(", r/"));
    let (package, _) =
        pipeline.build_package(&source, None, |_, _, _| Ok((ExtractSummary::default(), cleared)))?;
    pipeline.load_package(package)?;
    Ok(n)
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
    }
}
