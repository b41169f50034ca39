//! The OAuth token endpoint: every grant type Reddit offers, with Reddit's error shapes (several
//! of them with HTTP 200).

use std::collections::HashMap;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::json;
use tokio::time::Instant;

use crate::reply::Reply;
use crate::state::Shared;

const INSTALLED_CLIENT: &str = "https://oauth.reddit.com/grants/installed_client";

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Answers `POST /api/v1/access_token`.
pub(crate) fn token_endpoint(shared: &Shared, headers: &HeaderMap, form: &HashMap<String, String>) -> Reply {
    let cfg = &shared.config;
    let mut state = shared.lock();
    *state.counts.entry("token".into()).or_default() += 1;
    if let Some(fault) = state.token_faults.next()
        && let Some(reply) = crate::handler::fault_reply(&mut state, fault)
    {
        return reply;
    }
    match basic_credentials(headers) {
        Some((id, secret)) if id == cfg.client_id && secret == cfg.client_secret => {}
        _ => return Reply::error(401, None, "Unauthorized"),
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let refresh = match field("grant_type") {
        "client_credentials" => false,
        "password" if field("username") == cfg.username && field("password") == cfg.password => false,
        "password" => return Reply::json(200, &json!({"error": "invalid_grant"})),
        "refresh_token" if field("refresh_token") == cfg.refresh_token => true,
        "refresh_token" => return Reply::json(400, &json!({"error": 400})),
        INSTALLED_CLIENT if (20..=30).contains(&field("device_id").len()) => false,
        INSTALLED_CLIENT => {
            return Reply::json(
                200,
                &json!({"error": "invalid_request", "error_description": "bad device_id"}),
            );
        }
        "authorization_code" => return Reply::json(200, &json!({"error": "invalid_grant"})),
        _ => return Reply::json(200, &json!({"error": "unsupported_grant_type"})),
    };
    state.token_counter += 1;
    let token = format!("fake-access-{}-{}", state.token_counter, state.epoch_tag);
    state.tokens.insert(token.clone(), Instant::now() + cfg.token_ttl);
    let mut body = json!({
        "access_token": token, "token_type": "bearer", "expires_in": cfg.token_ttl.as_secs(), "scope": "*",
    });
    if refresh {
        body["refresh_token"] = json!(cfg.refresh_token);
    }
    Reply::json(200, &body)
}
