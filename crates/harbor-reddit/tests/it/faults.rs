//! A run under injected faults collects exactly what a clean run collects.

use std::time::Duration;

use harbor_reddit::{CommentOptions, ListingSource, RedditClient, WalkOptions, thing};
use harbor_testkit::{FakeReddit, Fault};
use serde_json::Value;

use crate::support::{config_for, corpus};

/// First walk of two subreddits, every thread, then a refresh; everything collected, sorted.
async fn collect(client: &RedditClient) -> Vec<Value> {
    let mut out = Vec::new();
    for sub in ["alpha", "beta"] {
        let walk = client
            .walk_listing(&ListingSource::new_posts(sub), None, &WalkOptions::default())
            .await
            .expect("walk");
        let mut names = Vec::new();
        for post in &walk.things {
            let id = thing::id(post).expect("id").to_owned();
            let tree = client
                .comment_tree(&id, &CommentOptions::default())
                .await
                .expect("tree");
            out.extend(tree.comments);
            names.push(format!("t3_{id}"));
        }
        out.extend(walk.things);
        out.extend(client.info(&names).await.expect("info").things);
    }
    out.sort_by_key(|t| (thing::fullname(t), t.to_string()));
    out
}

#[tokio::test]
async fn faults_do_not_change_the_result() {
    let config = corpus(&["alpha", "beta"], 60);
    let clean_fake = FakeReddit::start(config.clone()).await.expect("fake");
    let clean = collect(&RedditClient::new(config_for(&clean_fake)).expect("client")).await;
    assert!(clean.len() > 300, "{}", clean.len());

    let fake = FakeReddit::start(config).await.expect("fake");
    fake.fault_every(
        4,
        vec![
            Fault::TooManyRequests {
                retry_after_secs: 0.02,
            },
            Fault::Status {
                status: 500,
                body: String::new(),
            },
            Fault::TruncatedBody,
            Fault::Status {
                status: 502,
                body: String::new(),
            },
            Fault::DropConnection,
            Fault::ExpireTokens,
            Fault::Status {
                status: 503,
                body: "<html>busy</html>".into(),
            },
            Fault::Slow(Duration::from_millis(700)),
            Fault::Status {
                status: 522,
                body: String::new(),
            },
        ],
    );
    let mut cfg = config_for(&fake);
    cfg.timeout_ms = 400; // the slow answer times out and is retried
    let client = RedditClient::new(cfg).expect("client");
    let faulty = collect(&client).await;
    assert_eq!(faulty.len(), clean.len());
    assert!(faulty == clean, "a fault changed what was collected");
    let stats = client.stats();
    assert!(stats.retries >= 20, "{stats:?}");
    assert!(stats.rate_limited >= 1, "{stats:?}");
    assert!(stats.token_refreshes >= 2, "{stats:?}");
    assert!(fake.unauthorized_sent() >= 1);
}
