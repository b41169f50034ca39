//! RedditHarbor dump reader: Pushshift / Arctic Shift monthly dumps (`RS_YYYY-MM.zst` submissions,
//! `RC_YYYY-MM.zst` comments) streamed with constant memory.
//!
//! - [`DumpReader`] reads lines from zstd (2 GiB windows), plain NDJSON or `.json` per-line files and
//!   tracks its [`Position`] (line count and uncompressed byte offset) so an ingest can resume;
//! - [`DumpFilter`] keeps records by subreddit, `created_utc` range, author and problem keywords, and
//!   projects them onto a field list, looking only at the few fields it needs before full parsing;
//! - [`stream`] runs the filter on worker threads in batches and hands the survivors on in input order.

pub mod error;
pub mod filter;
pub mod format;
pub mod keywords;
mod probe;
pub mod reader;
pub mod stream;

pub use error::{Error, Result};
pub use filter::{DumpFilter, parse_time};
pub use format::{DumpFormat, DumpKind};
pub use keywords::KeywordFilter;
pub use reader::{DumpReader, Position};
pub use stream::{DumpRecord, Payload, StreamStats, stream};
