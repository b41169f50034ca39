//! `fake-reddit`: the fake Reddit API as a process, for tests whose harbor runs are started by
//! another program (Airflow) and for trying harbor by hand.
//!
//! ```sh
//! fake-reddit [--port N] [--subreddits a,b,c] [--posts N] [--seed N] [--rate-limit N/SECS]
//! ```
//! Serves the synthetic corpus of `FakeConfig::demo()` (or of the given subreddits) on 127.0.0.1
//! and prints, one per line on stdout, the values to export before running harbor against it:
//! `HARBOR_REDDIT_API_URL=...`, `HARBOR_REDDIT_TOKEN_URL=...`, `REDDIT_CLIENT_ID=...`,
//! `REDDIT_CLIENT_SECRET=...`, `HARBOR_AS_OF=...` (epoch seconds one minute after the newest post,
//! for `--as-of`). Serves until killed.

use std::io::Write;
use std::time::Duration;

use harbor_testkit::{FakeConfig, FakeReddit, RateLimit};

fn fail(message: &str) -> ! {
    eprintln!("fake-reddit: {message}");
    std::process::exit(2);
}

fn main() {
    let mut cfg = FakeConfig::demo();
    let mut port = 0u16;
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
            other => fail(&format!(
                "unknown argument {other}; expected --port N, --subreddits a,b, --posts N, --seed N, \
                 --rate-limit N/SECS"
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
        std::future::pending::<()>().await;
    });
}
