//! Extract and normalize input files into a load package, in parallel with a deterministic result.
//!
//! A reader thread cuts the input into chunks of records; worker threads parse and flatten chunks;
//! this thread resolves them against the schema strictly in input order; an encoder thread writes
//! each chunk's tables as Parquet job files. Channels are bounded, so memory stays flat whatever the
//! input size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::bounded;
use harbor_core::Schema;
use harbor_core::normalize::{FlatChunk, NormalizeOptions, Reject, ResolveStats, ResolvedTable, resolve};
use harbor_core::package::PackageWriter;
use harbor_core::schema::C_CONTENT_HASH;
use harbor_parquet::JobWriteOptions;

use crate::error::{Error, Result};
use crate::input::{Payload, RawRecord};
use crate::rejects::RejectSink;

/// Options of the extract stage.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Normalizer options.
    pub normalize: NormalizeOptions,
    /// Records per chunk (and so per job file).
    pub chunk_records: usize,
    /// Parse/flatten worker threads.
    pub workers: usize,
    /// Job file encoding.
    pub job: JobWriteOptions,
    /// Content hashes of records already stored (see [`harbor_core::schema::C_CONTENT_HASH`]): a
    /// text record whose hash is here is skipped before parsing. `None` skips nothing.
    pub skip_hashes: Option<Arc<HashSet<u128>>>,
    /// Applied to every record before it is normalized (PII masking); `None` changes nothing.
    pub transform: Option<RecordTransform>,
}

/// A change applied to every parsed record before normalization, e.g. PII masking. Records it
/// applies to are parsed on the reader thread.
#[derive(Clone)]
pub struct RecordTransform(pub Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>);

impl std::fmt::Debug for RecordTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordTransform")
    }
}

impl RecordTransform {
    /// Applies the transform to a record; text that is not JSON is left for the parser to reject.
    fn apply(&self, rec: RawRecord) -> RawRecord {
        let mut value = match rec.payload {
            Payload::Value(v) => v,
            Payload::Bytes(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                Ok(v) => v,
                Err(_) => return RawRecord::bytes(b, rec.source),
            },
        };
        (self.0)(&mut value);
        RawRecord::value(value, rec.source)
    }
}

impl Default for ExtractOptions {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            normalize: NormalizeOptions::default(),
            chunk_records: 2000,
            workers,
            job: JobWriteOptions::default(),
            skip_hashes: None,
            transform: None,
        }
    }
}

/// What extraction did.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    /// Input records (lines or documents) read.
    pub records: u64,
    /// Rows per table written to the package.
    pub rows: BTreeMap<String, u64>,
    /// Schema growth and contract effects.
    pub resolve: ResolveStats,
    /// Records rejected (malformed JSON, missing key, unknown shape).
    pub rejects: u64,
    /// `more` stubs skipped.
    pub more_stubs: u64,
    /// Bytes of job files written.
    pub package_bytes: u64,
    /// Records skipped because an identical record is already stored.
    pub unchanged: u64,
}

impl ExtractSummary {
    /// Adds the summary of one more package of the same run.
    pub fn absorb(&mut self, other: ExtractSummary) {
        self.records += other.records;
        for (t, n) in other.rows {
            *self.rows.entry(t).or_default() += n;
        }
        let (r, o) = (&mut self.resolve, other.resolve);
        r.new_columns.extend(o.new_columns);
        r.new_tables.extend(o.new_tables);
        r.discarded_rows += o.discarded_rows;
        r.discarded_values += o.discarded_values;
        r.json_columns.extend(o.json_columns);
        for (t, paths) in o.overflowed {
            r.overflowed.entry(t).or_default().extend(paths);
        }
        self.rejects += other.rejects;
        self.more_stubs += other.more_stubs;
        self.package_bytes += other.package_bytes;
        self.unchanged += other.unchanged;
    }
}

type Parsed = (u64, FlatChunk, Bad, u64);

