//! Postgres binary COPY format: Arrow batches in (for `COPY ... FROM STDIN BINARY`) and out (for
//! `COPY ... TO STDOUT BINARY`). Written by hand because the format is small and fixed, and encoding
//! whole Arrow columns avoids one `ToSql` trait object per value.

use std::io::Read;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array, Int64Builder,
    StringArray, StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Field, Schema as ArrowSchema};
use arrow::record_batch::RecordBatch;
use harbor_core::DataType;
use harbor_parquet::arrow::arrow_type;

/// Microseconds between the Unix epoch and the Postgres epoch (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The COPY header.
pub fn header(out: &mut Vec<u8>) {
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
}

/// The COPY trailer.
pub fn trailer(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i16).to_be_bytes());
}

/// One column, cast to the Arrow type of its logical type.
enum Col {
    Bool(BooleanArray),
    I64(Int64Array),
    F64(Float64Array),
    Str(StringArray),
    /// JSON text bound for a `jsonb` column (binary format: a version byte, then the text).
    Jsonb(StringArray),
    Ts(TimestampMicrosecondArray),
}

/// A column of a COPY: its index in the batch, its logical type, and whether the table column it
/// goes to is `jsonb` (older tables have `json` columns, which take plain text).
#[derive(Debug, Clone, Copy)]
pub struct CopyColumn {
    /// Index of the column in the batch.
    pub index: usize,
    /// Logical type.
    pub data_type: DataType,
    /// The target column is `jsonb`.
    pub jsonb: bool,
}

/// Casts a batch column to the Arrow type of `t`.
pub fn cast_column(array: &ArrayRef, t: DataType) -> Result<ArrayRef, arrow::error::ArrowError> {
    let target = arrow_type(t);
    if array.data_type() == &target {
        return Ok(array.clone());
    }
    arrow::compute::cast(array, &target)
}

fn typed(array: &ArrayRef, t: DataType, jsonb: bool) -> Result<Col, arrow::error::ArrowError> {
    let a = cast_column(array, t)?;
    let any = a.as_any();
    let wrong = || arrow::error::ArrowError::CastError(format!("column is not {t}"));
    Ok(match t {
        DataType::Bool => Col::Bool(any.downcast_ref::<BooleanArray>().ok_or_else(wrong)?.clone()),
        DataType::Bigint => Col::I64(any.downcast_ref::<Int64Array>().ok_or_else(wrong)?.clone()),
        DataType::Double => Col::F64(any.downcast_ref::<Float64Array>().ok_or_else(wrong)?.clone()),
        DataType::Json if jsonb => Col::Jsonb(any.downcast_ref::<StringArray>().ok_or_else(wrong)?.clone()),
        DataType::Text | DataType::Json => {
            Col::Str(any.downcast_ref::<StringArray>().ok_or_else(wrong)?.clone())
        }
        DataType::Timestamp => Col::Ts(
            any.downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(wrong)?
                .clone(),
        ),
    })
}

/// Encodes the rows of `batch` as COPY tuples: the columns `cols`, then, if `seq` is given, a
/// bigint sequence number per row counting up from it.
pub fn encode_batch(
    batch: &RecordBatch,
    cols: &[CopyColumn],
    mut seq: Option<&mut i64>,
    out: &mut Vec<u8>,
) -> Result<(), arrow::error::ArrowError> {
    let arrays: Vec<Col> = cols
        .iter()
        .map(|c| typed(batch.column(c.index), c.data_type, c.jsonb))
        .collect::<Result<_, _>>()?;
    let nfields = (arrays.len() + usize::from(seq.is_some())) as i16;
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&nfields.to_be_bytes());
        for a in &arrays {
            encode_value(a, row, out);
        }
        if let Some(s) = seq.as_deref_mut() {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&s.to_be_bytes());
            *s += 1;
        }
    }
    Ok(())
}

fn encode_value(a: &Col, row: usize, out: &mut Vec<u8>) {
    let null = match a {
        Col::Bool(x) => x.is_null(row),
        Col::I64(x) => x.is_null(row),
        Col::F64(x) => x.is_null(row),
        Col::Str(x) | Col::Jsonb(x) => x.is_null(row),
        Col::Ts(x) => x.is_null(row),
    };
    if null {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        return;
    }
    match a {
        Col::Bool(x) => {
            out.extend_from_slice(&1i32.to_be_bytes());
            out.push(u8::from(x.value(row)));
        }
        Col::I64(x) => {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&x.value(row).to_be_bytes());
        }
        Col::F64(x) => {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&x.value(row).to_bits().to_be_bytes());
        }
        Col::Ts(x) => {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&(x.value(row) - PG_EPOCH_US).to_be_bytes());
        }
        Col::Str(x) => {
            let s = x.value(row).as_bytes();
            if s.contains(&0) {
                let clean: Vec<u8> = s.iter().copied().filter(|b| *b != 0).collect();
                out.extend_from_slice(&(clean.len() as i32).to_be_bytes());
                out.extend_from_slice(&clean);
            } else {
                out.extend_from_slice(&(s.len() as i32).to_be_bytes());
                out.extend_from_slice(s);
            }
        }
        Col::Jsonb(x) => {
            let at = out.len();
            out.extend_from_slice(&0i32.to_be_bytes());
            out.push(1);
            push_jsonb_text(x.value(row), out);
            let len = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
}

