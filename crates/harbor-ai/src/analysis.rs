//! The result of scoring one post: the row of `opportunity_analysis`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Weights of the final score. They sum to 1, so the final score stays on the 0-100 scale of its
/// parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Market demand.
    pub market_demand: f64,
    /// Pain intensity.
    pub pain_intensity: f64,
    /// Monetization potential.
    pub monetization_potential: f64,
    /// Market gap.
    pub market_gap: f64,
    /// Technical feasibility.
    pub technical_feasibility: f64,
    /// Simplicity (from the number of core functions).
    pub simplicity: f64,
}

impl Weights {
    /// The sum of the weights.
    pub fn sum(&self) -> f64 {
        self.market_demand
            + self.pain_intensity
            + self.monetization_potential
            + self.market_gap
            + self.technical_feasibility
            + self.simplicity
    }
}

/// The legacy formula's weights: 0.20 demand, 0.25 pain, 0.20 monetization, 0.10 gap,
/// 0.05 feasibility, 0.20 simplicity.
pub const WEIGHTS: Weights = Weights {
    market_demand: 0.20,
    pain_intensity: 0.25,
    monetization_potential: 0.20,
    market_gap: 0.10,
    technical_feasibility: 0.05,
    simplicity: 0.20,
};

/// The five scored dimensions, each 0-100.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    /// How many people have the problem (engagement, "me too").
    pub market_demand: f64,
    /// How much it hurts.
    pub pain_intensity: f64,
    /// Whether someone would pay.
    pub monetization_potential: f64,
    /// Whether existing solutions fall short.
    pub market_gap: f64,
    /// Whether a small team can build it.
    pub technical_feasibility: f64,
}

/// Simplicity from the number of core functions: 1 -> 100, 2 -> 85, 3 (or more) -> 70.
pub fn simplicity(core_functions: usize) -> f64 {
    match core_functions {
        0 | 1 => 100.0,
        2 => 85.0,
        _ => 70.0,
    }
}

/// The weighted final score (0-100), rounded to two decimals.
pub fn final_score(d: &Dimensions, simplicity: f64) -> f64 {
    let w = WEIGHTS;
    let s = w.market_demand * d.market_demand
        + w.pain_intensity * d.pain_intensity
        + w.monetization_potential * d.monetization_potential
        + w.market_gap * d.market_gap
        + w.technical_feasibility * d.technical_feasibility
        + w.simplicity * simplicity;
    (s * 100.0).round() / 100.0
}

/// The app profile an LLM proposes (the heuristic fills what it can).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// A short product name.
    pub app_name: Option<String>,
    /// The problem in one or two sentences.
    pub problem_description: Option<String>,
    /// The app in one or two sentences.
    pub app_concept: Option<String>,
    /// One to three core functions.
    pub core_functions: Vec<String>,
    /// Why users would choose it.
    pub value_proposition: Option<String>,
    /// Who it is for.
    pub target_user: Option<String>,
    /// How it makes money.
    pub monetization_model: Option<String>,
    /// Why it can grow.
    pub growth_justification: Option<String>,
}

/// Token usage of the calls made for one post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, as the API reported them.
    pub prompt_tokens: u64,
    /// Completion tokens, as the API reported them.
    pub completion_tokens: u64,
    /// Requests sent (retries included).
    pub requests: u64,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Adds another usage.
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.requests += other.requests;
    }
}

/// Scored or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A complete score.
    Scored {
        /// The five dimensions.
        dimensions: Dimensions,
        /// Simplicity (100/85/70).
        simplicity: f64,
        /// The weighted final score.
        final_score: f64,
        /// Why: matched phrases, engagement numbers, or the model's answer.
        evidence: Value,
        /// The app profile (boxed: it is most of the variant's size).
        profile: Box<Profile>,
    },
    /// No usable answer; the reason is stored so the post is never silently dropped.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// One post scored by one scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The post id.
    pub post_id: String,
    /// The scorer id (with model and prompt version).
    pub scorer_id: String,
    /// Content hash of what was scored.
    pub content_hash: String,
    /// The result.
    pub outcome: Outcome,
    /// The model, for LLM scorers.
    pub model: Option<String>,
    /// The prompt (or rules) version.
    pub prompt_version: Option<String>,
    /// Tokens used.
    pub usage: Usage,
    /// Cost in USD from the price table.
    pub cost_usd: f64,
    /// When it was scored (Unix seconds).
    pub scored_at: f64,
}

