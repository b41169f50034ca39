//! [`FakeReddit`]: start the fake on 127.0.0.1 (random port) and steer it from a test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{FakeConfig, RateLimit};
use crate::faults::Fault;
use crate::replay::{Recorded, ReplayError};
use crate::state::Shared;
use crate::stream::{Appearance, StreamSpec};

/// A running fake Reddit. Stops when dropped.
#[derive(Debug)]
pub struct FakeReddit {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    runtime: tokio::runtime::Handle,
    stream: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for FakeReddit {
    fn drop(&mut self) {
        self.task.abort();
        self.stop_stream();
    }
}

/// `GET /_fake/stats`: what the fake served so far, for a benchmark driving it from outside
/// (counted neither as a request nor against the rate limit).
async fn stats(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> axum::response::Response {
    let s = shared.lock();
    let body = serde_json::json!({
        "counts": s.counts,
        "rate_limited_sent": s.rate_limited_sent,
        "unauthorized_sent": s.unauthorized_sent,
        "appeared": s.appeared.len(),
    });
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap_or_default()
}

impl FakeReddit {
    /// Starts the fake on `127.0.0.1` with a random port, inside the current tokio runtime.
    pub async fn start(config: FakeConfig) -> std::io::Result<Self> {
        Self::start_on(config, 0).await
    }

    /// Starts the fake on `127.0.0.1:port` (0: a random port), inside the current tokio runtime.
    pub async fn start_on(config: FakeConfig, port: u16) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(config));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/_fake/stats", axum::routing::get(stats))
            .fallback(crate::handler::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake reddit stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            task,
            runtime: tokio::runtime::Handle::current(),
            stream: std::sync::Mutex::new(None),
        })
    }

    /// The shared fixtures directory (`../shared/fixtures` next to the repository).
    pub fn fixtures_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
    }

    /// API base URL (`http://127.0.0.1:PORT`), for `HARBOR_REDDIT_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Token endpoint URL, for `HARBOR_REDDIT_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("http://{}/api/v1/access_token", self.addr)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Requests received per endpoint (`listing`, `morechildren`, `info`, `token`...).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().counts.clone()
    }

    /// Requests received by one endpoint.
    pub fn count(&self, endpoint: &str) -> u64 {
        self.shared.lock().counts.get(endpoint).copied().unwrap_or(0)
    }

    /// API requests received (token endpoint excluded).
    pub fn api_requests(&self) -> u64 {
        self.shared
            .lock()
            .counts
            .iter()
            .filter(|(k, _)| *k != "token")
            .map(|(_, v)| v)
            .sum()
    }

    /// Zeroes the request counters.
    pub fn reset_counts(&self) {
        let mut s = self.shared.lock();
        s.counts.clear();
        s.rate_limited_sent = 0;
        s.unauthorized_sent = 0;
    }

    /// 429 answers sent so far.
    pub fn rate_limited_sent(&self) -> u64 {
        self.shared.lock().rate_limited_sent
    }

    /// 401 answers sent so far.
    pub fn unauthorized_sent(&self) -> u64 {
        self.shared.lock().unauthorized_sent
    }

    /// Share of the rate-limit budget used over the complete windows since the limit was set.
    pub fn budget_utilization(&self) -> f64 {
        self.shared.lock().limiter.utilization()
    }

    /// Replaces the rate limit (restarts the window clock).
    pub fn set_rate_limit(&self, limit: RateLimit) {
        self.shared.lock().limiter.set(limit);
    }

    /// Applies `fault` to the next API request.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Applies `fault` to the next token request.
    pub fn inject_token(&self, fault: Fault) {
        self.shared.lock().token_faults.push(fault);
    }

    /// Applies the faults in turn to every `every`-th API request from now on.
    pub fn fault_every(&self, every: u64, faults: Vec<Fault>) {
        self.shared.lock().faults.plan(every, faults);
    }

    /// Removes queued and planned faults.
    pub fn clear_faults(&self) {
        let mut s = self.shared.lock();
        s.faults.clear();
        s.token_faults.clear();
    }

    /// Expires every issued access token now.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.shared.lock().tokens.values_mut().for_each(|t| *t = now);
    }

    /// Serves these recorded exchanges before the synthetic corpus.
    pub fn replay(&self, recorded: Vec<Recorded>) {
        self.shared.lock().replay.add(recorded);
    }

    /// Serves every recording of a fixtures directory; returns how many were loaded.
    pub fn replay_dir(&self, dir: &Path) -> Result<usize, ReplayError> {
        let recorded = Recorded::load_dir(dir)?;
        let n = recorded.len();
        self.replay(recorded);
        Ok(n)
    }

    /// Adds `k` new posts (with comments) to `subreddit`, newer than everything so far, to simulate
    /// time passing. Returns their ids, oldest first.
    pub fn add_posts(&self, subreddit: &str, k: usize) -> Vec<String> {
        let mut s = self.shared.lock();
        (0..k).map(|_| s.corpus.add_post(subreddit)).collect()
    }

    /// `created_utc` of the newest post in the corpus: the fake's "now", for a collector's
    /// refresh window (the synthetic corpus lives in the past).
    pub fn newest_created_utc(&self) -> f64 {
        self.shared.lock().corpus.clock()
    }

    /// Ids of a subreddit's posts, oldest first.
    pub fn post_ids(&self, subreddit: &str) -> Vec<String> {
        let s = self.shared.lock();
        s.corpus
            .subreddit_posts(subreddit)
            .map(|idx| idx.iter().map(|&i| s.corpus.posts[i].id().to_owned()).collect())
            .unwrap_or_default()
    }

    /// The data of a subreddit's posts as the API serves them (`id`, `created_utc`, `title`,
    /// `author`...), oldest first: to seed a legacy database with the very posts the fake lists.
    pub fn posts(&self, subreddit: &str) -> Vec<Value> {
        let s = self.shared.lock();
        s.corpus
            .subreddit_posts(subreddit)
            .map(|idx| idx.iter().map(|&i| s.corpus.posts[i].data.clone()).collect())
            .unwrap_or_default()
    }

    /// Comment ids of a post, in creation order.
    pub fn comment_ids(&self, post_id: &str) -> Vec<String> {
        let s = self.shared.lock();
        s.corpus
            .post_index
            .get(post_id)
            .map(|&p| s.corpus.posts[p].comments.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default()
    }

    /// Starts adding posts and comments at the rates of `spec` (replacing a running stream). Can be
    /// called from outside the runtime the fake was started in.
    pub fn start_stream(&self, spec: StreamSpec) {
        self.stop_stream();
        let task = self.runtime.spawn(crate::stream::run(self.shared.clone(), spec));
        *self.stream.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// Stops the stream; what it added stays.
    pub fn stop_stream(&self) {
        if let Some(t) = self.stream.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }

    /// Every item a stream added so far, in order of appearance.
    pub fn appearances(&self) -> Vec<Appearance> {
        self.shared.lock().appeared.clone()
    }

    /// The items a stream added after the first `skip`, in order of appearance.
    pub fn appearances_since(&self, skip: usize) -> Vec<Appearance> {
        let s = self.shared.lock();
        s.appeared.get(skip..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// Adds one comment, created now, to a post; returns its fullname (`None`: no such post).
    pub fn add_comment(&self, post_id: &str) -> Option<String> {
        let mut s = self.shared.lock();
        let p = *s.corpus.post_index.get(post_id)?;
        let now = crate::stream::epoch_now().floor();
        Some(s.corpus.add_comment(p, now))
    }

    /// Changes a post's data (score, `num_comments`, `[deleted]`...); false when it does not exist.
    pub fn edit_post(&self, post_id: &str, f: impl FnOnce(&mut Value)) -> bool {
        self.shared.lock().corpus.edit_post(post_id, f)
    }
}
