//! Themes: the problems that recur across posts, grouped offline, with stable ids and weekly counts.
//!
//! - [`tokenize`]: stems of a post's words (Unicode word boundaries, Snowball stemming, stop words).
//! - [`vectors`]: sparse TF-IDF unit vectors.
//! - [`neighbours`]: the k-nearest-neighbour graph through an inverted index (no all-pairs matrix).
//! - [`cluster`]: agglomerative clustering on that graph with a centroid check; existing themes are
//!   seeds that take in new posts and never merge, so ids are stable.
//! - [`group`]: the whole step, from posts (and the themes already stored) to ranked [`Theme`]s.
//! - [`llm`]: the optional LLM step: names themes and says which are the same problem (cached,
//!   capped).
//! - [`stats`]: per theme, weekly counts, growth, names and example posts.
//! - [`store`]: reading posts and themes back from a destination, and the rows written.
//! - [`eval`]: adjusted Rand index and purity, to measure a grouping against labels.

pub mod cluster;
pub mod eval;
pub mod group;
pub mod llm;
pub mod neighbours;
pub mod stats;
pub mod store;
pub mod tokenize;
pub mod vectors;

pub use group::{ExistingTheme, Grouping, ThemeOptions, ThemePost, apply_review, group};
pub use stats::{Example, Theme, Week};
