//! `harbor export --format parquet|csv|jsonl --out DIR`

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use clap::Args;
use harbor_core::destination::Destination;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::output::{UserError, dest_error};
use crate::settings::Settings;

/// Write tables of the destination to files, one per table, as readers see them (merge applied).
///
/// Parquet keeps the column types; CSV has a header row and RFC 4180 quoting; JSONL has one object
/// per row (timestamps as RFC 3339 text, JSON columns as text).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// File format.
    #[arg(long, default_value = "parquet", value_parser = ["parquet", "csv", "jsonl"])]
    format: String,
    /// Tables to export (repeatable; default: every data table).
    #[arg(long = "table", short = 't', value_name = "TABLE")]
    tables: Vec<String>,
    /// Keep only rows matching this SQL predicate, in the destination's dialect (database
    /// destinations only), e.g. "subreddit = 'rust'".
    #[arg(long = "where", value_name = "SQL")]
    filter: Option<String>,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(settings: &Settings, args: ExportArgs) -> anyhow::Result<()> {
    let mut dest = crate::dest::open(settings)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let all: Vec<String> = dest
        .table_counts()
        .map_err(dest_error)?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let tables = if args.tables.is_empty() {
        all.clone()
    } else {
        args.tables.clone()
    };
    for t in &tables {
        if !all.contains(t) {
            return Err(UserError {
                message: format!("table `{t}` does not exist in {}", dest.describe()),
                hint: Some(format!("tables: {}", all.join(", "))),
            }
            .into());
        }
    }
    for t in &tables {
        let (n, path) = export_one(dest.as_mut(), t, args.filter.as_deref(), &args.out, &args.format)?;
        eprintln!("exported {t}: {n} rows -> {}", path.display());
    }
    Ok(())
}

/// Exports one table in `format` into `dir` and returns the rows and the file.
pub fn export_one(
    dest: &mut dyn Destination,
    table: &str,
    filter: Option<&str>,
    dir: &Path,
    format: &str,
) -> anyhow::Result<(u64, PathBuf)> {
    let parquet = dir.join(format!("{table}.parquet"));
    let n = dest.export_table(table, filter, &parquet).map_err(dest_error)?;
    if format == "parquet" {
        return Ok((n, parquet));
    }
    let out = dir.join(format!("{table}.{format}"));
    convert(&parquet, &out, format == "csv").with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::remove_file(&parquet).with_context(|| format!("cannot remove {}", parquet.display()))?;
    Ok((n, out))
}

/// One cell as JSON.
fn json_value(a: &dyn Array, row: usize) -> serde_json::Value {
    use serde_json::Value;
    if a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int64 => Value::from(a.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => serde_json::Number::from_f64(a.as_primitive::<Float64Type>().value(row))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        DataType::Timestamp(_, _) => {
            let us = a.as_primitive::<TimestampMicrosecondType>().value(row);
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or(Value::Null)
        }
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::String(a.as_string::<i64>().value(row).to_owned()),
        _ => Value::String(
            arrow::util::display::ArrayFormatter::try_new(a, &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default(),
        ),
    }
}

fn csv_field(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => return String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn convert(parquet: &Path, out: &Path, csv: bool) -> anyhow::Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(parquet)?)?;
    let schema = builder.schema().clone();
    let reader = builder.build()?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut w = BufWriter::new(File::create(out)?);
    if csv {
        let header: Vec<String> = names
            .iter()
            .map(|n| csv_field(&serde_json::Value::String(n.clone())))
            .collect();
        writeln!(w, "{}", header.join(","))?;
    }
    for batch in reader {
        let batch = batch?;
        for row in 0..batch.num_rows() {
            if csv {
                let fields: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|a| csv_field(&json_value(a.as_ref(), row)))
                    .collect();
                writeln!(w, "{}", fields.join(","))?;
            } else {
                let obj: serde_json::Map<String, serde_json::Value> = names
                    .iter()
                    .zip(batch.columns())
                    .map(|(n, a)| (n.clone(), json_value(a.as_ref(), row)))
                    .collect();
                serde_json::to_writer(&mut w, &obj)?;
                w.write_all(b"\n")?;
            }
        }
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}
