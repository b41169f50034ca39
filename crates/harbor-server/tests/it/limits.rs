//! Body limits, content types, timeouts, CORS, health and metrics.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harbor_server::{Scope, ServerConfig};
use tower::ServiceExt;

use crate::harness::{Api, assert_error_shape};

#[tokio::test]
async fn oversized_and_malformed_bodies() {
    let api = Api::new();
    let w = api.token(Scope::Admin).to_owned();
    let big = format!(r#"{{"command":"load","files":["{}"]}}"#, "a".repeat(100 * 1024));
    let (s, v) = api.call("POST", "/api/v1/runs", Some(&w), Some(&big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_error_shape(&v);
    assert_eq!(v["error"]["code"], "payload_too_large");
    let req = Request::post("/api/v1/cutover")
        .header("authorization", format!("Bearer {w}"))
        .body(Body::from(r#"{"action":"rollback"}"#))
        .expect("req");
    let res = api.app.clone().oneshot(req).await.expect("res");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        api.count(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = '_harbor_cutover_audit'"
        ),
        0,
        "nothing changed"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_the_error_shape() {
    // A zero budget: every request that has to wait for the database runs out of time, while
    // one that answers at once (health) does not.
    let api = Api::with_config(ServerConfig {
        request_timeout: Duration::ZERO,
        ..Default::default()
    });
    let (s, _) = api.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api
        .call(
            "GET",
            "/api/v1/submissions?q=x",
            Some(api.token(Scope::Read)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_error_shape(&v);
    assert_eq!(v["error"]["code"], "timeout");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let api = Api::with_config(ServerConfig {
        cors_origins: vec!["https://app.example.com".into()],
        ..Default::default()
    });
    for (origin, allowed) in [("https://app.example.com", true), ("https://evil.example", false)] {
        let req = Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/submissions")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .expect("req");
        let res = api.app.clone().oneshot(req).await.expect("res");
        let got = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        assert_eq!(got.as_deref() == Some(origin), allowed, "{origin}: {got:?}");
    }
    let plain = Api::new();
    let req = Request::get("/healthz")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .expect("req");
    let res = plain.app.clone().oneshot(req).await.expect("res");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn health_and_metrics() {
    let api = Api::new();
    let (s, v) = api.call("GET", "/healthz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let _ = api
        .call("GET", "/api/v1/nothing", Some(api.token(Scope::Read)), None)
        .await;
    let (s, v) = api
        .call("GET", "/metrics", Some(api.token(Scope::Read)), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().expect("text");
    assert!(
        text.contains("harbor_server_responses_total{class=\"4xx\"} 1"),
        "{text}"
    );
    assert!(text.contains("harbor_server_active_runs 0"), "{text}");
}

/// A request cancelled while its query runs (timeout, client gone) gives its connection back:
/// under load, lost connections used to turn every later request into a 500.
#[tokio::test]
async fn cancelled_queries_return_their_connection_to_the_pool() {
    let api = Api::new();
    let db = harbor_server::db::Db::new(&api.conn, 1).expect("pool");
    for _ in 0..3 {
        let slow = db.run(|c| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(5), slow)
                .await
                .is_err()
        );
    }
    let n = db
        .run(|c| Ok(c.query_row("SELECT count(*) FROM submissions", [], |r| r.get::<_, i64>(0))?))
        .await
        .expect("the one connection is back");
    assert_eq!(n, 121);
}
