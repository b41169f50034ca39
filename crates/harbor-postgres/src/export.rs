//! Reading a table back: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` decoded to Arrow and written as
//! Parquet, for export and backup.

use std::fs::File;
use std::path::Path;

use harbor_core::destination::DestinationError;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::copy::CopyDecoder;
use crate::ddl::from_pg_type;
use crate::destination::{PostgresDestination, q};
use crate::error::pg_err;

/// Writes the rows of `table` (optionally filtered by an SQL predicate) to a Parquet file.
pub fn export_table(
    d: &mut PostgresDestination,
    table: &str,
    filter: Option<&str>,
    out: &Path,
) -> Result<u64, DestinationError> {
    let tables = d.data_tables()?;
    let Some((_, cols)) = tables.iter().find(|(t, _)| t == table) else {
        return Err(
            DestinationError::new(format!("table `{table}` does not exist in {}", d.cfg.describe()))
                .hint("list the tables with `harbor status`"),
        );
    };
    let mut columns = Vec::new();
    for (name, ty) in cols {
        let Some(t) = from_pg_type(ty) else {
            return Err(DestinationError::new(format!(
                "column {table}.{name} has type {ty}, which harbor cannot export"
            )));
        };
        columns.push((name.clone(), t, ty == "jsonb"));
    }
    let list: Vec<String> = columns.iter().map(|(n, _, _)| q(n)).collect();
    let predicate = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let sql = format!(
        "COPY (SELECT {} FROM {}{predicate}) TO STDOUT (FORMAT binary)",
        list.join(", "),
        d.table(table)
    );
    let target = d.cfg.describe();
    let io = |what: &str, e: &dyn std::fmt::Display| {
        DestinationError::new(format!("cannot {what} {}: {e}", out.display()))
    };
    let client = d.client()?;
    // COPY runs inside a transaction so it also works behind a transaction pooler.
    let mut tx = client
        .transaction()
        .map_err(|e| pg_err("cannot begin transaction", &target, e))?;
    let reader = tx
        .copy_out(sql.as_str())
        .map_err(|e| pg_err(format!("cannot read table `{table}`"), &target, e))?;
    let mut decoder = CopyDecoder::new(reader, &columns, 65536).map_err(|e| io("read rows for", &e))?;
    let file = File::create(out).map_err(|e| io("create", &e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer =
        ArrowWriter::try_new(file, decoder.schema(), Some(props)).map_err(|e| io("write", &e))?;
    let mut n = 0u64;
    while let Some(batch) = decoder.next_batch().map_err(|e| io("read rows for", &e))? {
        n += batch.num_rows() as u64;
        writer.write(&batch).map_err(|e| io("write", &e))?;
    }
    writer.close().map_err(|e| io("write", &e))?;
    drop(decoder);
    tx.commit()
        .map_err(|e| pg_err("cannot finish reading", &target, e))?;
    Ok(n)
}
