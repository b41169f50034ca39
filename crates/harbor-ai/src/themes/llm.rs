//! The optional LLM step of themes: the configured OpenAI-compatible model names each theme and
//! says which themes are the same problem, so they can be merged.
//!
//! Themes go in batches (terms and example titles of each, never author names); one request per
//! batch. An answer is cached by a hash of what it is about (model, prompt version, and each theme's
//! id and posts): the caller keeps the answers (in the pipeline state) and passes them back, so a
//! re-run over the same themes sends nothing and costs 0 tokens. Requests stop at the token budget or cost cap,
//! like scoring; themes of batches not sent keep their offline names.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_128;

use super::stats::Theme;
use crate::analysis::Usage;
use crate::budget::{Budget, Limits};
use crate::config::LlmSettings;
use crate::error::Result;
use crate::llm::client::Client;
use crate::price::{Price, PriceTable};

/// Version of the prompt below; part of every cache key.
pub const PROMPT_VERSION: &str = "themes-v1";
/// Marks the user message of a themes request.
pub const MARKER: &str = "HARBOR-THEMES-V1";
/// Themes per request.
pub const BATCH: usize = 40;

const SYSTEM: &str = "You help product researchers. You get themes found by clustering Reddit posts: each \
has an id, its most distinctive terms and example post titles. For every theme, give a short name (3 to 8 \
words) for the problem its posters have, and, when it is the same problem as another theme of the list, \
that theme's id in same_as (else null). Answer with only a JSON object: {\"themes\": [{\"id\": \"...\", \
\"name\": \"...\", \"same_as\": null}]}.";

/// What the step did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Review {
    /// New names by theme id.
    pub names: BTreeMap<String, String>,
    /// `(theme, into)`: `theme` is the same problem as `into`.
    pub merges: Vec<(String, String)>,
    /// Answers received in this run, by cache key (to keep for the next run).
    #[serde(skip)]
    pub answers: BTreeMap<String, Value>,
    /// Batches answered from the cache.
    pub cached_batches: u64,
    /// Batches sent.
    pub sent_batches: u64,
    /// Batches whose request failed or whose answer was unusable (their themes keep their names).
    pub failed_batches: u64,
    /// Why requests stopped early (budget or cost cap), if they did.
    pub stopped: Option<String>,
    /// Tokens and requests.
    pub usage: Usage,
    /// USD spent.
    pub cost_usd: f64,
}

/// Names and merges themes with an LLM.
#[derive(Debug)]
pub struct ThemeReviewer {
    client: Client,
    model: String,
    temperature: f64,
    max_answer_tokens: u32,
    price: Price,
}

