//! Reddit API client and collection logic for RedditHarbor.
//!
//! - [`RedditClient`]: OAuth2 (application-only, password, refresh token), pacing from the
//!   `X-Ratelimit-*` headers, retries with jittered exponential backoff, call statistics.
//! - Listings ([`RedditClient::walk_listing`]) with incremental cursors, complete comment trees
//!   ([`RedditClient::comment_tree`]), batch refresh ([`RedditClient::info`]), about pages and the
//!   problem-first keyword filter ([`ProblemFilter`]).
//!
//! Everything collected is returned as raw JSON things (`{"kind": .., "data": {..}}`) for the
//! normalizer to turn into rows.

mod about;
mod auth;
mod client;
pub mod comments;
pub mod config;
mod error;
pub mod filter;
pub mod incremental;
pub mod info;
pub mod listing;
pub mod ratelimit;
mod response;
pub mod stats;
pub mod thing;

pub use client::RedditClient;
pub use comments::{CommentOptions, CommentTree, needs_comment_refetch};
pub use config::{AuthFlow, RedditConfig, RetryConfig};
pub use error::{Error, Result};
pub use filter::{FilterMode, ProblemFilter};
pub use incremental::{ListingCursor, ListingWalk, StopReason, WalkOptions};
pub use info::{InfoRefresh, Removal, removal};
pub use listing::{ListingPage, ListingSource, Sort, TimeFilter};
pub use stats::{CallStats, ClientEvent, Endpoint, EventHook};
