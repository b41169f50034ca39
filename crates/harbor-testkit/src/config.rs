//! Configuration of the fake server: credentials, rate limit, corpus and thread rendering.

use std::time::Duration;

/// A fixed-window rate limit like Reddit's (100 requests per 60 s per client), scalable for tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length.
    pub window: Duration,
}

impl RateLimit {
    /// Reddit's documented limit: 100 requests a minute.
    pub const REDDIT: RateLimit = RateLimit {
        requests: 100,
        window: Duration::from_secs(60),
    };
    /// Generous enough that functional tests never wait on it (still sends the headers).
    pub const GENEROUS: RateLimit = RateLimit {
        requests: 100_000,
        window: Duration::from_secs(600),
    };
}

/// The deterministic synthetic corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusConfig {
    /// Subreddit names.
    pub subreddits: Vec<String>,
    /// Posts generated per subreddit.
    pub posts_per_subreddit: usize,
    /// Seed of the generator: the same seed gives the same corpus.
    pub seed: u64,
    /// Most comments on an ordinary post (uniform from 0).
    pub max_comments: usize,
    /// Every n-th post gets a big thread (`big_thread_comments` comments, a deep chain); 0 = never.
    pub big_thread_every: usize,
    /// Comments of a big thread.
    pub big_thread_comments: usize,
    /// Share of posts whose title or body states a problem (0.0-1.0).
    pub problem_ratio: f64,
    /// `created_utc` of the first post.
    pub start_utc: f64,
    /// Seconds between consecutive posts.
    pub spacing_secs: f64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            subreddits: vec!["rust".into(), "selfhosted".into(), "smallbusiness".into()],
            posts_per_subreddit: 150,
            seed: 42,
            max_comments: 8,
            big_thread_every: 50,
            big_thread_comments: 160,
            problem_ratio: 0.3,
            start_utc: 1_700_000_000.0,
            spacing_secs: 60.0,
        }
    }
}

/// How threads are cut into "load more" and "continue this thread" stubs, as Reddit does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderConfig {
    /// Top-level comments shown by `/comments/{id}`; the rest go in a `more` stub.
    pub top_level_shown: usize,
    /// Replies shown under a comment; the rest go in a `more` stub.
    pub replies_shown: usize,
    /// Depth at which a "continue this thread" stub (`id: "_"`) replaces deeper replies.
    pub max_depth: usize,
    /// Levels below each requested id that `/api/morechildren` returns (flat).
    pub morechildren_levels: usize,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            top_level_shown: 20,
            replies_shown: 4,
            max_depth: 6,
            morechildren_levels: 2,
        }
    }
}

/// Everything the fake needs.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// OAuth client id accepted by the token endpoint.
    pub client_id: String,
    /// OAuth client secret accepted by the token endpoint.
    pub client_secret: String,
    /// Account accepted by the password grant.
    pub username: String,
    /// Password accepted by the password grant.
    pub password: String,
    /// Refresh token accepted by the refresh_token grant.
    pub refresh_token: String,
    /// Lifetime of issued access tokens.
    pub token_ttl: Duration,
    /// The enforced rate limit.
    pub rate_limit: RateLimit,
    /// The synthetic corpus (`None`: empty, e.g. replay only).
    pub corpus: Option<CorpusConfig>,
    /// Thread rendering.
    pub render: RenderConfig,
    /// Subreddits answering 403 `private`.
    pub private_subreddits: Vec<String>,
    /// Subreddits answering 404 `banned`.
    pub banned_subreddits: Vec<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            client_id: "fake-client".into(),
            client_secret: "fake-secret".into(),
            username: "fake_user".into(),
            password: "fake-password".into(),
            refresh_token: "fake-refresh-token".into(),
            token_ttl: Duration::from_secs(3600),
            rate_limit: RateLimit::GENEROUS,
            corpus: Some(CorpusConfig::default()),
            render: RenderConfig::default(),
            private_subreddits: vec!["secretclub".into()],
            banned_subreddits: vec!["bannedsub".into()],
        }
    }
}

impl FakeConfig {
    /// The corpus `harbor demo` and the benchmark use: 5 subreddits of 300 posts, Reddit's
    /// 100-requests-per-window limit scaled to a 2-second window so a demo finishes in seconds.
    pub fn demo() -> Self {
        Self {
            corpus: Some(CorpusConfig {
                subreddits: [
                    "smallbusiness",
                    "selfhosted",
                    "productivity",
                    "freelance",
                    "homelab",
                ]
                .map(str::to_owned)
                .to_vec(),
                posts_per_subreddit: 300,
                ..CorpusConfig::default()
            }),
            rate_limit: RateLimit {
                requests: 100,
                window: Duration::from_secs(2),
            },
            ..Self::default()
        }
    }
}
