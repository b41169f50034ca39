//! Client configuration: credentials, auth flow, base URLs, timeouts and retry policy.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Reddit's OAuth API base URL.
pub const DEFAULT_API_URL: &str = "https://oauth.reddit.com";
/// Reddit's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://www.reddit.com/api/v1/access_token";

/// Which OAuth2 grant the client uses to obtain tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthFlow {
    /// Application-only (`client_credentials`): read-only access to public data.
    #[default]
    ApplicationOnly,
    /// Script app (`password` grant) acting as the given account.
    Password {
        /// Reddit account name.
        username: String,
        /// Reddit account password.
        password: SecretString,
    },
    /// A long-lived refresh token obtained by an installed or web app (`refresh_token` grant).
    RefreshToken {
        /// The refresh token.
        refresh_token: SecretString,
    },
}

/// Retry policy for transient failures (408/429/5xx/520/522, transport errors, truncated bodies).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay in milliseconds (doubled each retry, with jitter).
    pub min_delay_ms: u64,
    /// Upper bound of one backoff delay in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 6,
            min_delay_ms: 500,
            max_delay_ms: 60_000,
        }
    }
}

/// Everything the client needs to talk to Reddit (or a compatible server such as the test fake).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedditConfig {
    /// OAuth client id of the Reddit app.
    pub client_id: String,
    /// OAuth client secret (empty for installed apps).
    pub client_secret: SecretString,
    /// The grant used to obtain tokens.
    pub auth: AuthFlow,
    /// User-Agent sent with every request, e.g. `linux:redditharbor:0.1 (by /u/name)`. Required.
    pub user_agent: String,
    /// API base URL (`HARBOR_REDDIT_API_URL`).
    pub api_url: String,
    /// Token endpoint URL (`HARBOR_REDDIT_TOKEN_URL`).
    pub token_url: String,
    /// Per-request timeout in milliseconds (connect + full body).
    pub timeout_ms: u64,
    /// Refresh the token this many seconds before it expires.
    pub token_refresh_margin_secs: u64,
    /// Waits on the rate limit longer than this (milliseconds) are reported to the event hook.
    pub report_wait_over_ms: u64,
    /// Retry policy.
    pub retry: RetryConfig,
}

impl Default for RedditConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: SecretString::from(String::new()),
            auth: AuthFlow::default(),
            user_agent: String::new(),
            api_url: DEFAULT_API_URL.to_owned(),
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            timeout_ms: 30_000,
            token_refresh_margin_secs: 60,
            report_wait_over_ms: 1_000,
            retry: RetryConfig::default(),
        }
    }
}

impl RedditConfig {
    /// Applies the conventional environment variables over this config: `REDDIT_CLIENT_ID`,
    /// `REDDIT_CLIENT_SECRET`, `REDDIT_REFRESH_TOKEN` (switches to the refresh-token flow),
    /// `REDDIT_USERNAME` + `REDDIT_PASSWORD` (switches to the password flow; wins over a refresh token),
    /// `REDDIT_USER_AGENT`, `HARBOR_REDDIT_API_URL`, `HARBOR_REDDIT_TOKEN_URL`.
    pub fn with_env_overrides(self) -> Self {
        self.with_overrides(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Like [`RedditConfig::with_env_overrides`] with an explicit variable lookup (for tests).
    pub fn with_overrides(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(v) = var("REDDIT_CLIENT_ID") {
            self.client_id = v;
        }
        if let Some(v) = var("REDDIT_CLIENT_SECRET") {
            self.client_secret = SecretString::from(v);
        }
        if let Some(refresh_token) = var("REDDIT_REFRESH_TOKEN") {
            self.auth = AuthFlow::RefreshToken {
                refresh_token: SecretString::from(refresh_token),
            };
        }
        if let (Some(username), Some(password)) = (var("REDDIT_USERNAME"), var("REDDIT_PASSWORD")) {
            self.auth = AuthFlow::Password {
                username,
                password: SecretString::from(password),
            };
        }
        if let Some(v) = var("REDDIT_USER_AGENT") {
            self.user_agent = v;
        }
        if let Some(v) = var("HARBOR_REDDIT_API_URL") {
            self.api_url = v;
        }
        if let Some(v) = var("HARBOR_REDDIT_TOKEN_URL") {
            self.token_url = v;
        }
        self
    }

    /// Checks the config before any request is made.
    pub fn validate(&self) -> Result<()> {
        if self.client_id.trim().is_empty() {
            return Err(Error::Config(
                "client_id is empty (set it or REDDIT_CLIENT_ID)".into(),
            ));
        }
        validate_user_agent(&self.user_agent)?;
        for (name, url) in [("api_url", &self.api_url), ("token_url", &self.token_url)] {
            if reqwest::Url::parse(url).is_err() {
                return Err(Error::Config(format!("{name} is not a valid URL: {url:?}")));
            }
        }
        if let AuthFlow::Password { username, .. } = &self.auth
            && username.trim().is_empty()
        {
            return Err(Error::Config("password flow needs a username".into()));
        }
        Ok(())
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Generic agents that Reddit throttles or blocks; a descriptive, unique agent is required.
const GENERIC_AGENTS: [&str; 7] = [
    "python-requests",
    "curl/",
    "wget/",
    "reqwest",
    "mozilla/",
    "okhttp",
    "go-http-client",
];

/// Validates a User-Agent: required, printable ASCII, at most 256 bytes, and not a generic library
/// agent. Reddit asks for `<platform>:<app id>:<version> (by /u/<username>)`.
pub fn validate_user_agent(user_agent: &str) -> Result<()> {
    let reject = |reason: &str| {
        Err(Error::UserAgent {
            user_agent: user_agent.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let trimmed = user_agent.trim();
    if trimmed.is_empty() {
        return reject("a descriptive User-Agent is required (set user_agent or REDDIT_USER_AGENT)");
    }
    if user_agent.len() > 256 {
        return reject("longer than 256 bytes");
    }
    if !user_agent.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return reject("only printable ASCII is allowed in a header");
    }
    let lower = trimmed.to_ascii_lowercase();
    if GENERIC_AGENTS.iter().any(|g| lower.starts_with(g)) {
        return reject(
            "generic library agents are throttled by Reddit; use <platform>:<app>:<version> (by /u/<name>)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_rules() {
        assert!(validate_user_agent("linux:redditharbor:0.1 (by /u/someone)").is_ok());
        assert!(validate_user_agent("").is_err());
        assert!(validate_user_agent("   ").is_err());
        assert!(validate_user_agent("python-requests/2.31").is_err());
        assert!(validate_user_agent("bad\nagent").is_err());
        assert!(validate_user_agent("héllo").is_err());
    }

    #[test]
    fn env_overrides_switch_flow_and_urls() {
        let vars = [
            ("REDDIT_CLIENT_ID", "cid"),
            ("REDDIT_USERNAME", "u"),
            ("REDDIT_PASSWORD", "p"),
            ("HARBOR_REDDIT_API_URL", "http://127.0.0.1:1"),
        ];
        let cfg = RedditConfig::default()
            .with_overrides(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned()));
        assert_eq!(cfg.client_id, "cid");
        assert!(matches!(cfg.auth, AuthFlow::Password { ref username, .. } if username == "u"));
        assert_eq!(cfg.api_url, "http://127.0.0.1:1");
        assert_eq!(cfg.token_url, DEFAULT_TOKEN_URL);
    }
}
