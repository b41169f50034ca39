//! OAuth2 tokens: application-only, script (password) and refresh-token grants.
//!
//! The token is fetched lazily, refreshed a margin before it expires, and invalidated when the API
//! answers 401 (the client then refreshes once and repeats the request). The token endpoint reports
//! some errors with HTTP 200 and an `error` field (`{"error":"invalid_grant"}`): those are errors.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{AuthFlow, RedditConfig};
use crate::error::{Error, Result};
use crate::response::reason_of;

/// A bearer token and when it stops being usable.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub access: SecretString,
    pub generation: u64,
    expires_at: Instant,
}

/// Holds the current token; only one refresh happens at a time.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    current: Mutex<Option<Token>>,
}

impl TokenStore {
    /// The current token, or `None` when it is missing or within `margin` of expiry.
    pub(crate) async fn valid(&self, margin: Duration) -> Option<Token> {
        let guard = self.current.lock().await;
        guard
            .as_ref()
            .filter(|t| t.expires_at > Instant::now() + margin)
            .cloned()
    }

    /// Runs `fetch` under the store's lock unless another task refreshed meanwhile.
    pub(crate) async fn refresh_with<F, Fut>(&self, margin: Duration, fetch: F) -> Result<Token>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(SecretString, Duration)>>,
    {
        let mut guard = self.current.lock().await;
        if let Some(t) = guard.as_ref().filter(|t| t.expires_at > Instant::now() + margin) {
            return Ok(t.clone());
        }
        let generation = guard.as_ref().map_or(1, |t| t.generation + 1);
        let (access, lifetime) = fetch().await?;
        let token = Token {
            access,
            generation,
            expires_at: Instant::now() + lifetime,
        };
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Forgets the token of `generation` (after a 401), unless it was already replaced.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut guard = self.current.lock().await;
        if guard.as_ref().is_some_and(|t| t.generation == generation) {
            *guard = guard.take().map(|t| Token {
                expires_at: Instant::now(),
                ..t
            });
        }
    }
}

/// The grant type and form fields of the token request for `flow`.
pub(crate) fn grant_form(flow: &AuthFlow) -> (&'static str, Vec<(&'static str, String)>) {
    match flow {
        AuthFlow::ApplicationOnly => (
            "client_credentials",
            vec![("grant_type", "client_credentials".to_owned())],
        ),
        AuthFlow::Password { username, password } => (
            "password",
            vec![
                ("grant_type", "password".to_owned()),
                ("username", username.clone()),
                ("password", password.expose_secret().to_owned()),
            ],
        ),
        AuthFlow::RefreshToken { refresh_token } => (
            "refresh_token",
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.expose_secret().to_owned()),
            ],
        ),
    }
}

/// One token request (no retries; the caller's retry loop handles transient failures).
pub(crate) async fn request_token(
    http: &reqwest::Client,
    config: &RedditConfig,
) -> Result<(SecretString, Duration)> {
    let (grant, form) = grant_form(&config.auth);
    let request = format!("POST {} (grant_type={grant})", config.token_url);
    let response = http
        .post(&config.token_url)
        .basic_auth(&config.client_id, Some(config.client_secret.expose_secret()))
        .header(reqwest::header::USER_AGENT, &config.user_agent)
        .form(&form)
        .send()
        .await
        .map_err(|source| Error::Transport {
            request: request.clone(),
            source,
        })?;
    let status = response.status();
    let retry_after = crate::ratelimit::parse_retry_after(response.headers());
    let body = response.bytes().await.map_err(|source| Error::Transport {
        request: request.clone(),
        source,
    })?;
    parse_token_response(&request, status, &body, retry_after)
}

/// Interprets a token endpoint answer.
pub(crate) fn parse_token_response(
    request: &str,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<(SecretString, Duration)> {
    let parsed = serde_json::from_slice::<Value>(body);
    let oauth_error = |json: &Value| {
        let error = match json.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(format!("http {n}")),
            _ => None,
        };
        error.map(|error| Error::OAuth {
            request: request.to_owned(),
            error,
            description: json
                .get("error_description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    };
    if status == StatusCode::OK {
        let json = parsed.map_err(|source| Error::Decode {
            request: request.to_owned(),
            len: body.len(),
            source,
        })?;
        if let Some(err) = oauth_error(&json) {
            return Err(err);
        }
        let access = json
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Shape {
                request: request.to_owned(),
                what: "token response without access_token".into(),
            })?;
        let lifetime = json
            .get("expires_in")
            .and_then(Value::as_f64)
            .unwrap_or(3600.0)
            .max(0.0);
        return Ok((
            SecretString::from(access.to_owned()),
            Duration::from_secs_f64(lifetime),
        ));
    }
    let transient = crate::error::TRANSIENT_STATUSES.contains(&status.as_u16());
    match parsed.ok().as_ref().and_then(oauth_error) {
        Some(err) if !transient => Err(err),
        _ => Err(Error::Status {
            request: request.to_owned(),
            status: status.as_u16(),
            reason: reason_of(body),
            retry_after,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_in_200_body_is_an_error() {
        let err = parse_token_response("t", StatusCode::OK, br#"{"error":"invalid_grant"}"#, None)
            .expect_err("must fail");
        assert!(matches!(err, Error::OAuth { ref error, .. } if error == "invalid_grant"));
        assert!(!err.is_transient());
        let ok = parse_token_response(
            "t",
            StatusCode::OK,
            br#"{"access_token":"x","token_type":"bearer","expires_in":3600,"scope":"*"}"#,
            None,
        )
        .expect("token");
        assert_eq!(ok.1, Duration::from_secs(3600));
        let err = parse_token_response("t", StatusCode::TOO_MANY_REQUESTS, br#"{"error":429}"#, None)
            .expect_err("429");
        assert!(err.is_transient());
        let err =
            parse_token_response("t", StatusCode::BAD_REQUEST, br#"{"error":400}"#, None).expect_err("400");
        assert!(matches!(err, Error::OAuth { .. }) && !err.is_transient());
    }
}
