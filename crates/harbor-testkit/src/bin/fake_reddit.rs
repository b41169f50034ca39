//! `fake-reddit`: the fake Reddit API as a process, for tests whose harbor runs are started by
//! another program (Airflow) and for trying harbor by hand.
//!
//! ```sh
//! fake-reddit [--port N] [--subreddits a,b,c] [--posts N] [--seed N] [--rate-limit N/SECS]
//!             [--stream RATES.json] [--appearances FILE.jsonl]
//! ```
//! Serves the synthetic corpus of `FakeConfig::demo()` (or of the given subreddits) on 127.0.0.1
//! and prints, one per line on stdout, the values to export before running harbor against it:
//! `HARBOR_REDDIT_API_URL=...`, `HARBOR_REDDIT_TOKEN_URL=...`, `REDDIT_CLIENT_ID=...`,
//! `REDDIT_CLIENT_SECRET=...`, `HARBOR_AS_OF=...` (epoch seconds one minute after the newest post,
//! for `--as-of`). Serves until killed.
//!
//! `--stream` makes posts and comments appear live (a JSON list of `{"subreddit": ...,
//! "posts_per_minute": ..., "comments_per_minute": ...}`, arrivals seeded by `--seed`);
//! `--appearances` appends one JSON line per item as it appears (`{"fullname", "subreddit",
//! "at"}`, `at` the epoch second it became visible). `GET /_fake/stats` answers the requests
//! served per endpoint and the 429s sent, without counting itself.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use harbor_testkit::{FakeConfig, FakeReddit, RateLimit, StreamRate, StreamSpec};

fn fail(message: &str) -> ! {
    eprintln!("fake-reddit: {message}");
    std::process::exit(2);
}

fn read_rates(path: &str) -> Vec<StreamRate> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("cannot read --stream {path}: {e}")));
    serde_json::from_str(&text).unwrap_or_else(|e| {
        fail(&format!(
            "--stream {path}: {e}; expected a JSON list of {{\"subreddit\", \"posts_per_minute\", \"comments_per_minute\"}}"
        ))
    })
}

/// Appends every new appearance to `path` as a JSON line, a few times a second.
async fn log_appearances(fake: &FakeReddit, path: PathBuf) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| fail(&format!("cannot open --appearances {}: {e}", path.display())));
    let mut written = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let new = fake.appearances_since(written);
        if new.is_empty() {
            continue;
        }
        let mut text = String::new();
        for a in &new {
            let line = serde_json::json!({"fullname": a.fullname, "subreddit": a.subreddit, "at": a.at});
            text.push_str(&line.to_string());
            text.push('\n');
        }
        if let Err(e) = file.write_all(text.as_bytes()) {
            fail(&format!("cannot write --appearances {}: {e}", path.display()));
        }
        written += new.len();
    }
}

fn main() {
    let mut cfg = FakeConfig::demo();
    let mut port = 0u16;
    let mut rates: Option<Vec<StreamRate>> = None;
    let mut appearances: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(&format!("{a} needs a value")));
        let corpus = cfg.corpus.get_or_insert_with(Default::default);
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| fail("--port needs a number")),
            "--subreddits" => {
                corpus.subreddits = value()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--posts" => {
                corpus.posts_per_subreddit =
                    value().parse().unwrap_or_else(|_| fail("--posts needs a number"));
            }
            "--seed" => corpus.seed = value().parse().unwrap_or_else(|_| fail("--seed needs a number")),
            "--rate-limit" => {
                let v = value();
                let (n, secs) = v
                    .split_once('/')
                    .unwrap_or_else(|| fail("--rate-limit is N/SECS"));
                cfg.rate_limit = RateLimit {
                    requests: n.parse().unwrap_or_else(|_| fail("--rate-limit is N/SECS")),
                    window: Duration::from_secs_f64(
                        secs.parse().unwrap_or_else(|_| fail("--rate-limit is N/SECS")),
                    ),
                };
            }
            "--stream" => rates = Some(read_rates(&value())),
            "--appearances" => appearances = Some(PathBuf::from(value())),
            other => fail(&format!(
                "unknown argument {other}; expected --port N, --subreddits a,b, --posts N, --seed N, \
                 --rate-limit N/SECS, --stream RATES.json, --appearances FILE"
            )),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start a runtime: {e}")));
    runtime.block_on(async move {
        let fake = FakeReddit::start_on(cfg, port)
            .await
            .unwrap_or_else(|e| fail(&format!("cannot listen: {e}")));
        let c = fake.config();
        println!("HARBOR_REDDIT_API_URL={}", fake.api_url());
        println!("HARBOR_REDDIT_TOKEN_URL={}", fake.token_url());
        println!("REDDIT_CLIENT_ID={}", c.client_id);
        println!("REDDIT_CLIENT_SECRET={}", c.client_secret);
        println!("HARBOR_AS_OF={}", fake.newest_created_utc() + 60.0);
        let _ = std::io::stdout().flush();
        if let Some(rates) = rates {
            let seed = c.corpus.as_ref().map_or(7, |k| k.seed);
            fake.start_stream(StreamSpec {
                rates,
                seed,
                ..StreamSpec::default()
            });
        }
        match appearances {
            Some(path) => log_appearances(&fake, path).await,
            None => std::future::pending::<()>().await,
        }
    });
}
