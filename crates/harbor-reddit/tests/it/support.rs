//! Shared helpers.

use std::path::PathBuf;

use harbor_reddit::{RedditClient, RedditConfig, RetryConfig};
use harbor_testkit::{CorpusConfig, FakeConfig, FakeReddit};
use secrecy::SecretString;

pub fn fixtures() -> PathBuf {
    FakeReddit::fixtures_dir()
}

pub fn config_for(fake: &FakeReddit) -> RedditConfig {
    let fc = fake.config();
    RedditConfig {
        client_id: fc.client_id.clone(),
        client_secret: SecretString::from(fc.client_secret.clone()),
        user_agent: "test:harbor-reddit:0.1 (by /u/harbor_tests)".into(),
        api_url: fake.api_url(),
        token_url: fake.token_url(),
        timeout_ms: 3_000,
        retry: RetryConfig {
            max_retries: 6,
            min_delay_ms: 2,
            max_delay_ms: 40,
        },
        ..RedditConfig::default()
    }
}

pub fn client_for(fake: &FakeReddit) -> RedditClient {
    RedditClient::new(config_for(fake)).expect("valid config")
}

/// A small corpus: `subs` subreddits with `posts` posts each.
pub fn corpus(subs: &[&str], posts: usize) -> FakeConfig {
    FakeConfig {
        corpus: Some(CorpusConfig {
            subreddits: subs.iter().map(|s| (*s).to_owned()).collect(),
            posts_per_subreddit: posts,
            ..CorpusConfig::default()
        }),
        ..FakeConfig::default()
    }
}

pub fn ids(things: &[serde_json::Value]) -> Vec<String> {
    things
        .iter()
        .map(|t| harbor_reddit::thing::id(t).expect("id").to_owned())
        .collect()
}
