//! The `[score]` section of `harbor.toml`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::price::PriceTable;

/// Scoring options.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreConfig {
    /// `heuristic` (offline, default) or `llm`.
    pub scorer: String,
    /// Score every post, not only problem posts (posts tagged `is_problem`, or matching the
    /// problem keywords when untagged).
    pub all_posts: bool,
    /// Problem keywords for untagged posts (default: the legacy list).
    pub keywords: Option<Vec<String>>,
    /// Top comments (by score) read with each post; their text is part of the content hash.
    pub top_comments: usize,
    /// Heuristic final score (0-100) a post needs before it is sent to the LLM.
    pub threshold: f64,
    /// Posts scored at the same time (LLM requests in flight).
    pub concurrency: usize,
    /// Token budget per run (prompt + completion); none by default.
    pub max_tokens: Option<u64>,
    /// Cost cap per run in USD; none by default.
    pub max_cost_usd: Option<f64>,
    /// The LLM endpoint.
    pub llm: LlmSettings,
    /// USD per million tokens, by model.
    pub prices: PriceTable,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            scorer: "heuristic".into(),
            all_posts: false,
            keywords: None,
            top_comments: 5,
            threshold: 40.0,
            concurrency: 8,
            max_tokens: None,
            max_cost_usd: None,
            llm: LlmSettings::default(),
            prices: PriceTable::default(),
        }
    }
}

/// How the answer's shape is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredMode {
    /// `response_format: json_schema`, falling back to text when the endpoint rejects it.
    #[default]
    Auto,
    /// Always `response_format: json_schema`.
    JsonSchema,
    /// The schema in the prompt and the JSON validated from the text answer.
    Text,
}

/// An OpenAI-compatible chat completions endpoint (OpenRouter, OpenAI, Ollama, vLLM).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Base URL; `/chat/completions` is appended (env `HARBOR_LLM_BASE_URL`).
    pub base_url: String,
    /// Model id (env `HARBOR_LLM_MODEL`).
    pub model: String,
    /// API key (env `HARBOR_LLM_API_KEY` or `OPENROUTER_API_KEY`); never logged.
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    /// Prompt file version under `crates/harbor-ai/prompts/` (part of the scorer id).
    pub prompt: String,
    /// How the JSON answer is enforced.
    pub structured: StructuredMode,
    /// Most completion tokens per answer.
    pub max_answer_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// Seconds before a request times out.
    pub timeout_secs: u64,
    /// Retries of 429, 5xx and transport errors.
    pub max_retries: u32,
    /// First backoff delay in milliseconds.
    pub min_delay_ms: u64,
    /// Longest backoff delay in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: "https://openrouter.ai/api/v1".into(),
            model: "anthropic/claude-haiku-4.5".into(),
            api_key: None,
            prompt: "opportunity-v1".into(),
            structured: StructuredMode::Auto,
            max_answer_tokens: 800,
            temperature: 0.0,
            timeout_secs: 60,
            max_retries: 4,
            min_delay_ms: 500,
            max_delay_ms: 20_000,
        }
    }
}

impl LlmSettings {
    /// Applies `HARBOR_LLM_BASE_URL`, `HARBOR_LLM_MODEL` and `HARBOR_LLM_API_KEY` (or
    /// `OPENROUTER_API_KEY`) from the environment.
    pub fn apply_env(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("HARBOR_LLM_BASE_URL") {
            self.base_url = v;
        }
        if let Some(v) = var("HARBOR_LLM_MODEL") {
            self.model = v;
        }
        if let Some(v) = var("HARBOR_LLM_API_KEY").or_else(|| var("OPENROUTER_API_KEY")) {
            self.api_key = Some(SecretString::from(v));
        }
    }
}
