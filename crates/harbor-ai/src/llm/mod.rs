//! The LLM scorer: any OpenAI-compatible chat completions endpoint, answers constrained by a JSON
//! schema (`response_format: json_schema`, or validated JSON in text when the endpoint cannot),
//! one retry with the validation error for a malformed answer, then a recorded failure.

mod answer;
pub(crate) mod client;
mod prompt;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::analysis::{Analysis, Outcome, Usage, final_score, now_secs, simplicity};
use crate::config::{LlmSettings, StructuredMode};
use crate::error::Result;
use crate::pii::Masker;
use crate::post::Post;
use crate::price::{Price, PriceTable};
use crate::scorer::{ScoreFuture, Scorer};
pub use answer::{parse as parse_answer, schema};
use client::Client;
pub use prompt::Prompt;
pub use stats::LlmStats;

/// Alias kept for the crate root's re-exports.
pub type LlmConfig = LlmSettings;

/// Scores posts with an LLM.
#[derive(Debug)]
pub struct LlmScorer {
    client: Client,
    settings: LlmSettings,
    prompt: Prompt,
    price: Price,
    id: String,
    text_mode: AtomicBool,
    masker: Option<Masker>,
    fatal: std::sync::Mutex<Option<String>>,
}

impl LlmScorer {
    /// A scorer for the endpoint in `settings`, pricing tokens with `prices`. `masker` (when PII
    /// masking is on) is applied to every text before it is sent.
    pub fn new(settings: &LlmSettings, prices: &PriceTable, masker: Option<Masker>) -> Result<Self> {
        let prompt = Prompt::load(&settings.prompt)?;
        Ok(Self {
            client: Client::for_settings(settings)?,
            id: format!("llm:{}:{}", settings.model, prompt.version),
            prompt,
            price: prices.price(&settings.model),
            text_mode: AtomicBool::new(settings.structured == StructuredMode::Text),
            settings: settings.clone(),
            masker,
            fatal: std::sync::Mutex::new(None),
        })
    }

    /// Counters of requests, retries, errors and malformed answers so far.
    pub fn stats(&self) -> LlmStats {
        self.client.stats.snapshot()
    }

    fn system(&self, text_mode: bool) -> String {
        if text_mode {
            format!("{}\n\n{}", self.prompt.system(), answer::text_instruction())
        } else {
            self.prompt.system().to_owned()
        }
    }

    fn body(&self, messages: &[Value], text_mode: bool) -> Value {
        let mut b = json!({
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_answer_tokens,
        });
        if !text_mode {
            b["response_format"] = answer::response_format();
        }
        b
    }

    fn masked(&self, post: &Post) -> Post {
        match &self.masker {
            Some(m) => m.mask_post(post),
            None => post.clone(),
        }
    }

    async fn score_post(&self, post: &Post) -> Analysis {
        if let Some(why) = self.fatal() {
            return self.failed(post, why, Usage::default());
        }
        let user = self.prompt.user(&self.masked(post));
        let mut usage = Usage::default();
        let mut text_mode = self.text_mode.load(Ordering::Relaxed);
        let mut messages = vec![
            json!({"role": "system", "content": self.system(text_mode)}),
            json!({"role": "user", "content": user}),
        ];
        let mut retried_malformed = false;
        let outcome = loop {
            let (result, requests) = self.client.send(&self.body(&messages, text_mode)).await;
            usage.requests += requests;
            let reply = match result {
                Ok(r) => r,
                Err(e)
                    if !text_mode
                        && self.settings.structured == StructuredMode::Auto
                        && e.rejects_response_format() =>
                {
                    // The endpoint cannot enforce a schema: ask for JSON in text from now on.
                    self.text_mode.store(true, Ordering::Relaxed);
                    self.client.stats.schema_fallbacks.fetch_add(1, Ordering::Relaxed);
                    text_mode = true;
                    messages[0] = json!({"role": "system", "content": self.system(true)});
                    continue;
                }
                Err(e) => {
                    if let Some(status) = e.is_auth() {
                        let why = format!(
                            "the LLM endpoint {} refused the API key (HTTP {status}); check \
                             HARBOR_LLM_API_KEY (and the base URL)",
                            harbor_core::redact::endpoint_of(&self.client.url)
                        );
                        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
                        fatal.get_or_insert(why);
                    }
                    break Outcome::Failed { reason: e.describe() };
                }
            };
            usage.prompt_tokens += reply.prompt_tokens;
            usage.completion_tokens += reply.completion_tokens;
            match answer::parse(&reply.content) {
                Ok((dimensions, profile)) => {
                    let simple = simplicity(profile.core_functions.len());
                    let evidence = json!({"source": "llm", "answer": extract_value(&reply.content)});
                    break Outcome::Scored {
                        final_score: final_score(&dimensions, simple),
                        dimensions,
                        simplicity: simple,
                        evidence,
                        profile: Box::new(profile),
                    };
                }
                Err(why) => {
                    self.client.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    if retried_malformed {
                        break Outcome::Failed {
                            reason: format!("answer did not match the schema after a retry: {why}"),
                        };
                    }
                    retried_malformed = true;
                    messages.push(json!({"role": "assistant", "content": reply.content}));
                    messages.push(json!({"role": "user", "content": format!(
                        "Your answer did not match the required JSON schema: {why}. Reply again with only \
                         the corrected JSON object."
                    )}));
                }
            }
        };
        Analysis {
            post_id: post.id.clone(),
            scorer_id: self.id.clone(),
            content_hash: post.content_hash(),
            outcome,
            model: Some(self.settings.model.clone()),
            prompt_version: Some(self.prompt.version.clone()),
            cost_usd: self.price.cost(&usage),
            usage,
            scored_at: now_secs(),
        }
    }
}

impl LlmScorer {
    fn failed(&self, post: &Post, reason: String, usage: Usage) -> Analysis {
        Analysis {
            post_id: post.id.clone(),
            scorer_id: self.id.clone(),
            content_hash: post.content_hash(),
            outcome: Outcome::Failed { reason },
            model: Some(self.settings.model.clone()),
            prompt_version: Some(self.prompt.version.clone()),
            cost_usd: self.price.cost(&usage),
            usage,
            scored_at: now_secs(),
        }
    }
}

fn extract_value(text: &str) -> Value {
    let t = text.trim();
    serde_json::from_str(t).unwrap_or_else(|_| match (t.find('{'), t.rfind('}')) {
        (Some(s), Some(e)) if s < e => serde_json::from_str(&t[s..=e]).unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

impl Scorer for LlmScorer {
    fn id(&self) -> &str {
        &self.id
    }

    fn score<'a>(&'a self, post: &'a Post) -> ScoreFuture<'a> {
        Box::pin(self.score_post(post))
    }

    fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Prompt tokens at three characters per token (real tokenizers average about four) plus the
    /// full answer allowance: an upper estimate, so the cost cap is not passed.
    fn estimate(&self, post: &Post) -> (u64, f64) {
        let chars =
            self.prompt.system().len() + answer::text_instruction().len() + self.prompt.user(post).len();
        let usage = Usage {
            prompt_tokens: (chars as u64).div_ceil(3),
            completion_tokens: u64::from(self.settings.max_answer_tokens),
            requests: 1,
        };
        (usage.total(), self.price.cost(&usage))
    }
}
