//! The Parquet destination (`parquet:///dir`): one file per table per load, and a manifest.
//!
//! Layout of `dir`:
//! - `<table>/<load_id>.parquet`: the rows one load wrote to a table, with every column of the table
//!   schema at that load (older files simply lack newer columns; readers union them by name);
//! - `_harbor_manifest.json`: committed loads, each table's live files in load order, its write
//!   disposition and primary key, the pipeline state and schema versions ([`crate::manifest`]);
//! - `_harbor_views.sql`: DuckDB views that apply merge ([`crate::views`]);
//! - `_harbor.lock`: held while a load runs, so two processes never commit at once.
//!
//! A load writes its files under `_staging/<load_id>/`, commits by replacing the manifest atomically,
//! then moves the files into place and deletes files a `replace` made obsolete. A crash before the
//! manifest rename leaves only staging files (discarded by the next load); a crash after it is
//! completed by the next load or open. Merge semantics: within a load the last row per key is kept;
//! across loads the row of the latest load wins, and a merged root's child rows are the ones written
//! with it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::compute::concat_batches;
use harbor_core::destination::{Destination, DestinationError, LoadRecord, LoadReport};
use harbor_core::package::{Job, JobState, Package};
use harbor_core::schema::C_ID;
use harbor_core::state::PipelineState;
use harbor_core::{Schema, WriteDisposition};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::manifest::{LoadEntry, Manifest, SchemaEntry, StateEntry, TableEntry, sync_dir};
use crate::read::{arrow_schema, dedupe, live_content_hashes, read_file, read_table};
use crate::views::views_sql;
use crate::{Error, Result};

const STAGING: &str = "_staging";
const LOCK: &str = "_harbor.lock";
const VIEWS: &str = "_harbor_views.sql";

/// A directory of Parquet files used as a destination.
pub struct ParquetDestination {
    dir: PathBuf,
}

