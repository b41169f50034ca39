//! Parquet job files.

use std::fs::File;
use std::path::Path;

use harbor_core::normalize::ResolvedTable;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// How job files are encoded.
#[derive(Debug, Clone, Copy)]
pub struct JobWriteOptions {
    /// Compress pages with Snappy (smaller files) or not (faster writes).
    pub compress: bool,
}

impl Default for JobWriteOptions {
    fn default() -> Self {
        Self { compress: true }
    }
}

/// Writes one resolved table as a Parquet file, durably (fsync), and returns its size in bytes.
pub fn write_job(path: &Path, table: &ResolvedTable, opts: JobWriteOptions) -> Result<u64> {
    let batch = crate::arrow::to_record_batch(table)?;
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(if opts.compress {
            Compression::SNAPPY
        } else {
            Compression::UNCOMPRESSED
        })
        .set_max_row_group_row_count(Some(table.rows.max(1)))
        .build();
    let pq = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(pq)?;
    writer.write(&batch).map_err(pq)?;
    let file = writer.into_inner().map_err(pq)?;
    file.sync_all().map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(len)
}