/// Appends JSON text as `jsonb` accepts it. `jsonb` refuses the escape `\u0000` (text columns drop
/// NUL characters too), so it is left out; every other escape is copied as it is. The text comes
/// from serde_json, so it is valid JSON and escapes come in pairs (`\\u0000` is a backslash and
/// `u0000`, and stays).
fn push_jsonb_text(text: &str, out: &mut Vec<u8>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if b[i + 1..].starts_with(b"u0000") => i += 6,
            b'\\' => {
                out.extend_from_slice(&b[i..(i + 2).min(b.len())]);
                i += 2;
            }
            0 => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

enum Builder {
    Bool(BooleanBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
}

/// Decodes `COPY ... TO STDOUT (FORMAT binary)` output into record batches of at most `batch_rows`
/// rows. `columns` are the names and logical types of the copied columns; `jsonb` marks columns whose
/// server type is `jsonb` (a version byte precedes the text).
pub struct CopyDecoder<R: Read> {
    input: R,
    schema: Arc<ArrowSchema>,
    types: Vec<(DataType, bool)>,
    batch_rows: usize,
    done: bool,
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("malformed COPY binary data: {what}"),
    )
}

fn read_exact<R: Read>(r: &mut R, n: usize, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.resize(n, 0);
    r.read_exact(buf)
}

impl<R: Read> CopyDecoder<R> {
    /// Reads the header and prepares decoding.
    pub fn new(
        mut input: R,
        columns: &[(String, DataType, bool)],
        batch_rows: usize,
    ) -> std::io::Result<Self> {
        let mut buf = Vec::new();
        read_exact(&mut input, SIGNATURE.len() + 8, &mut buf)?;
        if &buf[..SIGNATURE.len()] != SIGNATURE {
            return Err(bad("signature"));
        }
        let ext = i32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]);
        read_exact(&mut input, ext.max(0) as usize, &mut buf)?;
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, t, _)| Field::new(n, arrow_type(*t), true))
            .collect();
        Ok(Self {
            input,
            schema: Arc::new(ArrowSchema::new(fields)),
            types: columns.iter().map(|(_, t, j)| (*t, *j)).collect(),
            batch_rows,
            done: false,
        })
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> Arc<ArrowSchema> {
        self.schema.clone()
    }

    /// The next batch, `None` at the end.
    pub fn next_batch(&mut self) -> std::io::Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let mut builders: Vec<Builder> = self
            .types
            .iter()
            .map(|(t, _)| match t {
                DataType::Bool => Builder::Bool(BooleanBuilder::new()),
                DataType::Bigint => Builder::I64(Int64Builder::new()),
                DataType::Double => Builder::F64(Float64Builder::new()),
                DataType::Text | DataType::Json => Builder::Str(StringBuilder::new()),
                DataType::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new()),
            })
            .collect();
        let mut rows = 0;
        let mut buf = Vec::new();
        while rows < self.batch_rows {
            read_exact(&mut self.input, 2, &mut buf)?;
            let n = i16::from_be_bytes([buf[0], buf[1]]);
            if n == -1 {
                self.done = true;
                break;
            }
            if n as usize != builders.len() {
                return Err(bad("field count"));
            }
            for (b, (_, jsonb)) in builders.iter_mut().zip(&self.types) {
                read_exact(&mut self.input, 4, &mut buf)?;
                let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                if len < 0 {
                    append_null(b);
                    continue;
                }
                read_exact(&mut self.input, len as usize, &mut buf)?;
                append_value(b, &buf, *jsonb)?;
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Bool(mut b) => Arc::new(b.finish()),
                    Builder::I64(mut b) => Arc::new(b.finish()),
                    Builder::F64(mut b) => Arc::new(b.finish()),
                    Builder::Str(mut b) => Arc::new(b.finish()),
                    Builder::Ts(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map(Some)
            .map_err(|e| bad(&e.to_string()))
    }
}

fn append_null(b: &mut Builder) {
    match b {
        Builder::Bool(b) => b.append_null(),
        Builder::I64(b) => b.append_null(),
        Builder::F64(b) => b.append_null(),
        Builder::Str(b) => b.append_null(),
        Builder::Ts(b) => b.append_null(),
    }
}

fn be8(v: &[u8]) -> std::io::Result<[u8; 8]> {
    v.try_into().map_err(|_| bad("8-byte value"))
}

fn append_value(b: &mut Builder, v: &[u8], jsonb: bool) -> std::io::Result<()> {
    match b {
        Builder::Bool(b) => b.append_value(v.first().is_some_and(|x| *x != 0)),
        Builder::I64(b) => b.append_value(match v.len() {
            2 => i64::from(i16::from_be_bytes([v[0], v[1]])),
            4 => i64::from(i32::from_be_bytes([v[0], v[1], v[2], v[3]])),
            _ => i64::from_be_bytes(be8(v)?),
        }),
        Builder::F64(b) => b.append_value(match v.len() {
            4 => f64::from(f32::from_bits(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))),
            _ => f64::from_bits(u64::from_be_bytes(be8(v)?)),
        }),
        Builder::Ts(b) => b.append_value(i64::from_be_bytes(be8(v)?) + PG_EPOCH_US),
        Builder::Str(b) => {
            let text = if jsonb && !v.is_empty() { &v[1..] } else { v };
            b.append_value(std::str::from_utf8(text).map_err(|_| bad("utf-8"))?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonb_text(s: &str) -> String {
        let mut out = Vec::new();
        push_jsonb_text(s, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn jsonb_text_leaves_out_nul_escapes_only() {
        assert_eq!(jsonb_text(r#"{"a":"x\u0000y"}"#), r#"{"a":"xy"}"#);
        assert_eq!(jsonb_text(r#"{"a":"x\\u0000y"}"#), r#"{"a":"x\\u0000y"}"#);
        assert_eq!(jsonb_text(r#"{"a":"\\\u0000"}"#), r#"{"a":"\\"}"#);
        assert_eq!(jsonb_text(r#"{"a":"\u00e9\n\"q\""}"#), r#"{"a":"\u00e9\n\"q\""}"#);
        assert_eq!(jsonb_text("[1,2]"), "[1,2]");
    }
}