fn derr(context: &str) -> impl FnOnce(Error) -> DestinationError + '_ {
    move |e| {
        let mut d = DestinationError::new(format!("{context}: {}", chain(&e)));
        if let Error::Io { source, .. } = &e
            && (source.raw_os_error() == Some(28) || source.kind() == std::io::ErrorKind::StorageFull)
        {
            d = d.hint("the disk is full: free space (nothing of this load was committed) and run again");
        }
        d.source(e)
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

impl ParquetDestination {
    /// Opens (creating if needed) a destination directory and completes a load that committed but
    /// was interrupted before its files were in place.
    pub fn open(dir: impl AsRef<Path>) -> std::result::Result<Self, DestinationError> {
        let dir = std::path::absolute(dir.as_ref()).map_err(|e| {
            DestinationError::new(format!("invalid directory {}", dir.as_ref().display())).source(e)
        })?;
        fs::create_dir_all(&dir).map_err(|e| {
            DestinationError::new(format!("cannot create directory {}", dir.display()))
                .hint("check the path and its permissions")
                .source(e)
        })?;
        let d = Self { dir };
        let _lock = d.lock().map_err(derr("cannot lock the parquet destination"))?;
        let m = d.manifest_r()?;
        d.settle(&m).map_err(derr("cannot finish an interrupted load"))?;
        Ok(d)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> Result<File> {
        let p = self.dir.join(LOCK);
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        f.lock().map_err(io(&p))?;
        Ok(f)
    }

    fn manifest_r(&self) -> std::result::Result<Manifest, DestinationError> {
        Manifest::read(&self.dir).map_err(derr("cannot read the manifest"))
    }

    /// The committed manifest.
    pub fn manifest(&self) -> std::result::Result<Manifest, DestinationError> {
        self.manifest_r()
    }

    /// Makes the directory match the manifest: staged files of committed loads move into place,
    /// staged files of uncommitted loads and files no longer live are deleted. Runs under the lock.
    fn settle(&self, m: &Manifest) -> Result<()> {
        let staging = self.dir.join(STAGING);
        for (name, t) in &m.tables {
            for f in &t.files {
                let target = self.dir.join(f);
                if target.exists() {
                    continue;
                }
                let load = target
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let staged = staging.join(&load).join(format!("{name}.parquet"));
                if staged.exists() {
                    let parent = self.dir.join(name);
                    fs::create_dir_all(&parent).map_err(io(&parent))?;
                    fs::rename(&staged, &target).map_err(io(&target))?;
                    sync_dir(&parent)?;
                }
            }
            let tdir = self.dir.join(name);
            if let Ok(rd) = fs::read_dir(&tdir) {
                for entry in rd.flatten() {
                    let rel = format!("{name}/{}", entry.file_name().to_string_lossy());
                    if !t.files.contains(&rel) {
                        fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
                    }
                }
            }
        }
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        let views = self.dir.join(VIEWS);
        fs::write(&views, views_sql(&self.dir, m)).map_err(io(&views))?;
        Ok(())
    }

    /// Writes one table's rows of a package to a staging file and returns the rows written.
    fn stage_table(&self, load_id: &str, table: &harbor_core::TableSchema, jobs: &[&Job]) -> Result<u64> {
        let schema = arrow_schema(&table.columns);
        let mut batches = Vec::new();
        for j in jobs {
            batches.extend(read_file(&j.path, &schema)?);
        }
        if table.disposition == WriteDisposition::Merge {
            let key = match &table.parent {
                None => table.primary_key.clone().unwrap_or_else(|| C_ID.to_owned()),
                Some(_) => C_ID.to_owned(),
            };
            batches = dedupe(batches, &key, &table.name)?;
        }
        let batch = concat_batches(&schema, &batches).map_err(|source| Error::Arrow {
            table: table.name.clone(),
            source,
        })?;
        let dir = self.dir.join(STAGING).join(load_id);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{}.parquet", table.name));
        let file = File::create(&path).map_err(io(&path))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let pq = |source| Error::Parquet {
            path: path.clone(),
            source,
        };
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq)?;
        w.write(&batch).map_err(pq)?;
        let file = w.into_inner().map_err(pq)?;
        file.sync_all().map_err(io(&path))?;
        Ok(batch.num_rows() as u64)
    }

    fn load_locked(&mut self, package: &Package) -> std::result::Result<LoadReport, DestinationError> {
        let pm = &package.manifest;
        let mut m = self.manifest_r()?;
        self.settle(&m)
            .map_err(derr("cannot finish an interrupted load"))?;
        if m.has_load(&pm.load_id) {
            return Ok(LoadReport {
                load_id: pm.load_id.clone(),
                already_loaded: true,
                ..Default::default()
            });
        }
        let jobs = package
            .jobs(JobState::Started)
            .map_err(|e| DestinationError::new(format!("cannot list jobs of package {}: {e}", pm.load_id)))?;
        let stored = m
            .schema(&pm.pipeline)
            .map_err(derr("cannot read the stored schema"))?;
        let changes = pm.schema.diff_from(&stored);
        let mut full = stored.clone();
        full.merge(&pm.schema);
        let mut report = LoadReport {
            load_id: pm.load_id.clone(),
            schema_changes: changes.iter().map(describe_change).collect(),
            ..Default::default()
        };
        let mut cleared: Vec<String> = Vec::new();
        let mut per_table = BTreeMap::new();
        let mut total = 0;
        for plan in &pm.tables {
            let table_jobs: Vec<&Job> = jobs.iter().filter(|j| j.table == plan.name).collect();
            if table_jobs.is_empty() {
                continue;
            }
            let Some(ts) = full.tables.get(&plan.name) else {
                return Err(DestinationError::new(format!(
                    "table `{}` of load {} is not in its schema",
                    plan.name, pm.load_id
                )));
            };
            let n = self
                .stage_table(&pm.load_id, ts, &table_jobs)
                .map_err(derr(&format!("cannot write table `{}`", plan.name)))?;
            let mut t = ts.clone();
            t.disposition = plan.disposition;
            if plan.disposition == WriteDisposition::Replace
                && plan.parent.is_none()
                && !cleared.contains(&plan.name)
            {
                for e in m.tables.values_mut().filter(|e| e.root == plan.name) {
                    e.files.clear();
                }
                cleared.push(plan.name.clone());
            }
            let entry = m.tables.entry(plan.name.clone()).or_insert_with(|| TableEntry {
                pipeline: pm.pipeline.clone(),
                disposition: plan.disposition,
                primary_key: plan.primary_key.clone(),
                parent: plan.parent.clone(),
                root: plan.root.clone(),
                files: Vec::new(),
            });
            entry.pipeline = pm.pipeline.clone();
            entry.disposition = plan.disposition;
            entry.files.push(format!("{}/{}.parquet", plan.name, pm.load_id));
            per_table.insert(plan.name.clone(), n);
            report.rows.push((plan.name.clone(), n));
            total += n;
        }
        let at = now();
        m.loads.push(LoadEntry {
            load_id: pm.load_id.clone(),
            pipeline: pm.pipeline.clone(),
            status: "completed".into(),
            inserted_at: at.clone(),
            rows: total,
            schema_version: full.version,
            source: pm.source.clone(),
            tables: per_table,
        });
        let state = m.state.entry(pm.pipeline.clone()).or_default();
        for (k, v) in &pm.state.values {
            state.insert(
                k.clone(),
                StateEntry {
                    value: v.clone(),
                    load_id: pm.load_id.clone(),
                    updated_at: at.clone(),
                },
            );
        }
        if !changes.is_empty() || stored.tables.is_empty() {
            m.schemas.push(SchemaEntry {
                pipeline: pm.pipeline.clone(),
                version: full.version,
                load_id: pm.load_id.clone(),
                inserted_at: at,
                schema: serde_json::from_str(&full.to_json()).unwrap_or_default(),
            });
        }
        m.write(&self.dir, || harbor_core::testhook::pause_point("commit"))
            .map_err(derr(&format!("commit of load {} failed", pm.load_id)))?;
        // Committed: the rest only moves files into place, and is redone by the next open if cut short.
        if let Err(e) = self.settle(&m) {
            tracing::warn!(error = %chain(&e), "Load committed; moving its files into place failed, the next run finishes it");
        }
        Ok(report)
    }
}

fn describe_change(change: &harbor_core::SchemaChange) -> String {
    use harbor_core::SchemaChange;
    match change {
        SchemaChange::CreateTable(t) => format!("created table {} ({} columns)", t.name, t.columns.len()),
        SchemaChange::AddColumn { table, column } => {
            format!("added column {table}.{} {}", column.name, column.data_type)
        }
        SchemaChange::RetypeColumn { table, column } => {
            format!("typed column {table}.{} as {}", column.name, column.data_type)
        }
    }
}

impl Destination for ParquetDestination {
    fn describe(&self) -> String {
        format!("parquet://{}", self.dir.display())
    }

    fn stored_schema(&mut self, pipeline: &str) -> std::result::Result<Schema, DestinationError> {
        self.manifest_r()?
            .schema(pipeline)
            .map_err(derr("cannot read the stored schema"))
    }

    fn stored_state(&mut self, pipeline: &str) -> std::result::Result<PipelineState, DestinationError> {
        let m = self.manifest_r()?;
        let mut s = PipelineState::default();
        for (k, v) in m.state.get(pipeline).into_iter().flatten() {
            s.set(k.clone(), v.value.clone());
        }
        Ok(s)
    }

    fn is_loaded(&mut self, load_id: &str) -> std::result::Result<bool, DestinationError> {
        Ok(self.manifest_r()?.has_load(load_id))
    }

    fn load(&mut self, package: &Package) -> std::result::Result<LoadReport, DestinationError> {
        let _lock = self.lock().map_err(derr("cannot lock the parquet destination"))?;
        let r = self.load_locked(package);
        if r.is_err() {
            // Nothing was committed: drop this load's staging files.
            let _ = fs::remove_dir_all(self.dir.join(STAGING).join(&package.manifest.load_id));
        }
        r
    }

    fn loads(
        &mut self,
        pipeline: Option<&str>,
        limit: usize,
    ) -> std::result::Result<Vec<LoadRecord>, DestinationError> {
        let m = self.manifest_r()?;
        Ok(m.loads
            .iter()
            .rev()
            .filter(|l| pipeline.is_none_or(|p| p == l.pipeline))
            .take(limit)
            .map(|l| LoadRecord {
                load_id: l.load_id.clone(),
                pipeline: l.pipeline.clone(),
                inserted_at: l.inserted_at.clone(),
                rows: l.rows,
                schema_version: l.schema_version,
                source: l.source.clone(),
            })
            .collect())
    }

    fn content_hashes(
        &mut self,
        schema: &Schema,
    ) -> std::result::Result<std::collections::HashSet<u128>, DestinationError> {
        let m = self.manifest_r()?;
        let mut out = std::collections::HashSet::new();
        for t in schema.tables.values() {
            if t.parent.is_some() || t.disposition != WriteDisposition::Merge {
                continue;
            }
            let hashes = live_content_hashes(&self.dir, &m, &t.name)
                .map_err(derr(&format!("cannot read content hashes of `{}`", t.name)))?;
            out.extend(hashes.iter().filter_map(|h| u128::from_str_radix(h, 16).ok()));
        }
        Ok(out)
    }

    fn table_counts(&mut self) -> std::result::Result<Vec<(String, u64)>, DestinationError> {
        let m = self.manifest_r()?;
        let mut out = Vec::new();
        for name in m.tables.keys() {
            let (_, batches) =
                read_table(&self.dir, &m, name).map_err(derr(&format!("cannot read table `{name}`")))?;
            out.push((name.clone(), batches.iter().map(|b| b.num_rows() as u64).sum()));
        }
        Ok(out)
    }

    fn export_table(
        &mut self,
        table: &str,
        filter: Option<&str>,
        out: &Path,
    ) -> std::result::Result<u64, DestinationError> {
        if filter.is_some() {
            return Err(DestinationError::new(format!(
                "{} cannot filter rows with --where",
                self.describe()
            ))
            .hint(
                "read the files with DuckDB (`.read _harbor_views.sql`) to filter, or export without --where",
            ));
        }
        let m = self.manifest_r()?;
        let ctx = format!("cannot export table `{table}`");
        let (schema, batches) = read_table(&self.dir, &m, table).map_err(derr(&ctx))?;
        let write = || -> Result<u64> {
            let file = File::create(out).map_err(io(out))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let pq = |source| Error::Parquet {
                path: out.to_owned(),
                source,
            };
            let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq)?;
            let mut n = 0;
            for b in &batches {
                n += b.num_rows() as u64;
                w.write(b).map_err(pq)?;
            }
            w.close().map_err(pq)?;
            Ok(n)
        };
        write().map_err(derr(&ctx))
    }
}
