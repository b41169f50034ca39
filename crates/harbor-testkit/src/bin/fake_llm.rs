//! `fake-llm`: the fake OpenAI-compatible endpoint as a process, for benchmarks and manual runs.
//!
//! ```sh
//! fake-llm --latency-ms 500 [--every-nth-429 N] [--every-nth-500 N] [--reject-response-format]
//! ```
//! Prints the base URL (for `HARBOR_LLM_BASE_URL`) on the first line of stdout, then serves until
//! killed.

use std::io::Write;
use std::time::Duration;

use harbor_testkit::{FakeLlm, FakeLlmConfig};

fn main() {
    let mut cfg = FakeLlmConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> u64 {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => n,
                None => {
                    eprintln!("fake-llm: {name} needs a number");
                    std::process::exit(2);
                }
            }
        };
        match a.as_str() {
            "--latency-ms" => cfg.latency = Duration::from_millis(num("--latency-ms")),
            "--every-nth-429" => cfg.every_nth_429 = Some(num("--every-nth-429")),
            "--every-nth-500" => cfg.every_nth_500 = Some(num("--every-nth-500")),
            "--reject-response-format" => cfg.reject_response_format = true,
            other => {
                eprintln!(
                    "fake-llm: unknown argument {other}; expected --latency-ms N, --every-nth-429 N, \
                     --every-nth-500 N, --reject-response-format"
                );
                std::process::exit(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fake-llm: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async move {
        let fake = match FakeLlm::start(cfg).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("fake-llm: cannot listen: {e}");
                std::process::exit(1);
            }
        };
        println!("{}", fake.base_url());
        let _ = std::io::stdout().flush();
        std::future::pending::<()>().await;
    });
}
