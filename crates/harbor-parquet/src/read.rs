//! Reading Parquet files into batches of one table schema, and the merged view of a table (latest
//! row per key), as readers of the Parquet destination see it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray, new_null_array};
use arrow::compute::{cast, filter_record_batch};
use arrow_array::RecordBatch;
use arrow_schema::Schema as ArrowSchema;
use harbor_core::schema::{C_CONTENT_HASH, C_ID, C_ROOT_ID};
use harbor_core::{Column, WriteDisposition};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::arrow::arrow_field;
use crate::manifest::Manifest;
use crate::{Error, Result};

/// The Arrow schema of a table's columns.
pub fn arrow_schema(columns: &[Column]) -> Arc<ArrowSchema> {
    Arc::new(ArrowSchema::new(
        columns
            .iter()
            .map(|c| arrow_field(&c.name, c.data_type))
            .collect::<Vec<_>>(),
    ))
}

/// A batch with exactly `schema`'s columns: columns found by name (cast to their type), missing ones
/// null. Columns of the batch that the schema lacks are an error.
pub fn conform(batch: &RecordBatch, schema: &Arc<ArrowSchema>, what: &str) -> Result<RecordBatch> {
    let arrow = |source| Error::Arrow {
        table: what.to_owned(),
        source,
    };
    for f in batch.schema().fields() {
        if schema.field_with_name(f.name()).is_err() {
            return Err(Error::Manifest {
                path: what.into(),
                message: format!("column `{}` is not in the table schema", f.name()),
            });
        }
    }
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(a) if a.data_type() == f.data_type() => Ok(a.clone()),
            Some(a) => cast(a, f.data_type()).map_err(arrow),
            None => Ok(new_null_array(f.data_type(), batch.num_rows())),
        })
        .collect::<Result<_>>()?;
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow)
}

/// Reads every batch of a Parquet file, conformed to `schema`.
pub fn read_file(path: &Path, schema: &Arc<ArrowSchema>) -> Result<Vec<RecordBatch>> {
    let what = path.display().to_string();
    read_batches(path, None)?
        .iter()
        .map(|b| conform(b, schema, &what))
        .collect()
}

/// Every batch of a Parquet file as stored; with `columns`, only those of them the file has.
fn read_batches(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    let pq = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .with_batch_size(65536);
    if let Some(names) = columns {
        let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
        builder = builder.with_projection(mask);
    }
    builder
        .build()
        .map_err(pq)?
        .map(|b| {
            b.map_err(|source| Error::Arrow {
                table: path.display().to_string(),
                source,
            })
        })
        .collect()
}

/// A column's values as text (keys are compared as text).
fn text_column(batch: &RecordBatch, name: &str, what: &str) -> Result<StringArray> {
    let a = batch.column_by_name(name).ok_or_else(|| Error::Manifest {
        path: what.into(),
        message: format!("key column `{name}` is missing"),
    })?;
    let s = cast(a, &arrow_schema::DataType::Utf8).map_err(|source| Error::Arrow {
        table: what.to_owned(),
        source,
    })?;
    Ok(s.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        // cast to Utf8 always returns a StringArray.
        .unwrap_or_else(|| StringArray::from(Vec::<Option<String>>::new())))
}

/// Batches of one file, tagged with the file's load id (its file stem).
struct Tagged {
    load: String,
    batches: Vec<RecordBatch>,
}

fn read_tagged(dir: &Path, files: &[String], schema: &Arc<ArrowSchema>) -> Result<Vec<Tagged>> {
    files
        .iter()
        .map(|f| {
            let p = dir.join(f);
            let load = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Tagged {
                load,
                batches: read_file(&p, schema)?,
            })
        })
        .collect()
}

/// The `(load, _harbor_id)` pairs of rows.
type RowIds = HashSet<(String, String)>;

/// Keeps the last row per key (by file order, then row order); also returns the kept rows'
/// `(load, _harbor_id)` pairs.
fn keep_latest(tagged: &[Tagged], key: &str, what: &str) -> Result<(Vec<RecordBatch>, RowIds)> {
    let mut last: HashMap<String, (usize, usize, usize)> = HashMap::new();
    for (fi, t) in tagged.iter().enumerate() {
        for (bi, b) in t.batches.iter().enumerate() {
            let keys = text_column(b, key, what)?;
            for r in 0..keys.len() {
                if keys.is_valid(r) {
                    last.insert(keys.value(r).to_owned(), (fi, bi, r));
                }
            }
        }
    }
    let winners: HashSet<(usize, usize, usize)> = last.into_values().collect();
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for (fi, t) in tagged.iter().enumerate() {
        for (bi, b) in t.batches.iter().enumerate() {
            let mask: BooleanArray = (0..b.num_rows())
                .map(|r| Some(winners.contains(&(fi, bi, r))))
                .collect();
            let kept = filter_record_batch(b, &mask).map_err(|source| Error::Arrow {
                table: what.to_owned(),
                source,
            })?;
            let hid = text_column(&kept, C_ID, what)?;
            for r in 0..hid.len() {
                if hid.is_valid(r) {
                    ids.insert((t.load.clone(), hid.value(r).to_owned()));
                }
            }
            out.push(kept);
        }
    }
    Ok((out, ids))
}

