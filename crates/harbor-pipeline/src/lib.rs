//! RedditHarbor orchestration: extract -> normalize -> load package -> load, exactly once.
//!
//! [`Pipeline`] owns a working directory (locked per pipeline), a package store and a destination.
//! Every run first replays packages an interrupted run left behind, then writes new packages and
//! loads each in one destination transaction together with the pipeline state.

pub mod collect;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod input;
pub mod load;
pub mod rejects;
pub mod run;
pub mod watch;

pub use error::{Error, Result};
pub use extract::{ExtractOptions, ExtractSummary, RecordTransform};
pub use ingest::{IngestOptions, IngestProgress, IngestSummary};
pub use load::{DEFAULT_PACKAGE_BYTES, LoadFilesOptions, RejectLimit, RunSummary, parse_size};
pub use run::{
    DEFAULT_MAX_ATTEMPTS, LockedStore, PackageNotice, PackageNotices, Pipeline, PipelineOptions, error_text,
};
