//! Route tests of the holes found by probing (issue 18): symlinks out of the inbox, cursors out of
//! range, run pages that repeated and reordered runs, and framework errors without the JSON shape.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use harbor_server::Scope;
use serde_json::Value;
use tower::ServiceExt;

use crate::harness::{Api, assert_error_shape};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

async fn post_run(api: &Api, file: &str) -> (StatusCode, Value) {
    let body = format!(r#"{{"command":"load","files":["{file}"]}}"#);
    api.call("POST", "/api/v1/runs", Some(api.token(Scope::Write)), Some(&body))
        .await
}

async fn follow(api: &Api, id: &str) -> Value {
    for _ in 0..300 {
        let run = api.get(&format!("/api/v1/runs/{id}")).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} did not finish");
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_inbox_are_refused() {
    use std::os::unix::fs::symlink;
    let api = Api::new();
    let inbox = api.dir.path().join("inbox");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("x.ndjson"), "{\"id\":\"zz1\"}\n").expect("write");
    std::fs::write(outside.path().join("secret.txt"), "root:x:0:0\n").expect("write");
    symlink(outside.path().join("secret.txt"), inbox.join("passwd")).expect("link file");
    symlink(outside.path(), inbox.join("outdir")).expect("link dir");
    for file in ["passwd", "outdir/x.ndjson"] {
        let (s, v) = post_run(&api, file).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{file}: {v}");
        assert_error_shape(&v);
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("outside the inbox"), "{file}: {msg}");
        assert!(!msg.contains("root:x"), "{msg}");
    }
    assert!(api.state.runs.all().is_empty(), "no run was started");
    // A link that stays inside the inbox is accepted: the run reads its target.
    std::fs::create_dir(inbox.join("sub")).expect("sub");
    std::fs::write(inbox.join("sub/real.ndjson"), "{}\n{}\n").expect("write");
    symlink(inbox.join("sub/real.ndjson"), inbox.join("alias.ndjson")).expect("link inside");
    let (s, v) = post_run(&api, "alias.ndjson").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let run = follow(&api, v["run_id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "ok", "{run}");
    // Directories and missing files are not files in the inbox.
    for file in ["sub", "missing.ndjson"] {
        let (s, v) = post_run(&api, file).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{file}: {v}");
        assert_error_shape(&v);
    }
}

#[tokio::test]
async fn cursors_out_of_range_or_malformed_are_400() {
    let api = Api::new();
    let offset_bad = [
        b64("9223372036854775808"),
        b64("18446744073709551616"),
        b64("-1"),
        b64("1\n2"),
        b64(""),
        "!!not-base64!!".to_owned(),
        b64("12abc"),
    ];
    for route in ["/api/v1/opportunities", "/api/v1/runs"] {
        for c in &offset_bad {
            let uri = format!("{route}?cursor={}", urlencode(c));
            let (s, code) = api.error(&uri).await;
            assert_eq!(
                (s, code.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_parameter"),
                "{uri}"
            );
        }
        // A real next_cursor still works.
        let page = api.get(&format!("{route}?limit=1")).await;
        if let Some(next) = page["next_cursor"].as_str() {
            api.get(&format!("{route}?limit=1&cursor={next}")).await;
        }
    }
    for c in [
        b64("99999999999999999999\nabc"),
        b64("-x\nabc"),
        b64("12"),
        b64("12\n"),
        b64("12\nabc\nextra"),
        "%%%".to_owned(),
    ] {
        let uri = format!("/api/v1/submissions?cursor={}", urlencode(&c));
        let (s, code) = api.error(&uri).await;
        assert_eq!(
            (s, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_parameter"),
            "{uri}"
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn run_ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run_id").to_owned())
        .collect()
}

#[tokio::test]
async fn run_pages_hold_every_run_once_in_order() {
    let api = Api::new();
    let mut started = Vec::new();
    for i in 0..3 {
        let file = format!("f{i}.ndjson");
        std::fs::write(api.dir.path().join("inbox").join(&file), "{}\n").expect("write");
        let (s, v) = post_run(&api, &file).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let id = v["run_id"].as_str().expect("id").to_owned();
        follow(&api, &id).await;
        started.push(id);
        // Run ids carry the second; keep start times apart.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = run_ids(&api.get("/api/v1/runs?limit=500").await);
    assert_eq!(all.len(), 6, "{all:?}");
    assert_eq!(
        &all[3..],
        ["run-3", "run-2", "run-1"],
        "trace rows after the newer server runs"
    );
    for id in &started {
        assert!(all.contains(id), "{id} missing from {all:?}");
    }
    for limit in 1..=7 {
        let mut seen = Vec::new();
        let mut uri = format!("/api/v1/runs?limit={limit}");
        loop {
            let page = api.get(&uri).await;
            let items = run_ids(&page);
            assert!(items.len() <= limit, "limit {limit}: {items:?}");
            seen.extend(items);
            match page["next_cursor"].as_str() {
                Some(next) => uri = format!("/api/v1/runs?limit={limit}&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(seen, all, "limit {limit}");
    }
}

async fn raw(api: &Api, req: Request<Body>) -> (StatusCode, Value) {
    let res = api.app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

#[tokio::test]
async fn framework_errors_use_the_error_shape() {
    let api = Api::new();
    let w = format!("Bearer {}", api.token(Scope::Admin));
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            Request::get("/api/v1/nope")
                .header("authorization", &w)
                .body(Body::empty())
                .expect("req"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Request::delete("/api/v1/runs")
                .header("authorization", &w)
                .body(Body::empty())
                .expect("req"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Request::post("/api/v1/runs")
                .header("authorization", &w)
                .header("content-type", "text/plain")
                .body(Body::from("{}"))
                .expect("req"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_body",
        ),
        (
            Request::post("/api/v1/runs")
                .header("authorization", &w)
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .expect("req"),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Request::post("/api/v1/runs")
                .header("authorization", &w)
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"command":"load","files":["{}"]}}"#,
                    "a".repeat(200_000)
                )))
                .expect("req"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Request::get("/api/v1/runs?limit=abc")
                .header("authorization", &w)
                .body(Body::empty())
                .expect("req"),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Request::get("/api/v1/runs?bogus=1")
                .header("authorization", &w)
                .body(Body::empty())
                .expect("req"),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Request::get(format!("/api/v1/submissions?q={}", "a".repeat(20 * 1024)))
                .header("authorization", &w)
                .body(Body::empty())
                .expect("req"),
            StatusCode::URI_TOO_LONG,
            "invalid_parameter",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, v) = raw(&api, req).await;
        assert_eq!(s, status, "{what}: {v}");
        assert_error_shape(&v);
        assert_eq!(v["error"]["code"], code, "{what}");
    }
}

/// One raw HTTP/1.1 exchange over a real socket: the status and the body.
async fn over_socket(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("send");
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Requests hyper refuses before any route runs (a target over its 64 KiB cap, a broken request
/// line) get the error shape too, over a real connection.
#[tokio::test]
async fn answers_hyper_gives_itself_use_the_error_shape() {
    let api = Api::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(harbor_server::serve(listener, api.state.clone(), async {
        let _ = stopped.await;
    }));
    let huge = format!(
        "GET /api/v1/submissions?q={} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let long = format!(
        "GET /api/v1/submissions?q={} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    for (request, status) in [
        (huge.as_bytes(), 414),
        (long.as_bytes(), 414),
        (
            &b"GET /api/v1/health HTTP/1.1\r\nbad header line\r\n\r\n"[..],
            400,
        ),
        (&b"NOT HTTP AT ALL\r\n\r\n"[..], 400),
    ] {
        let (got, body) = over_socket(addr, request).await;
        let what = String::from_utf8_lossy(&request[..40.min(request.len())]).into_owned();
        assert_eq!(got, status, "{what}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        assert_error_shape(&v);
    }
    // A normal request on the same server is untouched.
    let (got, body) = over_socket(
        addr,
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(got, 200, "{body}");
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
