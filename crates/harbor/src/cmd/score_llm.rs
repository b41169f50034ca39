//! The LLM half of `harbor score`: posts past the heuristic threshold go to the LLM scorer.

use harbor_ai::{Analysis, HeuristicScorer, Post, ScoreConfig, ScoreReport};
use harbor_core::destination::Destination;

use crate::output::UserError;

/// What the LLM step did.
pub struct LlmStep {
    /// The run.
    pub report: ScoreReport,
    /// Unchanged posts skipped.
    pub cached: u64,
    /// Posts below the threshold.
    pub below_threshold: u64,
}

/// Scores the eligible posts with the LLM.
pub fn run(
    _runtime: &tokio::runtime::Runtime,
    _dest: &mut dyn Destination,
    _cfg: &ScoreConfig,
    _heuristic: &HeuristicScorer,
    _posts: &[Post],
    _rescore: bool,
) -> anyhow::Result<(Vec<Analysis>, LlmStep)> {
    Err(UserError {
        message: "the llm scorer is not available in this build yet".into(),
        hint: Some("use --scorer heuristic".into()),
    }
    .into())
}
