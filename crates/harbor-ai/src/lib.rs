//! RedditHarbor opportunity scoring: problem posts in, ranked app opportunities out.
//!
//! - [`Scorer`] is the one trait every scorer implements; its id names the scorer, model and prompt
//!   version, so results of different scorers never mix.
//! - [`HeuristicScorer`] (default, offline, deterministic) scores the five dimensions and simplicity
//!   from phrases and engagement, with the matched evidence kept beside the score; [`explain`]
//!   turns stored evidence into a short sentence per dimension.
//! - [`LlmScorer`] asks any OpenAI-compatible chat completions endpoint for a JSON answer
//!   constrained by a schema, retries transient failures with backoff, and accounts tokens and cost.
//! - [`score_posts`] runs a scorer over posts with a concurrency limit, a token budget and a cost cap;
//!   [`plan`] picks the posts whose content changed since they were scored (the cache).
//! - [`Masker`] masks e-mail addresses, phone numbers and `u/name` mentions and replaces author names
//!   by a keyed hash, before anything is written or sent.

mod analysis;
mod budget;
mod config;
mod error;
pub mod explain;
pub mod heuristic;
pub mod llm;
mod pii;
mod plan;
mod post;
mod price;
mod run;
mod scorer;
pub mod source;
pub mod themes;

pub use analysis::{
    Analysis, Dimensions, Outcome, Profile, Usage, WEIGHTS, Weights, final_score, simplicity,
};
pub use budget::{Budget, Limits, Reserve};
pub use config::{LlmSettings, ScoreConfig, StructuredMode};
pub use error::{Error, Result};
pub use explain::{Reason, explain};
pub use harbor_reddit::ProblemFilter;
pub use heuristic::HeuristicScorer;
pub use llm::{LlmConfig, LlmScorer, LlmStats};
pub use pii::{Masker, PiiOptions};
pub use plan::{Existing, Plan, plan};
pub use post::{Comment, Post};
pub use price::{Price, PriceTable};
pub use run::{RunOptions, ScoreReport, score_posts};
pub use scorer::{ScoreFuture, Scorer};
pub use source::{ReadOptions, StoredPost};
