//! Request dispatch: faults, authentication, rate limit, then replay or the synthetic corpus.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tokio::time::Instant;

use crate::faults::Fault;
use crate::limiter::Admission;
use crate::replay::{ReplayAnswer, normalize_path};
use crate::reply::Reply;
use crate::state::{Shared, State};

/// The endpoint name used in request counts (same names as `harbor_reddit::Endpoint`).
pub fn endpoint_of(path: &str) -> &'static str {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", "v1", "access_token"] => "token",
        ["api", "morechildren"] => "morechildren",
        ["api", "info"] => "info",
        ["r", _, "about"] => "subreddit_about",
        ["r", _, "search"] => "search",
        // `/r/{sub}/comments`: the newest comments of a subreddit, a listing.
        ["r", _, "comments"] => "listing",
        ["r", _, "comments", ..] | ["comments", _] | ["comments", _, _] => "comments",
        ["comments", _, _, _] => "continue_thread",
        ["r", _] | ["r", _, _] => "listing",
        ["user", _, "about"] => "user_about",
        ["user", _, _] => "user_listing",
        _ => "other",
    }
}

/// The axum handler for every path.
pub(crate) async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = normalize_path(uri.path());
    let query: HashMap<String, String> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let form: HashMap<String, String> = if method == Method::GET {
        HashMap::new()
    } else {
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let reply = if endpoint_of(&path) == "token" {
        crate::token::token_endpoint(&shared, &headers, &form)
    } else {
        api(&shared, &method, &path, &headers, &query, &form)
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    reply.into_response()
}

/// The reply a fault stands for, or `None` for faults that modify the normal answer.
pub(crate) fn fault_reply(state: &mut State, fault: Fault) -> Option<Reply> {
    match fault {
        Fault::Status { status, body } => Some(Reply {
            status,
            headers: vec![("content-type".into(), "application/json; charset=UTF-8".into())],
            body: body.into_bytes(),
            drop_connection: false,
            delay: None,
        }),
        Fault::TooManyRequests { retry_after_secs } => {
            state.rate_limited_sent += 1;
            Some(
                Reply::error(429, None, "Too Many Requests")
                    .header("retry-after", format!("{retry_after_secs}")),
            )
        }
        Fault::Recorded(r) => {
            if r.status == 429 {
                state.rate_limited_sent += 1;
            }
            Some(Reply {
                status: r.status,
                headers: r.headers.clone(),
                body: r.body_bytes(),
                drop_connection: false,
                delay: None,
            })
        }
        Fault::ExpireTokens => {
            let now = Instant::now();
            state.tokens.values_mut().for_each(|t| *t = now);
            None
        }
        Fault::TruncatedBody | Fault::Slow(_) | Fault::DropConnection => None,
    }
}

fn api(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
) -> Reply {
    let mut state = shared.lock();
    *state.counts.entry(endpoint_of(path).to_owned()).or_default() += 1;
    let fault = state.faults.next();
    let modifier = match fault {
        Some(f) => match fault_reply(&mut state, f.clone()) {
            Some(reply) => return reply,
            None => Some(f),
        },
        None => None,
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bearer "));
    let bearer = bearer.or_else(|| {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    });
    let valid = bearer
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|exp| *exp > Instant::now());
    if !valid {
        state.unauthorized_sent += 1;
        return Reply::error(401, None, "Unauthorized").header(
            "www-authenticate",
            "Bearer realm=\"reddit\", error=\"invalid_token\"",
        );
    }
    let limit_headers = match state.limiter.admit() {
        Admission::Allowed(h) => h,
        Admission::Limited(h) => {
            state.rate_limited_sent += 1;
            let mut reply = Reply::error(429, None, "Too Many Requests");
            for (k, v) in h {
                reply = reply.header(k, v);
            }
            return reply;
        }
    };
    let mut reply = match state.replay.find(method.as_str(), path, query, form) {
        Some(ReplayAnswer::One(r)) => Reply {
            status: r.status,
            headers: r.headers.clone(),
            body: r.body_bytes(),
            drop_connection: false,
            delay: None,
        },
        Some(ReplayAnswer::Things(v)) => Reply::json(200, &v),
        None => crate::synthetic::answer(&state.corpus, &shared.config, path, query, form),
    };
    for (k, v) in limit_headers {
        reply = reply.header(k, v);
    }
    match modifier {
        Some(Fault::TruncatedBody) => {
            let half = reply.body.len() / 2;
            reply.body.truncate(half);
        }
        Some(Fault::DropConnection) => reply.drop_connection = true,
        Some(Fault::Slow(d)) => reply.delay = Some(d),
        _ => {}
    }
    reply
}
