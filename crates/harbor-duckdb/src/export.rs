//! Reading a table back as Parquet (export and backup): DuckDB's own `COPY ... TO` writer, with JSON
//! columns written as text so every reader gets the same Arrow types from every destination.

use std::path::Path;

use harbor_core::destination::DestinationError;

use crate::ddl::{literal, quote};
use crate::destination::DuckDbDestination;

/// Writes the rows of `table` (optionally filtered by a DuckDB predicate) to a Parquet file.
pub fn export_table(
    d: &DuckDbDestination,
    table: &str,
    filter: Option<&str>,
    out: &Path,
) -> Result<u64, DestinationError> {
    let conn = d.connection();
    let cols: Vec<(String, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            )
            .map_err(|e| DestinationError::new(format!("cannot list columns of `{table}`: {e}")))?;
        let rows = stmt
            .query_map([table], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| DestinationError::new(format!("cannot list columns of `{table}`: {e}")))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| DestinationError::new(format!("cannot list columns of `{table}`: {e}")))?
    };
    if cols.is_empty() {
        return Err(DestinationError::new(format!(
            "table `{table}` does not exist in {}",
            harbor_core::destination::Destination::describe(d)
        ))
        .hint("list the tables with `harbor status`"));
    }
    let list: Vec<String> = cols
        .iter()
        .map(|(n, t)| {
            if t == "JSON" {
                format!("{}::VARCHAR AS {}", quote(n), quote(n))
            } else {
                quote(n)
            }
        })
        .collect();
    let predicate = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let sql = format!(
        "COPY (SELECT {} FROM {}{predicate}) TO {} (FORMAT parquet, COMPRESSION zstd)",
        list.join(", "),
        quote(table),
        literal(&out.to_string_lossy())
    );
    let n = conn.execute(&sql, []).map_err(|e| {
        DestinationError::new(format!("cannot export table `{table}` to {}: {e}", out.display()))
    })?;
    Ok(n as u64)
}