/// The rows of a table as a reader sees them: for merge tables the latest row per primary key (and
/// only the child rows written with that root row). Returns the Arrow schema and the batches.
pub fn read_table(
    dir: &Path,
    manifest: &Manifest,
    table: &str,
) -> Result<(Arc<ArrowSchema>, Vec<RecordBatch>)> {
    let (schema, live) = read_live(dir, manifest, table)?;
    Ok((schema, live.0))
}

type Live = (Vec<RecordBatch>, Option<HashSet<(String, String)>>);

fn table_columns(manifest: &Manifest, table: &str) -> Result<Vec<Column>> {
    let entry = manifest.tables.get(table).ok_or_else(|| Error::Manifest {
        path: table.into(),
        message: format!("table `{table}` does not exist"),
    })?;
    let schema = manifest.schema(&entry.pipeline)?;
    Ok(schema
        .tables
        .get(table)
        .map(|t| t.columns.clone())
        .unwrap_or_default())
}

fn read_live(dir: &Path, manifest: &Manifest, table: &str) -> Result<(Arc<ArrowSchema>, Live)> {
    let entry = manifest.tables.get(table).ok_or_else(|| Error::Manifest {
        path: table.into(),
        message: format!("table `{table}` does not exist"),
    })?;
    let schema = arrow_schema(&table_columns(manifest, table)?);
    let tagged = read_tagged(dir, &entry.files, &schema)?;
    if entry.disposition != WriteDisposition::Merge {
        let batches = tagged.into_iter().flat_map(|t| t.batches).collect();
        return Ok((schema, (batches, None)));
    }
    match &entry.parent {
        None => {
            let key = entry.primary_key.clone().unwrap_or_else(|| C_ID.to_owned());
            let (batches, ids) = keep_latest(&tagged, &key, table)?;
            Ok((schema, (batches, Some(ids))))
        }
        Some(_) => {
            // Child rows count only when written by the same load as the live version of their root.
            let (_, (_, roots)) = read_live(dir, manifest, &entry.root)?;
            let roots = roots.unwrap_or_default();
            let mut filtered = Vec::new();
            for t in &tagged {
                let mut kept = Vec::new();
                for b in &t.batches {
                    let root_ids = text_column(b, C_ROOT_ID, table)?;
                    let mask: BooleanArray = (0..b.num_rows())
                        .map(|r| {
                            Some(
                                root_ids.is_valid(r)
                                    && roots.contains(&(t.load.clone(), root_ids.value(r).to_owned())),
                            )
                        })
                        .collect();
                    kept.push(filter_record_batch(b, &mask).map_err(|source| Error::Arrow {
                        table: table.to_owned(),
                        source,
                    })?);
                }
                filtered.push(Tagged {
                    load: t.load.clone(),
                    batches: kept,
                });
            }
            let (batches, ids) = keep_latest(&filtered, C_ID, table)?;
            Ok((schema, (batches, Some(ids))))
        }
    }
}

/// The content hashes (`_harbor_content_hash`, as stored) of the live rows of a merge root table:
/// the hash of the latest row per key, reading only the key and hash columns of each file. A key
/// whose latest row has no hash contributes none, so a record whose older version had the same
/// content is not mistaken for stored.
pub fn live_content_hashes(dir: &Path, manifest: &Manifest, table: &str) -> Result<Vec<String>> {
    let Some(entry) = manifest.tables.get(table) else {
        return Ok(Vec::new());
    };
    if entry.disposition != WriteDisposition::Merge || entry.parent.is_some() {
        return Ok(Vec::new());
    }
    let key = entry.primary_key.clone().unwrap_or_else(|| C_ID.to_owned());
    let mut latest: HashMap<String, Option<String>> = HashMap::new();
    for f in &entry.files {
        let path = dir.join(f);
        for b in read_batches(&path, Some(&[key.as_str(), C_CONTENT_HASH]))? {
            let keys = text_column(&b, &key, table)?;
            let hashes = b
                .column_by_name(C_CONTENT_HASH)
                .map(|_| text_column(&b, C_CONTENT_HASH, table))
                .transpose()?;
            for r in 0..keys.len() {
                if keys.is_valid(r) {
                    let hash = hashes
                        .as_ref()
                        .filter(|h| h.is_valid(r))
                        .map(|h| h.value(r).to_owned());
                    latest.insert(keys.value(r).to_owned(), hash);
                }
            }
        }
    }
    Ok(latest.into_values().flatten().collect())
}

/// The last row per `key` of batches written in order (one load's rows of a merge table).
pub fn dedupe(batches: Vec<RecordBatch>, key: &str, what: &str) -> Result<Vec<RecordBatch>> {
    let tagged = [Tagged {
        load: String::new(),
        batches,
    }];
    Ok(keep_latest(&tagged, key, what)?.0)
}
