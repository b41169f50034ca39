//! The HTTP side: one chat completions request with retries, backoff and `Retry-After`, and the
//! classification of every failure as transient or terminal in one place.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::stats::Stats;

/// A failed call.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// The endpoint answered with an error status.
    Http {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// The request did not complete (connection, timeout).
    Transport(String),
    /// A 200 whose body is not a chat completion.
    BadResponse(String),
}

impl CallError {
    /// Whether the same request may succeed later.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            CallError::Http { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429 | 500 | 502 | 503 | 504 | 520..=529)
            }
            CallError::Transport(_) => true,
            CallError::BadResponse(_) => false,
        }
    }

    /// A 400 that says the endpoint does not support `response_format`.
    pub(crate) fn rejects_response_format(&self) -> bool {
        match self {
            CallError::Http { status, body, .. } => {
                *status == 400 && (body.contains("response_format") || body.contains("json_schema"))
            }
            _ => false,
        }
    }

    /// Whether the endpoint refused the credentials (every later request would fail the same way).
    pub(crate) fn is_auth(&self) -> Option<u16> {
        match self {
            CallError::Http { status, .. } if matches!(status, 401 | 403) => Some(*status),
            _ => None,
        }
    }

    /// For `failure_reason`: short, without secrets (error bodies are redacted when received).
    pub(crate) fn describe(&self) -> String {
        match self {
            CallError::Http { status, body, .. } => {
                let text: String = body.chars().take(200).collect();
                format!("HTTP {status}: {text}")
            }
            CallError::Transport(e) => {
                format!("request failed: {}", harbor_core::redact::redact_remote(e, None))
            }
            CallError::BadResponse(e) => format!("unexpected response: {e}"),
        }
    }
}

/// The useful part of a completion.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    pub max_retries: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

/// A chat completions endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub key: Option<SecretString>,
    pub retry: Retry,
    pub stats: Arc<Stats>,
}

impl Client {
    /// The client of the chat-completions endpoint in `settings`: base URL checked, timeout and
    /// retry policy taken from them, counters at zero.
    pub(crate) fn for_settings(settings: &crate::config::LlmSettings) -> crate::error::Result<Self> {
        let base = settings.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(crate::error::Error::Config(format!(
                "LLM base URL {base:?} must start with http:// or https://"
            )));
        }
        let url = format!("{base}/chat/completions");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs.max(1)))
            .build()
            .map_err(|source| crate::error::Error::Client {
                url: url.clone(),
                source,
            })?;
        Ok(Self {
            http,
            url,
            key: settings.api_key.clone(),
            retry: Retry {
                max_retries: settings.max_retries,
                min_delay: Duration::from_millis(settings.min_delay_ms),
                max_delay: Duration::from_millis(settings.max_delay_ms),
            },
            stats: Arc::default(),
        })
    }

    async fn attempt(&self, body: &Value) -> Result<Reply, CallError> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = &self.key {
            req = req.bearer_auth(key.expose_secret());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(300.0)));
        let text = resp
            .text()
            .await
            .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
        if status != 200 {
            // A proxy may echo the request headers: no key may reach a trace or the database.
            let known = self.key.as_ref().map(|k| k.expose_secret());
            return Err(CallError::Http {
                status,
                body: harbor_core::redact::redact_remote(&text, known),
                retry_after,
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| CallError::BadResponse(format!("invalid JSON body: {e}")))?;
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| CallError::BadResponse("no choices[0].message.content".into()))?
            .to_owned();
        Ok(Reply {
            content,
            prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
            completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
        })
    }

    /// Sends `body`, retrying transient failures with jittered exponential backoff (at least
    /// `Retry-After`). Returns the result and the number of HTTP requests made.
    pub(crate) async fn send(&self, body: &Value) -> (Result<Reply, CallError>, u64) {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay.max(self.retry.min_delay))
            .with_max_times(self.retry.max_retries as usize)
            .with_jitter()
            .build();
        let mut requests = 0u64;
        loop {
            requests += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let err = match self.attempt(body).await {
                Ok(r) => return (Ok(r), requests),
                Err(e) => e,
            };
            if let CallError::Http { status, .. } = &err {
                if *status == 429 {
                    self.stats.http_429.fetch_add(1, Ordering::Relaxed);
                } else if *status >= 500 {
                    self.stats.http_5xx.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !err.is_transient() {
                return (Err(err), requests);
            }
            let Some(delay) = backoff.next() else {
                return (Err(err), requests);
            };
            let delay = match &err {
                CallError::Http {
                    retry_after: Some(after),
                    ..
                } => delay.max(*after),
                _ => delay,
            };
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err.describe(), ?delay, "Retrying LLM request");
            tokio::time::sleep(delay).await;
        }
    }
}
