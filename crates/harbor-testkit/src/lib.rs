//! Test kit for RedditHarbor: a fake Reddit API server and a fake LLM endpoint ([`FakeLlm`]).
//!
//! [`FakeReddit`] runs axum on `127.0.0.1` with a random port and speaks enough of Reddit's API for
//! the collector: the OAuth token endpoint (every grant type, Reddit's error shapes), listings with
//! `after`/`before`, search, user listings, threads with "load more" and "continue this thread"
//! stubs, `/api/morechildren`, `/api/info` and about pages. It enforces a fixed-window rate limit
//! with Reddit's `X-Ratelimit-*` headers (scalable: 100 requests per 0.5 s makes a soak take
//! seconds), answers 429 when it is exceeded, injects faults ([`Fault`]) and counts requests per
//! endpoint. A stream ([`StreamSpec`]) adds posts and comments at set rates while a test runs. Data comes from a deterministic synthetic corpus ([`CorpusConfig`]) and/or recorded
//! real responses ([`Recorded`], from `../shared/fixtures/api/`).

mod config;
mod corpus;
mod faults;
pub mod fixtures;
mod handler;
mod limiter;
pub mod llm;
pub mod postgres;
pub mod problems;
mod render;
mod replay;
mod reply;
mod server;
pub mod smtp;
mod state;
mod stream;
mod synthetic;
mod token;

pub use config::{CorpusConfig, FakeConfig, RateLimit, RenderConfig};
pub use faults::Fault;
pub use handler::endpoint_of;
pub use llm::{FakeLlm, FakeLlmConfig};
pub use replay::{Recorded, ReplayError};
pub use server::FakeReddit;
pub use smtp::{Mail, SmtpSink};
pub use stream::{Appearance, StreamRate, StreamSpec};
