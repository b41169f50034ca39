//! Prices per model, to turn the API's token usage into dollars.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt (input) tokens.
    pub input_per_mtok: f64,
    /// Per million completion (output) tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// The cost of a usage.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_mtok
            + usage.completion_tokens as f64 * self.output_per_mtok)
            / 1e6
    }
}

/// Prices by model id; models not listed cost `default` (zero unless configured, e.g. a local
/// Ollama model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceTable {
    /// Price of models not in `models`.
    pub default: Price,
    /// Price per model id (`anthropic/claude-haiku-4.5`).
    pub models: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    /// OpenRouter's list prices for the default model (USD per million tokens; see
    /// `docs/scoring.md` for the source), zero for others until configured.
    fn default() -> Self {
        let mut models = BTreeMap::new();
        models.insert(
            "anthropic/claude-haiku-4.5".to_owned(),
            Price {
                input_per_mtok: 1.0,
                output_per_mtok: 5.0,
            },
        );
        Self {
            default: Price {
                input_per_mtok: 0.0,
                output_per_mtok: 0.0,
            },
            models,
        }
    }
}

impl PriceTable {
    /// The price of a model.
    pub fn price(&self, model: &str) -> Price {
        self.models.get(model).copied().unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_per_token() {
        let t = PriceTable::default();
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 200_000,
            requests: 1,
        };
        assert!((t.price("anthropic/claude-haiku-4.5").cost(&u) - 2.0).abs() < 1e-9);
        assert_eq!(t.price("llama3").cost(&u), 0.0);
    }
}
