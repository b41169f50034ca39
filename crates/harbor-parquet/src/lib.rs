//! Arrow and Parquet for RedditHarbor.
//!
//! [`arrow`] turns resolved rows into Arrow record batches; [`job`] writes them as the Parquet job files
//! of a load package, which every destination reads (DuckDB natively, Postgres through COPY, the
//! Parquet destination by rewriting them per table). [`ParquetDestination`] is the Parquet destination
//! (`parquet:///dir`): one file per table per load, a manifest, and DuckDB views that apply merge.

pub mod arrow;
mod destination;
pub mod job;
pub mod manifest;
pub mod read;
pub mod views;

pub use destination::ParquetDestination;
pub use job::{JobWriteOptions, write_job};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arrow could not build a batch.
    #[error("building arrow batch for table `{table}` failed")]
    Arrow {
        /// The table.
        table: String,
        /// The arrow error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// Writing a Parquet file failed.
    #[error("writing parquet file {path} failed")]
    Parquet {
        /// The file.
        path: std::path::PathBuf,
        /// The parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The manifest (or a table it names) is missing or invalid.
    #[error("{path}: {message}")]
    Manifest {
        /// The file or table.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// File system error.
    #[error("i/o error at {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
