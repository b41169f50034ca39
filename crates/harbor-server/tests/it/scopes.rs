//! Every operation in the OpenAPI document declares a scope; each one answers 401 without a token,
//! 401 with a revoked or forged one, 403 with a smaller scope and not 401/403 with enough.

use axum::http::StatusCode;
use harbor_server::{ApiDoc, Scope};
use utoipa::OpenApi;

use crate::harness::{Api, assert_error_shape};

/// (method, path with ids filled in, body, declared scope or None for public).
fn operations() -> Vec<(String, String, Option<&'static str>, Option<Scope>)> {
    let doc = serde_json::to_value(ApiDoc::openapi()).expect("openapi");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let scope = op["security"].as_array().and_then(|s| {
                s.iter()
                    .find_map(|req| req["bearer"].as_array()?.first()?.as_str().and_then(Scope::parse))
            });
            let concrete = path
                .replace("/submissions/{id}", "/submissions/p003")
                .replace("/runs/{id}", "/runs/run-1");
            let body = match (method.as_str(), path.as_str()) {
                ("post", "/api/v1/runs") => Some(r#"{"command": "load", "files": ["missing.ndjson"]}"#),
                ("post", "/api/v1/cutover") => Some(r#"{"action": "set", "phase": "10%"}"#),
                _ => None,
            };
            out.push((method.to_uppercase(), concrete, body, scope));
        }
    }
    out
}

#[tokio::test]
async fn every_api_operation_declares_a_scope() {
    let ops = operations();
    assert!(ops.len() >= 13, "{ops:?}");
    for (m, p, _, scope) in &ops {
        let public = ["/healthz", "/openapi.json"].contains(&p.as_str());
        assert_eq!(scope.is_none(), public, "{m} {p} must declare a bearer scope");
    }
}

#[tokio::test]
async fn unauthenticated_forged_and_revoked_tokens_get_401() {
    let api = Api::new();
    let (rec, revoked) = api.state.tokens.create(Scope::Admin, "gone").expect("create");
    assert!(api.state.tokens.revoke(&rec.id).expect("revoke"));
    let read = api.token(Scope::Read).to_owned();
    let forged = format!("{}x", &read[..read.len() - 1]);
    for (m, p, body, scope) in operations() {
        if scope.is_none() {
            continue;
        }
        for token in [None, Some(forged.as_str()), Some(revoked.as_str()), Some("")] {
            let (s, v) = api.call(&m, &p, token, body).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {p} with {token:?}: {v}");
            assert_error_shape(&v);
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn smaller_scopes_get_403_and_enough_scope_passes() {
    let api = Api::new();
    for (m, p, body, scope) in operations() {
        for have in [Scope::Read, Scope::Write, Scope::Admin] {
            let (s, v) = api.call(&m, &p, Some(api.token(have)), body).await;
            match scope {
                Some(need) if have < need => {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{m} {p} as {have:?}: {v}");
                    assert_eq!(v["error"]["code"], "forbidden");
                }
                _ => assert!(
                    s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN && !s.is_server_error(),
                    "{m} {p} as {have:?}: {s} {v}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn revocation_applies_to_a_running_server() {
    let api = Api::new();
    let (rec, token) = api.state.tokens.create(Scope::Read, "temp").expect("create");
    let (s, _) = api.call("GET", "/api/v1/status", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    api.state.tokens.revoke(&rec.id).expect("revoke");
    let (s, _) = api.call("GET", "/api/v1/status", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
