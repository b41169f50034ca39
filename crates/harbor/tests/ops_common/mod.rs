//! Helpers of the operations tests: a webhook receiver on 127.0.0.1, synthetic Reddit things, and
//! direct access to the operations tables.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: serde_json::Value,
}

/// An HTTP server on 127.0.0.1 that records POSTs and answers with scripted statuses (then 200).
pub struct Webhook {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub attempts: Arc<Mutex<u32>>,
}

impl Webhook {
    pub fn start(statuses: Vec<u16>) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/services/T000/B000/supersecretpath",
            listener.local_addr().expect("addr")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(0u32));
        let (r, a) = (received.clone(), attempts.clone());
        std::thread::spawn(move || {
            let mut script = statuses.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let (mut len, mut ctype) = (0usize, String::new());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        ctype = v.trim().to_owned();
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                *a.lock().expect("lock") += 1;
                let status = script.next().unwrap_or(200);
                if status == 200 {
                    r.lock().expect("lock").push(Received {
                        path,
                        content_type: ctype,
                        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                    });
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Webhook {
            url,
            received,
            attempts,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn attempts(&self) -> u32 {
        *self.attempts.lock().expect("lock")
    }
}

/// NDJSON of `n` submissions `{prefix}{i}` in `sub`, one every `step` seconds ending at `newest`.
pub fn posts(prefix: &str, sub: &str, n: usize, newest: f64, step: f64) -> String {
    (0..n)
        .map(|i| {
            serde_json::json!({"kind": "t3", "data": {
                "id": format!("{prefix}{i}"), "name": format!("t3_{prefix}{i}"), "subreddit": sub,
                "title": format!("post {i} in {sub}"), "selftext": format!("body {i}"),
                "author": format!("user{}", i % 7), "created_utc": newest - step * i as f64,
                "score": i, "num_comments": 0, "url": format!("https://example.invalid/{prefix}{i}"),
            }})
            .to_string()
                + "\n"
        })
        .collect()
}

/// Epoch seconds now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The operations store of a scratch project's database.
pub fn store(db: &std::path::Path) -> Box<dyn harbor_ops::store::SqlStore> {
    harbor_ops::store::open(&format!("duckdb://{}", db.display())).expect("open store")
}
