//! The `fake-reddit` process with a live stream, as bench/watch_bench.py drives it: items appear in
//! the listings and in the `--appearances` log with the time they became visible, the rate limit
//! answers with Reddit's headers, and `/_fake/stats` counts what was served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange; returns (status, lower-cased head, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head.to_lowercase(), body.to_owned())
}

#[test]
fn a_streaming_fake_logs_appearances_limits_calls_and_counts_them() {
    let dir = std::env::temp_dir().join(format!("fake-reddit-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rates = dir.join("rates.json");
    std::fs::write(
        &rates,
        r#"[{"subreddit": "busy", "posts_per_minute": 120, "comments_per_minute": 600}]"#,
    )
    .expect("rates");
    let log = dir.join("appearances.jsonl");
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-reddit"))
        .args([
            "--subreddits",
            "busy",
            "--posts",
            "3",
            "--rate-limit",
            "3/60",
            "--stream",
        ])
        .arg(&rates)
        .arg("--appearances")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn fake-reddit");
    let out = child.stdout.take().expect("stdout");
    let fake = Killed(child);
    let env: Vec<(String, String)> = BufReader::new(out)
        .lines()
        .take(5)
        .map(|l| {
            let l = l.expect("line");
            let (k, v) = l.split_once('=').expect("K=V");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let url = &env
        .iter()
        .find(|(k, _)| k == "HARBOR_REDDIT_API_URL")
        .expect("api url")
        .1;
    let addr = url.trim_start_matches("http://").to_owned();
    std::thread::sleep(Duration::from_millis(1500));

    let basic = base64::engine::general_purpose::STANDARD.encode("fake-client:fake-secret");
    let (status, _, body) = http(
        &addr,
        "POST",
        "/api/v1/access_token",
        &[
            ("Authorization", format!("Basic {basic}")),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).expect("token json");
    let bearer = [(
        "Authorization",
        format!("Bearer {}", token["access_token"].as_str().expect("access_token")),
    )];
    let (status, head, body) = http(&addr, "GET", "/r/busy/new?limit=100&raw_json=1", &bearer, "");
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("x-ratelimit-remaining: 2.0") && head.contains("x-ratelimit-used: 1"),
        "{head}"
    );
    let listing: serde_json::Value = serde_json::from_str(&body).expect("listing json");
    let newest = listing["data"]["children"][0]["data"]["name"]
        .as_str()
        .expect("a post")
        .to_owned();

    // The log names every item with the time it appeared; the newest listed post is among them.
    std::thread::sleep(Duration::from_millis(500));
    let text = std::fs::read_to_string(&log).expect("appearances log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() >= 5, "{text}");
    assert!(
        lines
            .iter()
            .all(|v| v["subreddit"] == "busy" && v["at"].as_f64().is_some()),
        "{text}"
    );
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["at"].as_f64() <= w[1]["at"].as_f64()),
        "{text}"
    );
    assert!(
        lines.iter().any(|v| v["fullname"] == newest.as_str()),
        "{newest} not in\n{text}"
    );
    assert!(
        lines
            .iter()
            .any(|v| v["fullname"].as_str().is_some_and(|n| n.starts_with("t1_"))),
        "{text}"
    );

    // Two more calls, then the limit: a 429 with Reddit's headers.
    for _ in 0..2 {
        assert_eq!(
            http(&addr, "GET", "/r/busy/comments?limit=100", &bearer, "").0,
            200
        );
    }
    let (status, head, _) = http(&addr, "GET", "/r/busy/new", &bearer, "");
    assert_eq!(status, 429);
    assert!(
        head.contains("x-ratelimit-remaining: 0") && head.contains("x-ratelimit-reset:"),
        "{head}"
    );

    let (status, _, body) = http(&addr, "GET", "/_fake/stats", &[], "");
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).expect("stats json");
    assert_eq!(stats["counts"]["token"], 1, "{stats}");
    assert_eq!(stats["rate_limited_sent"], 1, "{stats}");
    assert!(stats["counts"]["listing"].as_u64() >= Some(3), "{stats}");
    assert!(stats["appeared"].as_u64() >= Some(lines.len() as u64), "{stats}");
    drop(fake);
    let _ = std::fs::remove_dir_all(&dir);
}