/// Normalizes the records that `read` emits (in order; `emit` returns false when extraction stopped)
/// and writes job files into `writer`. The common core of every source: files, dumps, API pages.
pub fn extract_records<R>(
    read: R,
    writer: &mut PackageWriter,
    schema: &mut Schema,
    opts: &ExtractOptions,
    load_id: &str,
    rejects: &mut RejectSink,
) -> Result<ExtractSummary>
where
    R: FnOnce(&mut dyn FnMut(RawRecord) -> bool) -> Result<u64> + Send,
{
    let transform = opts.transform.clone();
    let read = move |emit: &mut dyn FnMut(RawRecord) -> bool| -> Result<u64> {
        match &transform {
            None => read(emit),
            Some(t) => read(&mut |rec| emit(t.apply(rec))),
        }
    };
    let workers = opts.workers.max(1);
    let (raw_tx, raw_rx) = bounded::<(u64, Vec<RawRecord>)>(workers * 2);
    let (flat_tx, flat_rx) = bounded::<Parsed>(workers * 2);
    let mut summary = ExtractSummary::default();
    let chunk_records = opts.chunk_records.max(1);
    // Object paths the schema keeps as JSON are known to the workers from the first record on.
    let normalize = opts.normalize.with_schema(schema);

    std::thread::scope(|s| -> Result<()> {
        let reader = s.spawn(move || -> Result<u64> {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(chunk_records);
            let mut open = true;
            let records = read(&mut |rec| {
                batch.push(rec);
                if batch.len() >= chunk_records {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(chunk_records));
                    open = raw_tx.send((seq, full)).is_ok();
                    seq += 1;
                }
                open
            })?;
            if !batch.is_empty() && open {
                let _ = raw_tx.send((seq, batch));
            }
            Ok(records)
        });
        for _ in 0..workers {
            let raw_rx = raw_rx.clone();
            let flat_tx = flat_tx.clone();
            let nopts = &normalize;
            let skip = opts.skip_hashes.as_deref();
            s.spawn(move || {
                for (seq, batch) in raw_rx {
                    let (chunk, bad, unchanged) = parse_and_flatten(batch, nopts, skip);
                    if flat_tx.send((seq, chunk, bad, unchanged)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(raw_rx);
        drop(flat_tx);
        // Job files are encoded (Arrow, Parquet, fsync) on their own thread, so this thread only
        // resolves chunks against the schema, which must happen in input order.
        let (job_tx, job_rx) = bounded::<(PathBuf, ResolvedTable)>(workers * 2);
        let job_opts = opts.job;
        let encoder = s.spawn(move || -> Result<u64> {
            let mut bytes = 0u64;
            for (path, table) in job_rx {
                bytes += harbor_parquet::write_job(&path, &table, job_opts)?;
                harbor_core::testhook::pause_point("normalize");
            }
            Ok(bytes)
        });

        // Resolve in input order.
        let mut pending: HashMap<u64, Parsed> = HashMap::new();
        let mut next = 0u64;
        let mut result: Result<()> = Ok(());
        for parsed in flat_rx.iter() {
            pending.insert(parsed.0, parsed);
            while let Some((_, chunk, bad, unchanged)) = pending.remove(&next) {
                next += 1;
                summary.unchanged += unchanged;
                if result.is_err() {
                    continue;
                }
                for (r, text) in &bad {
                    rejects.push(r.source.file, r.source.line, &r.reason, text.as_deref());
                }
                result = write_chunk(
                    chunk,
                    &job_tx,
                    writer,
                    schema,
                    opts,
                    load_id,
                    rejects,
                    &mut summary,
                );
                if result.is_err() {
                    break;
                }
            }
            if result.is_err() {
                break;
            }
        }
        drop(flat_rx);
        drop(job_tx);
        let records = reader.join().unwrap_or_else(|_| Ok(0));
        let encoded = encoder
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the job encoder thread panicked".into())));
        // An encoding error (e.g. a full disk) is the cause when the encoder stopped taking jobs.
        summary.package_bytes += encoded?;
        result?;
        summary.records = records?;
        Ok(())
    })?;
    summary.rejects = rejects.count();
    Ok(summary)
}

type Bad = Vec<(Reject, Option<Vec<u8>>)>;

/// Parses and flattens one batch; returns the chunk, the rejected records and how many records were
/// skipped as already stored.
fn parse_and_flatten(
    batch: Vec<RawRecord>,
    opts: &NormalizeOptions,
    skip: Option<&HashSet<u128>>,
) -> (FlatChunk, Bad, u64) {
    let mut chunk = FlatChunk::default();
    let mut bad = Vec::new();
    let mut unchanged = 0u64;
    for rec in batch {
        let bytes = match rec.payload {
            Payload::Value(v) => {
                chunk.add_record(v, rec.source, &opts.routing, &opts.flatten);
                continue;
            }
            Payload::Bytes(b) => b,
        };
        let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
        if skip.is_some_and(|s| s.contains(&hash)) {
            unchanged += 1;
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(mut v) => {
                tag_content_hash(&mut v, hash);
                let before = chunk.rejects.len();
                chunk.add_record(v, rec.source, &opts.routing, &opts.flatten);
                // A record the normalizer refuses (no primary key, unknown shape) keeps its text
                // in the rejects file, like a line that is not JSON.
                for r in chunk.rejects.drain(before..) {
                    bad.push((r, Some(bytes.clone())));
                }
            }
            Err(e) => bad.push((
                Reject {
                    source: rec.source,
                    reason: format!("invalid JSON: {e}"),
                },
                Some(bytes),
            )),
        }
    }
    (chunk, bad, unchanged)
}

/// Stores the record's content hash in its root row: a bare object or a single thing gets the
/// field; a Listing (many records in one line) does not.
fn tag_content_hash(v: &mut serde_json::Value, hash: u128) {
    let Some(obj) = v.as_object_mut() else { return };
    let target = match obj.get("kind").and_then(serde_json::Value::as_str) {
        None => Some(obj),
        Some(k) if k.len() == 2 && k.starts_with('t') => obj.get_mut("data").and_then(|d| d.as_object_mut()),
        Some(_) => None,
    };
    if let Some(m) = target {
        m.insert(
            C_CONTENT_HASH.to_owned(),
            serde_json::Value::String(format!("{hash:032x}")),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn write_chunk(
    chunk: FlatChunk,
    jobs: &crossbeam_channel::Sender<(PathBuf, ResolvedTable)>,
    writer: &mut PackageWriter,
    schema: &mut Schema,
    opts: &ExtractOptions,
    load_id: &str,
    rejects: &mut RejectSink,
    summary: &mut ExtractSummary,
) -> Result<()> {
    for r in &chunk.rejects {
        rejects.push(r.source.file, r.source.line, &r.reason, None);
    }
    summary.more_stubs += chunk.more_stubs;
    let tables = resolve(
        chunk,
        schema,
        &opts.normalize.resolve,
        load_id,
        &mut summary.resolve,
    )?;
    for t in tables {
        let path = writer.next_job_path(&t.name, "parquet");
        *summary.rows.entry(t.name.clone()).or_default() += t.rows as u64;
        if jobs.send((path, t)).is_err() {
            // The encoder stopped on an error; the caller reports it.
            return Err(Error::Internal("the job encoder stopped".into()));
        }
    }
    Ok(())
}
