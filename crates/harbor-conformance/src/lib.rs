//! The destination conformance suite of RedditHarbor.
//!
//! `tests/it/` runs one set of cases (create tables, add a column, variant column, merge, append,
//! replace, exactly-once replay and after a kill, concurrent runs, frozen schema, and identical tables
//! across destinations) against every destination: DuckDB, Postgres (a throwaway cluster started by
//! `harbor_testkit::postgres::PgCluster`) and Parquet. A destination that passes them behaves like the
//! others for every reader.
//!
//! The library holds what the tests and the `conformance-load` helper program share: a destination
//! under test ([`Target`]) and one pipeline run loading an NDJSON file ([`load_into`]). The helper
//! program runs such a load in a separate process, so the kill case can SIGKILL it at a pause point.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use harbor_core::WriteDisposition;
use harbor_core::contract::{ContractMode, Contracts, SchemaContract};
use harbor_core::destination::{Destination, DestinationError};
use harbor_pipeline::{ExtractOptions, LoadFilesOptions, Pipeline, PipelineOptions, RunSummary};

/// Name of the pipeline every case loads.
pub const PIPELINE: &str = "conformance";

/// A destination under test: each [`Target::open`] gives a new handle on one database, file or
/// directory.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A DuckDB file.
    DuckDb(PathBuf),
    /// A Postgres database URL.
    Postgres(String),
    /// A Parquet destination directory.
    Parquet(PathBuf),
}

impl Target {
    /// A new handle on the destination.
    ///
    /// # Panics
    /// When the destination cannot be opened (this is test support code).
    pub fn open(&self) -> Box<dyn Destination> {
        self.try_open()
            .unwrap_or_else(|e| panic!("cannot open {}: {e:?}", self.to_arg()))
    }

    /// A new handle on the destination, or why it cannot be opened.
    pub fn try_open(&self) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(match self {
            Target::DuckDb(p) => Box::new(harbor_duckdb::DuckDbDestination::open(p, &Default::default())?),
            Target::Postgres(url) => Box::new(harbor_postgres::PostgresDestination::open(url)?),
            Target::Parquet(p) => Box::new(harbor_parquet::ParquetDestination::open(p)?),
        })
    }

    /// The target as one command-line argument (`duckdb:PATH`, `postgres:URL`, `parquet:PATH`).
    pub fn to_arg(&self) -> String {
        match self {
            Target::DuckDb(p) => format!("duckdb:{}", p.display()),
            Target::Postgres(url) => format!("postgres:{url}"),
            Target::Parquet(p) => format!("parquet:{}", p.display()),
        }
    }

    /// Parses [`Target::to_arg`]'s form.
    pub fn from_arg(arg: &str) -> Option<Target> {
        let (kind, rest) = arg.split_once(':')?;
        Some(match kind {
            "duckdb" => Target::DuckDb(rest.into()),
            "postgres" => Target::Postgres(rest.into()),
            "parquet" => Target::Parquet(rest.into()),
            _ => return None,
        })
    }
}

/// How one run loads.
#[derive(Debug, Default, Clone)]
pub struct Run {
    /// Overrides the write disposition of the loaded table.
    pub disposition: Option<WriteDisposition>,
    /// Freezes the columns of `submissions` (a schema contract).
    pub freeze_columns: bool,
    /// Loads the file even if the committed state says it was loaded.
    pub force: bool,
    /// Keeps completed load packages on disk.
    pub keep_packages: bool,
    /// Input bytes per package (`None`: the default), to split a load into several packages.
    pub package_bytes: Option<u64>,
    /// Loads each package before building the next (no overlap of the two).
    pub sequential_packages: bool,
}

/// Loads NDJSON lines of `file` as `submissions` into `target`, with `workdir` holding the packages.
pub fn load_into(
    target: &Target,
    workdir: &Path,
    file: &Path,
    run: &Run,
) -> harbor_pipeline::Result<RunSummary> {
    load_with(target.open(), workdir, file, run)
}

/// Like [`load_into`] with an open destination.
pub fn load_with(
    dest: Box<dyn Destination>,
    workdir: &Path,
    file: &Path,
    run: &Run,
) -> harbor_pipeline::Result<RunSummary> {
    let mut extract = ExtractOptions {
        chunk_records: 16,
        workers: 2,
        ..Default::default()
    };
    extract.normalize.routing.default_table = Some("submissions".into());
    if run.freeze_columns {
        let mut c = Contracts::default();
        c.tables.insert(
            "submissions".into(),
            SchemaContract {
                columns: ContractMode::Freeze,
                ..Default::default()
            },
        );
        extract.normalize.resolve.contracts = c;
    }
    let opts = LoadFilesOptions {
        extract,
        disposition: run.disposition,
        force: run.force,
        max_rejects: None,
        package_bytes: run
            .package_bytes
            .unwrap_or(harbor_pipeline::DEFAULT_PACKAGE_BYTES),
        overlap: !run.sequential_packages,
    };
    let mut p = Pipeline::open(
        PipelineOptions {
            name: PIPELINE.into(),
            workdir: workdir.to_owned(),
            keep_packages: run.keep_packages,
            wait_for_lock: true,
        },
        dest,
    )?;
    p.load_files(&[file.to_owned()], &opts, Arc::new(AtomicU64::new(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_args_round_trip() {
        for t in [
            Target::DuckDb("/x/a.duckdb".into()),
            Target::Postgres("postgres://u:p@127.0.0.1:5/db?sslmode=disable".into()),
            Target::Parquet("/x/lake".into()),
        ] {
            assert_eq!(Target::from_arg(&t.to_arg()), Some(t));
        }
        assert_eq!(Target::from_arg("sqlite:/x"), None);
    }
}