impl Analysis {
    /// Whether the post was scored.
    pub fn is_scored(&self) -> bool {
        matches!(self.outcome, Outcome::Scored { .. })
    }

    /// The final score, if scored.
    pub fn final_score(&self) -> Option<f64> {
        match &self.outcome {
            Outcome::Scored { final_score, .. } => Some(*final_score),
            Outcome::Failed { .. } => None,
        }
    }

    /// The merge key of `opportunity_analysis`: one row per post and scorer.
    pub fn analysis_id(&self) -> String {
        format!("{}:{}", self.post_id, self.scorer_id)
    }

    /// The row of `opportunity_analysis` as a JSON object (column -> value).
    pub fn to_record(&self) -> Value {
        let mut row = json!({
            "analysis_id": self.analysis_id(),
            "post_id": self.post_id,
            "scorer_id": self.scorer_id,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cost_usd": self.cost_usd,
            "content_hash": self.content_hash,
            "scored_at": self.scored_at,
        });
        let extra = match &self.outcome {
            Outcome::Scored {
                dimensions: d,
                simplicity,
                final_score,
                evidence,
                profile: p,
            } => json!({
                "status": "scored",
                "failure_reason": null,
                "market_demand": d.market_demand,
                "pain_intensity": d.pain_intensity,
                "monetization_potential": d.monetization_potential,
                "market_gap": d.market_gap,
                "technical_feasibility": d.technical_feasibility,
                "simplicity": simplicity,
                "final_score": final_score,
                "evidence": evidence,
                "app_name": p.app_name,
                "problem_description": p.problem_description,
                "app_concept": p.app_concept,
                "core_functions": p.core_functions,
                "value_proposition": p.value_proposition,
                "target_user": p.target_user,
                "monetization_model": p.monetization_model,
                "growth_justification": p.growth_justification,
            }),
            Outcome::Failed { reason } => json!({
                "status": "failed",
                "failure_reason": reason,
                "market_demand": null, "pain_intensity": null, "monetization_potential": null,
                "market_gap": null, "technical_feasibility": null, "simplicity": null,
                "final_score": null, "evidence": null, "app_name": null, "problem_description": null,
                "app_concept": null, "core_functions": null, "value_proposition": null,
                "target_user": null, "monetization_model": null, "growth_justification": null,
            }),
        };
        if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
            row.extend(extra);
        }
        row
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_micros() as f64) / 1e6)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one() {
        assert!((WEIGHTS.sum() - 1.0).abs() < 1e-12, "sum {}", WEIGHTS.sum());
    }

    #[test]
    fn final_score_is_the_weighted_sum() {
        let d = Dimensions {
            market_demand: 50.0,
            pain_intensity: 80.0,
            monetization_potential: 40.0,
            market_gap: 60.0,
            technical_feasibility: 90.0,
        };
        // 10 + 20 + 8 + 6 + 4.5 + 17 = 65.5
        assert_eq!(final_score(&d, simplicity(2)), 65.5);
        let all = Dimensions {
            market_demand: 100.0,
            pain_intensity: 100.0,
            monetization_potential: 100.0,
            market_gap: 100.0,
            technical_feasibility: 100.0,
        };
        assert_eq!(final_score(&all, simplicity(1)), 100.0);
        assert_eq!([simplicity(1), simplicity(2), simplicity(3)], [100.0, 85.0, 70.0]);
    }
}
