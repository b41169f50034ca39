//! The HTTP client: authentication, pacing, retries and statistics around every request.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::about::AboutCache;
use crate::auth::{self, TokenStore};
use crate::config::RedditConfig;
use crate::error::{Error, Result};
use crate::ratelimit::{Pacer, RateLimitHeaders, parse_retry_after};
use crate::response::classify;
use crate::stats::{CallStats, ClientEvent, Endpoint, EventHook, StatsCell};

/// A Reddit API client for one OAuth app. Cheap to clone; clones share the token, the rate-limit
/// budget, the statistics and the about-page cache.
#[derive(Clone)]
pub struct RedditClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    config: RedditConfig,
    api_base: String,
    pacer: Pacer,
    tokens: TokenStore,
    stats: StatsCell,
    hook: Option<EventHook>,
    pub(crate) about: AboutCache,
}

impl std::fmt::Debug for RedditClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditClient")
            .field("api_url", &self.inner.api_base)
            .finish_non_exhaustive()
    }
}

/// One request to send: endpoint label, method, path under the API base, query and form fields.
pub(crate) struct Call<'a> {
    pub endpoint: Endpoint,
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(&'a str, String)],
    pub form: Option<&'a [(&'a str, String)]>,
}

impl Call<'_> {
    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        let fields = self.form.unwrap_or(self.query);
        if !fields.is_empty() {
            s.push('?');
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    let v = if v.len() > 40 {
                        format!("{}...({} chars)", v.chars().take(40).collect::<String>(), v.len())
                    } else {
                        v.clone()
                    };
                    format!("{k}={v}")
                })
                .collect();
            s.push_str(&parts.join("&"));
        }
        s
    }
}

