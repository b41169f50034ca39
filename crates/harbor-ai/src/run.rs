//! Runs a scorer over many posts: a concurrency limit, the budget, and a report that adds up.

use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use crate::analysis::{Analysis, Usage};
use crate::budget::{Budget, Limits};
use crate::post::Post;
use crate::scorer::Scorer;

/// Options of one scoring run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Posts scored at the same time.
    pub concurrency: usize,
    /// Token budget and cost cap.
    pub limits: Limits,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            limits: Limits::default(),
        }
    }
}

/// What a scoring run did. `scored + failed + left_unscored` equals the posts given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreReport {
    /// The scorer id.
    pub scorer_id: String,
    /// Posts given to the run.
    pub posts: u64,
    /// Posts scored.
    pub scored: u64,
    /// Posts recorded as failed (with a reason).
    pub failed: u64,
    /// Posts not sent because a limit was reached; they are scored by a later run.
    pub left_unscored: u64,
    /// Why the run stopped early.
    pub stopped: Option<String>,
    /// Why the scorer could not go on (e.g. the endpoint refused the API key): the run failed,
    /// and the posts not scored are left for a later run.
    pub error: Option<String>,
    /// Prompt tokens spent.
    pub prompt_tokens: u64,
    /// Completion tokens spent.
    pub completion_tokens: u64,
    /// Requests sent (retries included).
    pub requests: u64,
    /// USD spent.
    pub cost_usd: f64,
    /// Wall time.
    pub seconds: f64,
}

/// Scores `posts` with `scorer`, at most `opts.concurrency` at a time, within the limits. Results
/// come back in post order; posts left unscored by a limit have no result.
pub async fn score_posts(
    scorer: &dyn Scorer,
    posts: Vec<Post>,
    opts: RunOptions,
) -> (Vec<Analysis>, ScoreReport) {
    let t0 = Instant::now();
    let budget = Budget::new(opts.limits);
    let n = posts.len();
    let budget_ref = &budget;
    let mut results: Vec<(usize, Option<Analysis>)> = futures_util::stream::iter(posts.iter().enumerate())
        .map(|(i, post)| async move {
            if scorer.fatal().is_some() {
                return (i, None);
            }
            let estimate = scorer.estimate(post);
            if !budget_ref.reserve(estimate.0, estimate.1).await {
                return (i, None);
            }
            let a = scorer.score(post).await;
            budget_ref.settle(estimate, &a.usage, a.cost_usd);
            if !a.is_scored() && scorer.fatal().is_some() {
                // Not the post's fault: leave it for a run with working credentials.
                return (i, None);
            }
            (i, Some(a))
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut report = ScoreReport {
        scorer_id: scorer.id().to_owned(),
        posts: n as u64,
        stopped: budget.stopped(),
        error: scorer.fatal(),
        ..Default::default()
    };
    let mut usage = Usage::default();
    let mut out = Vec::with_capacity(n);
    for (_, a) in results {
        match a {
            None => report.left_unscored += 1,
            Some(a) => {
                if a.is_scored() {
                    report.scored += 1;
                } else {
                    report.failed += 1;
                }
                usage.add(&a.usage);
                report.cost_usd += a.cost_usd;
                out.push(a);
            }
        }
    }
    report.prompt_tokens = usage.prompt_tokens;
    report.completion_tokens = usage.completion_tokens;
    report.requests = usage.requests;
    report.seconds = t0.elapsed().as_secs_f64();
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HeuristicScorer;

    #[tokio::test]
    async fn heuristic_run_scores_every_post_in_order() {
        let posts: Vec<Post> = (0..20)
            .map(|i| Post {
                id: format!("p{i}"),
                title: format!("I struggle with task {i}"),
                ..Default::default()
            })
            .collect();
        let (out, r) = score_posts(&HeuristicScorer::default(), posts, RunOptions::default()).await;
        assert_eq!((r.posts, r.scored, r.failed, r.left_unscored), (20, 20, 0, 0));
        let ids: Vec<&str> = out.iter().map(|a| a.post_id.as_str()).collect();
        assert_eq!(ids[..3], ["p0", "p1", "p2"]);
        assert_eq!(r.cost_usd, 0.0);
    }
}
