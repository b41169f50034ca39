//! Soak: thousands of requests under a scaled 100-per-window limit, no 429, budget well used.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use harbor_reddit::{ClientEvent, RedditClient};
use harbor_testkit::{FakeReddit, RateLimit};

use crate::support::{config_for, corpus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_uses_the_budget_without_429() {
    let fake = FakeReddit::start(corpus(&["alpha"], 10)).await.expect("fake");
    fake.set_rate_limit(RateLimit {
        requests: 100,
        window: Duration::from_millis(500),
    });
    let waits = Arc::new(AtomicU64::new(0));
    let counter = waits.clone();
    let mut config = config_for(&fake);
    config.report_wait_over_ms = 0;
    let hook = Arc::new(move |e: &ClientEvent| {
        if matches!(e, ClientEvent::RateLimitWait { .. }) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let client = RedditClient::with_hook(config, hook).expect("client");
    let ids: Vec<String> = fake.post_ids("alpha").iter().map(|i| format!("t3_{i}")).collect();
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let client = client.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                for i in 0..700 {
                    let id = ids[(i + w) % ids.len()].clone();
                    client.info(&[id]).await.expect("info");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    let stats = client.stats();
    assert!(fake.api_requests() >= 2000, "{}", fake.api_requests());
    assert_eq!(
        fake.rate_limited_sent(),
        0,
        "the client must never exceed the limit"
    );
    assert_eq!(stats.rate_limited, 0);
    let used = fake.budget_utilization();
    assert!(used >= 0.9, "budget utilization {used:.3}");
    assert!(
        waits.load(Ordering::Relaxed) > 0,
        "waiting on the limit is reported"
    );
}
