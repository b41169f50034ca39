//! Resolved rows to Arrow.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};
use harbor_core::normalize::ResolvedTable;
use harbor_core::{Cell, DataType};

use crate::{Error, Result};

/// The Arrow type a column of this logical type is written as. Timestamps are UTC microseconds
/// without a zone annotation; JSON is text.
pub fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::Bool => ArrowType::Boolean,
        DataType::Bigint => ArrowType::Int64,
        DataType::Double => ArrowType::Float64,
        DataType::Text | DataType::Json => ArrowType::Utf8,
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// The Arrow field of a column (nullable). JSON columns are strings carrying Arrow's canonical
/// `arrow.json` extension type, which the Parquet writer turns into the JSON logical type, so
/// readers of the files (DuckDB, Spark, pandas) see JSON, not text.
pub fn arrow_field(name: &str, t: DataType) -> Field {
    let field = Field::new(name, arrow_type(t), true);
    match t {
        DataType::Json => field.with_extension_type(arrow_schema::extension::Json::default()),
        _ => field,
    }
}

/// Builds one record batch from a resolved table. Cells already match their column types.
pub fn to_record_batch(table: &ResolvedTable) -> Result<RecordBatch> {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| arrow_field(&c.name, c.data_type))
        .collect();
    let arrays: Vec<ArrayRef> = table
        .columns
        .iter()
        .zip(&table.values)
        .map(|(c, v)| build_array(c.data_type, v))
        .collect();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).map_err(|source| Error::Arrow {
        table: table.name.clone(),
        source,
    })
}

fn build_array(t: DataType, cells: &[Cell]) -> ArrayRef {
    match t {
        DataType::Bool => {
            let mut b = BooleanBuilder::with_capacity(cells.len());
            for c in cells {
                b.append_option(if let Cell::Bool(v) = c { Some(*v) } else { None });
            }
            Arc::new(b.finish())
        }
        DataType::Bigint => {
            let mut b = Int64Builder::with_capacity(cells.len());
            for c in cells {
                b.append_option(if let Cell::Int(v) = c { Some(*v) } else { None });
            }
            Arc::new(b.finish())
        }
        DataType::Double => {
            let mut b = Float64Builder::with_capacity(cells.len());
            for c in cells {
                b.append_option(match c {
                    Cell::Float(v) => Some(*v),
                    Cell::Int(v) => Some(*v as f64),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Timestamp => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(cells.len());
            for c in cells {
                b.append_option(if let Cell::Timestamp(v) = c {
                    Some(*v)
                } else {
                    None
                });
            }
            Arc::new(b.finish())
        }
        DataType::Text | DataType::Json => {
            let bytes = cells
                .iter()
                .map(|c| {
                    if let Cell::Text(s) | Cell::Json(s) = c {
                        s.len()
                    } else {
                        0
                    }
                })
                .sum();
            let mut b = StringBuilder::with_capacity(cells.len(), bytes);
            for c in cells {
                match c {
                    Cell::Text(s) | Cell::Json(s) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    }
}