fn extract(text: &str) -> Value {
    let t = text.trim();
    serde_json::from_str(t).unwrap_or_else(|_| match (t.find('{'), t.rfind('}')) {
        (Some(s), Some(e)) if s < e => serde_json::from_str(&t[s..=e]).unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

/// What a batch's answer depends on: each theme's id and posts. The cache key is a hash of it (not
/// of the request text, whose terms and examples can shift by float rounding when the same posts
/// are summed in another order).
fn batch_content(batch: &[&Theme]) -> String {
    batch
        .iter()
        .map(|t| format!("{}:{}", t.id, t.member_ids().join(",")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The user message of one batch.
pub fn request_text(batch: &[&Theme]) -> String {
    let items: Vec<Value> = batch
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "terms": t.terms,
                "posts": t.posts,
                "examples": t.examples.iter().take(5).map(|e| e.title.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    format!("{MARKER}\n{}", Value::Array(items))
}

impl ThemeReviewer {
    /// A reviewer for the endpoint in `settings`.
    pub fn new(settings: &LlmSettings, prices: &PriceTable) -> Result<Self> {
        Ok(Self {
            client: Client::for_settings(settings)?,
            model: settings.model.clone(),
            temperature: settings.temperature,
            max_answer_tokens: settings.max_answer_tokens.max(256) * 4,
            price: prices.price(&settings.model),
        })
    }

    /// The cache key of a batch's content.
    fn key(&self, text: &str) -> String {
        let h = xxh3_128(format!("{}\0{PROMPT_VERSION}\0{text}", self.model).as_bytes());
        format!("themes:llm:{h:032x}")
    }

    /// Cache entries for the themes as they are after a review was applied: their names, nothing
    /// left to merge. The next run over the same posts asks about exactly these themes, and is
    /// answered from these entries (0 tokens) instead of asking again about the merged result.
    pub fn settled(&self, themes: &[Theme], names: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
        themes
            .iter()
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(|batch| {
                let items: Vec<Value> = batch
                    .iter()
                    .map(|t| json!({"id": t.id, "name": names.get(&t.id), "same_as": null}))
                    .collect();
                (self.key(&batch_content(batch)), json!({ "themes": items }))
            })
            .collect()
    }

    /// Reviews `themes` in batches; `cache` holds answers of earlier runs by key.
    pub async fn review(&self, themes: &[Theme], cache: &HashMap<String, Value>, limits: Limits) -> Review {
        let budget = Budget::new(limits);
        let mut out = Review::default();
        let ids: HashSet<&str> = themes.iter().map(|t| t.id.as_str()).collect();
        for batch in themes.iter().collect::<Vec<_>>().chunks(BATCH) {
            let key = self.key(&batch_content(batch));
            let answer = if let Some(a) = cache.get(&key) {
                out.cached_batches += 1;
                a.clone()
            } else {
                let text = request_text(batch);
                let estimate_tokens =
                    (SYSTEM.len() + text.len()) as u64 / 4 + u64::from(self.max_answer_tokens);
                let estimate = (
                    estimate_tokens,
                    self.price.cost(&Usage {
                        prompt_tokens: estimate_tokens,
                        completion_tokens: 0,
                        requests: 1,
                    }),
                );
                if !budget.reserve(estimate.0, estimate.1).await {
                    out.stopped = budget.stopped();
                    break;
                }
                let body = json!({
                    "model": self.model,
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
                    "temperature": self.temperature,
                    "max_tokens": self.max_answer_tokens,
                });
                let (result, requests) = self.client.send(&body).await;
                let mut usage = Usage {
                    requests,
                    ..Usage::default()
                };
                let parsed = match result {
                    Ok(reply) => {
                        usage.prompt_tokens = reply.prompt_tokens;
                        usage.completion_tokens = reply.completion_tokens;
                        Some(extract(&reply.content))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.describe(), "Theme review request failed");
                        None
                    }
                };
                let cost = self.price.cost(&usage);
                budget.settle(estimate, &usage, cost);
                out.usage.add(&usage);
                out.cost_usd += cost;
                out.sent_batches += 1;
                match parsed {
                    Some(v) if v["themes"].is_array() => {
                        out.answers.insert(key, v.clone());
                        v
                    }
                    _ => {
                        out.failed_batches += 1;
                        continue;
                    }
                }
            };
            for item in answer["themes"].as_array().into_iter().flatten() {
                let Some(id) = item["id"].as_str().filter(|id| ids.contains(id)) else {
                    continue;
                };
                if let Some(name) = item["name"].as_str().map(str::trim).filter(|n| !n.is_empty()) {
                    out.names.insert(id.to_owned(), name.chars().take(120).collect());
                }
                if let Some(into) = item["same_as"].as_str().filter(|o| *o != id && ids.contains(o)) {
                    out.merges.push((id.to_owned(), into.to_owned()));
                }
            }
        }
        out
    }
}

/// Resolves merge pairs into a map theme -> the theme it joins, following chains (a -> b -> c
/// gives a -> c and b -> c) and breaking cycles at the theme with more posts (then the smaller id).
pub fn merge_targets(merges: &[(String, String)], posts: &HashMap<&str, u64>) -> BTreeMap<String, String> {
    // Union-find over ids; the root of a set is its biggest theme.
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(parent: &mut HashMap<String, String>, x: &str) -> String {
        let mut cur = x.to_owned();
        while let Some(p) = parent.get(&cur).filter(|p| **p != cur) {
            cur = p.clone();
        }
        cur
    }
    let rank = |id: &str| {
        (
            posts.get(id).copied().unwrap_or(0),
            std::cmp::Reverse(id.to_owned()),
        )
    };
    for (a, b) in merges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb {
            continue;
        }
        let (root, child) = if rank(&ra) >= rank(&rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        parent.insert(child, root.clone());
        parent.entry(root.clone()).or_insert(root);
    }
    let ids: Vec<String> = parent.keys().cloned().collect();
    ids.into_iter()
        .filter_map(|id| {
            let root = find(&mut parent, &id);
            (root != id).then_some((id, root))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_follow_chains_into_the_biggest_theme() {
        let posts: HashMap<&str, u64> = [("a", 5), ("b", 9), ("c", 2), ("d", 4)].into_iter().collect();
        let m = merge_targets(
            &[
                ("a".into(), "c".into()),
                ("c".into(), "b".into()),
                ("d".into(), "d".into()),
            ],
            &posts,
        );
        assert_eq!(m.get("a").map(String::as_str), Some("b"));
        assert_eq!(m.get("c").map(String::as_str), Some("b"));
        assert!(!m.contains_key("b") && !m.contains_key("d"));
    }

    #[test]
    fn answers_are_found_in_prose() {
        assert_eq!(
            extract("Sure:\n```json\n{\"themes\": []}\n```")["themes"],
            json!([])
        );
        assert!(extract("no json").is_null());
    }
}