impl RedditClient {
    /// Builds a client; validates the config (User-Agent included). No request is made yet.
    pub fn new(config: RedditConfig) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        let api_base = config.api_url.trim_end_matches('/').to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_base,
                config,
                pacer: Pacer::default(),
                tokens: TokenStore::default(),
                stats: StatsCell::default(),
                hook: None,
                about: AboutCache::default(),
            }),
        })
    }

    /// Builds a client that reports waits, retries and token refreshes to `hook`.
    pub fn with_hook(config: RedditConfig, hook: EventHook) -> Result<Self> {
        let mut client = Self::new(config)?;
        if let Some(inner) = Arc::get_mut(&mut client.inner) {
            inner.hook = Some(hook);
        }
        Ok(client)
    }

    /// Spends at most `share` (0-1] of each rate-limit window's allowance, so other processes of
    /// the same OAuth client (scheduled runs beside `harbor watch`) keep the rest. The pacer
    /// enforces it from Reddit's own `X-Ratelimit-*` counts, which include every process's calls.
    pub fn set_budget_share(&self, share: f64) {
        self.inner.pacer.set_share(share);
    }

    /// The configuration in use.
    pub fn config(&self) -> &RedditConfig {
        &self.inner.config
    }

    /// A snapshot of the cumulative call statistics.
    pub fn stats(&self) -> CallStats {
        self.inner.stats.snapshot()
    }

    /// GET `path` (under the API base URL) with `query`, returning the JSON body (`raw_json=1` is
    /// added). For endpoints this crate has no helper for.
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(Call {
            endpoint: Endpoint::Other,
            method: Method::GET,
            path,
            query,
            form: None,
        })
        .await
    }

    fn emit(&self, event: ClientEvent) {
        if let Some(hook) = &self.inner.hook {
            hook(&event);
        }
    }

    /// Sends a call with authentication, pacing and retries; the single request path of the crate.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Value> {
        let retry = &self.inner.config.retry;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(retry.min_delay_ms))
            .with_max_delay(Duration::from_millis(retry.max_delay_ms.max(retry.min_delay_ms)))
            .with_max_times(retry.max_retries as usize)
            .with_jitter()
            .build();
        let mut attempts = 0u32;
        let mut refreshed_after_401 = false;
        loop {
            attempts += 1;
            let error = match self.attempt(&call).await {
                Ok(value) => {
                    self.inner.stats.call(call.endpoint);
                    return Ok(value);
                }
                Err((error, generation)) => {
                    if error.status() == Some(401) && !refreshed_after_401 {
                        // An expired or revoked token: refresh once and repeat at once.
                        refreshed_after_401 = true;
                        tracing::info!(request = %call.describe(), "Token rejected, refreshing");
                        if let Some(generation) = generation {
                            self.inner.tokens.invalidate(generation).await;
                        }
                        continue;
                    }
                    error
                }
            };
            if !error.is_transient() {
                return Err(error);
            }
            let Some(delay) = backoff.next() else {
                return Err(Error::RetriesExhausted {
                    request: call.describe(),
                    attempts,
                    last: Box::new(error),
                });
            };
            let delay = match &error {
                Error::Status {
                    retry_after: Some(after),
                    ..
                } => delay.max(*after),
                _ => delay,
            };
            self.inner.stats.update(|s| s.retries += 1);
            tracing::warn!(request = %call.describe(), attempt = attempts, ?delay, error = %error, "Retrying");
            self.emit(ClientEvent::Retry {
                request: call.describe(),
                attempt: attempts,
                delay,
                error: error.to_string(),
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// The current token, fetching a new one (with its own retries) when needed.
    async fn token(&self) -> Result<auth::Token> {
        let margin = Duration::from_secs(self.inner.config.token_refresh_margin_secs);
        if let Some(token) = self.inner.tokens.valid(margin).await {
            return Ok(token);
        }
        self.inner
            .tokens
            .refresh_with(margin, || async {
                let retry = &self.inner.config.retry;
                let mut backoff = ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(retry.min_delay_ms))
                    .with_max_delay(Duration::from_millis(retry.max_delay_ms.max(retry.min_delay_ms)))
                    .with_max_times(retry.max_retries as usize)
                    .with_jitter()
                    .build();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    self.inner.stats.request(Endpoint::Token);
                    match auth::request_token(&self.inner.http, &self.inner.config).await {
                        Ok(token) => {
                            self.inner.stats.update(|s| s.token_refreshes += 1);
                            self.inner.stats.call(Endpoint::Token);
                            self.emit(ClientEvent::TokenRefreshed);
                            return Ok(token);
                        }
                        Err(e) if e.is_transient() => {
                            let Some(delay) = backoff.next() else {
                                let request = format!("POST {}", self.inner.config.token_url);
                                return Err(Error::RetriesExhausted {
                                    request,
                                    attempts,
                                    last: Box::new(e),
                                });
                            };
                            if e.status() == Some(429) {
                                self.inner.stats.update(|s| s.rate_limited += 1);
                            }
                            self.inner.stats.update(|s| s.retries += 1);
                            tracing::warn!(error = %e, ?delay, "Retrying token request");
                            tokio::time::sleep(delay).await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
            .await
    }

    /// One attempt. On failure also returns the token generation used, so a 401 can invalidate it.
    async fn attempt(&self, call: &Call<'_>) -> std::result::Result<Value, (Error, Option<u64>)> {
        let token = self.token().await.map_err(|e| (e, None))?;
        let generation = Some(token.generation);
        let threshold = Duration::from_millis(self.inner.config.report_wait_over_ms);
        let waited = self
            .inner
            .pacer
            .acquire(|wait, remaining| {
                if wait >= threshold {
                    self.inner.stats.update(|s| s.rate_limit_waits += 1);
                    tracing::info!(?wait, remaining, "Waiting on rate limit");
                    self.emit(ClientEvent::RateLimitWait { wait, remaining });
                }
            })
            .await;
        self.inner.stats.update(|s| s.rate_limit_wait += waited.total);
        self.inner.stats.request(call.endpoint);

        let url = format!("{}{}", self.inner.api_base, call.path);
        let mut builder = self
            .inner
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(token.access.expose_secret())
            .query(call.query)
            .query(&[("raw_json", "1")]);
        if let Some(form) = call.form {
            builder = builder.form(form);
        }
        let request = call.describe();
        let response = match builder.send().await {
            Ok(r) => r,
            Err(source) => {
                self.inner.pacer.record(None, None);
                return Err((Error::Transport { request, source }, generation));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let limits = RateLimitHeaders::parse(&headers);
        let retry_after = parse_retry_after(&headers);
        let body = response.bytes().await;
        if status.as_u16() == 429 {
            self.inner.stats.update(|s| s.rate_limited += 1);
            let block = retry_after
                .or(limits.map(|l| l.reset))
                .unwrap_or(Duration::from_secs(1));
            self.inner.pacer.record(limits, Some(block));
        } else {
            self.inner.pacer.record(limits, None);
        }
        let body = body.map_err(|source| {
            (
                Error::Transport {
                    request: request.clone(),
                    source,
                },
                generation,
            )
        })?;
        classify(&request, status, &headers, &body, retry_after).map_err(|e| (e, generation))
    }
}
