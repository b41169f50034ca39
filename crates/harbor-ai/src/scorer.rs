//! The one trait every scorer implements.

use std::future::Future;
use std::pin::Pin;

use crate::analysis::Analysis;
use crate::post::Post;

/// The future a scorer returns.
pub type ScoreFuture<'a> = Pin<Box<dyn Future<Output = Analysis> + Send + 'a>>;

/// Scores posts. A scorer never fails a whole run: a post it cannot score comes back as
/// [`crate::Outcome::Failed`] with the reason.
pub trait Scorer: Send + Sync {
    /// The scorer id stored with every result: kind, model and prompt (or rules) version, e.g.
    /// `heuristic-v1` or `llm:anthropic/claude-haiku-4.5:opportunity-v1`.
    fn id(&self) -> &str;

    /// Scores one post.
    fn score<'a>(&'a self, post: &'a Post) -> ScoreFuture<'a>;

    /// An upper estimate of the tokens and USD one post costs, checked against the budget before
    /// the post is sent. Offline scorers cost nothing.
    fn estimate(&self, post: &Post) -> (u64, f64) {
        let _ = post;
        (0, 0.0)
    }

    /// Set when the scorer cannot go on at all (e.g. the endpoint refused the API key): the run
    /// sends nothing more, leaves the remaining posts unscored and reports this as its error.
    fn fatal(&self) -> Option<String> {
        None
    }
}
