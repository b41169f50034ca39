//! The fake Reddit and the fake LLM for end-to-end tests: started by the test on 127.0.0.1, each
//! on a runtime of its own (the binary under test is another process).

use std::collections::BTreeSet;
use std::process::Command;

use harbor_testkit::{CorpusConfig, FakeConfig, FakeLlm, FakeLlmConfig, FakeReddit};

use super::Harbor;

/// A fake Reddit on its own runtime (the binary under test is another process).
pub struct Fake {
    // Dropped before the runtime that serves it.
    pub fake: FakeReddit,
    _rt: tokio::runtime::Runtime,
}

impl Fake {
    pub fn start(config: FakeConfig) -> Fake {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = rt.block_on(FakeReddit::start(config)).expect("fake reddit");
        Fake { fake, _rt: rt }
    }

    /// Credentials and URLs for the binary, as a user would set them.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let c = self.fake.config();
        vec![
            ("REDDIT_CLIENT_ID", c.client_id.clone()),
            ("REDDIT_CLIENT_SECRET", c.client_secret.clone()),
            (
                "REDDIT_USER_AGENT",
                "test:harbor-collect:0.1 (by /u/tester)".into(),
            ),
            ("HARBOR_REDDIT_API_URL", self.fake.api_url()),
            ("HARBOR_REDDIT_TOKEN_URL", self.fake.token_url()),
        ]
    }

    /// `--as-of` for the refresh window: the corpus clock (the synthetic corpus lives in the past).
    pub fn as_of(&self) -> String {
        (self.fake.newest_created_utc() + 60.0).to_string()
    }

    /// Every comment id of a subreddit's posts.
    pub fn comment_ids(&self, sub: &str) -> BTreeSet<String> {
        self.fake
            .post_ids(sub)
            .iter()
            .flat_map(|p| self.fake.comment_ids(p))
            .collect()
    }
}

pub fn corpus(subs: &[&str], posts: usize) -> FakeConfig {
    FakeConfig {
        corpus: Some(CorpusConfig {
            subreddits: subs.iter().map(|s| (*s).to_owned()).collect(),
            posts_per_subreddit: posts,
            big_thread_every: 40,
            big_thread_comments: 120,
            ..CorpusConfig::default()
        }),
        ..FakeConfig::default()
    }
}

pub fn command(h: &Harbor, fake: &Fake, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let env = fake.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let mut c = h.command(args, &all);
    c.env_remove("REDDIT_USERNAME")
        .env_remove("REDDIT_PASSWORD")
        .env_remove("REDDIT_REFRESH_TOKEN");
    c
}

/// The fake LLM on a runtime of its own, serving while the harbor process runs.
pub fn fake_llm(cfg: FakeLlmConfig) -> (tokio::runtime::Runtime, FakeLlm) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = rt.block_on(FakeLlm::start(cfg)).expect("fake llm");
    (rt, f)
}
