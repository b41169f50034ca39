//! Errors of the core crate.

use std::path::PathBuf;

use crate::types::DataType;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A new table under a frozen contract.
    #[error("schema contract violation: table `{table}` does not exist and its contract freezes tables")]
    FrozenTable {
        /// The table that would have been created.
        table: String,
    },
    /// A new column under a frozen contract.
    #[error("schema contract violation: table `{table}` is frozen and the data has a new column `{column}`")]
    FrozenColumn {
        /// The table.
        table: String,
        /// The column that would have been added.
        column: String,
    },
    /// A conflicting type under a frozen data-type contract.
    #[error(
        "schema contract violation: column `{column}` of table `{table}` is `{expected}` and the data has a `{found}` value (data types are frozen)"
    )]
    FrozenDataType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The column's type.
        expected: DataType,
        /// The value's type.
        found: DataType,
    },
    /// A file of a load package could not be read or written.
    #[error("load package i/o failed at {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A load package is not in the expected shape.
    #[error("load package at {path} is invalid: {message}")]
    Package {
        /// The package directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Wraps an i/o error with the path it happened at.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Whether this error comes from a schema contract (a user decision, not a bug).
    pub fn is_contract_violation(&self) -> bool {
        matches!(
            self,
            Error::FrozenTable { .. } | Error::FrozenColumn { .. } | Error::FrozenDataType { .. }
        )
    }
}
