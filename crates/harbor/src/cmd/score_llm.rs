//! The LLM half of `harbor score`: posts whose heuristic score reaches the threshold go to the LLM
//! scorer, unless their content was already scored by it (the cache).

use harbor_ai::source;
use harbor_ai::{
    Analysis, HeuristicScorer, Limits, LlmScorer, LlmStats, Masker, Post, RunOptions, ScoreConfig,
    ScoreReport, Scorer,
};
use harbor_core::destination::Destination;

use crate::output::{UserError, dest_error};

/// What the LLM step did.
pub struct LlmStep {
    /// The run.
    pub report: ScoreReport,
    /// Request, retry, error and malformed-answer counters.
    pub stats: LlmStats,
    /// Unchanged posts skipped.
    pub cached: u64,
    /// Posts below the threshold.
    pub below_threshold: u64,
}

/// Scores the eligible posts with the LLM.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    dest: &mut dyn Destination,
    cfg: &ScoreConfig,
    heuristic: &HeuristicScorer,
    posts: &[Post],
    rescore: bool,
    masker: Option<Masker>,
) -> anyhow::Result<(Vec<Analysis>, LlmStep)> {
    let scorer = LlmScorer::new(&cfg.llm, &cfg.prices, masker).map_err(|e| UserError {
        message: e.to_string(),
        hint: Some(
            "set [score.llm] base_url and model in harbor.toml, or HARBOR_LLM_BASE_URL and HARBOR_LLM_MODEL"
                .into(),
        ),
    })?;
    let (eligible, below): (Vec<Post>, Vec<Post>) = posts.iter().cloned().partition(|p| {
        heuristic
            .score_post(p)
            .final_score()
            .is_some_and(|f| f >= cfg.threshold)
    });
    let existing = source::read_existing(dest, scorer.id()).map_err(dest_error)?;
    let plan = harbor_ai::plan(eligible, &existing, rescore);
    let cached = plan.cached as u64;
    let opts = RunOptions {
        concurrency: cfg.concurrency.max(1),
        limits: Limits {
            max_tokens: cfg.max_tokens,
            max_cost_usd: cfg.max_cost_usd,
        },
    };
    let (results, report) = runtime.block_on(harbor_ai::score_posts(&scorer, plan.todo(), opts));
    Ok((
        results,
        LlmStep {
            report,
            stats: scorer.stats(),
            cached,
            below_threshold: below.len() as u64,
        },
    ))
}
