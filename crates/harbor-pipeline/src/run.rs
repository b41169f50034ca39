//! A pipeline: its working directory, lock, package store and destination, and the load-files run.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use harbor_core::destination::{Destination, LoadReport};
use harbor_core::package::{Package, PackageManifest, PackageStore, TablePlan, new_load_id};
use harbor_core::state::PipelineState;
use harbor_core::testhook::pause_point;
use harbor_core::{Schema, WriteDisposition};
use serde_json::json;

use crate::error::{Error, Result};
use crate::extract::{ExtractOptions, ExtractSummary, extract};
use crate::input::canonical;
use crate::rejects::RejectSink;

/// Where and how a pipeline runs.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Pipeline name (state, schema and loads are kept per pipeline).
    pub name: String,
    /// Working directory; packages live in `<workdir>/<name>/packages`.
    pub workdir: PathBuf,
    /// Keep job files of completed packages (for debugging).
    pub keep_packages: bool,
    /// Wait for another run of the same pipeline instead of failing.
    pub wait_for_lock: bool,
}

/// An open pipeline holding its lock.
pub struct Pipeline {
    opts: PipelineOptions,
    store: PackageStore,
    dest: Box<dyn Destination>,
    _lock: File,
}

/// Options of one `load` run.
#[derive(Debug, Clone, Default)]
pub struct LoadFilesOptions {
    /// Extraction and normalization.
    pub extract: ExtractOptions,
    /// Overrides the write disposition of the root tables in this run.
    pub disposition: Option<WriteDisposition>,
    /// Load files again even if the state says they were loaded.
    pub force: bool,
}

/// What one run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Extraction.
    pub extract: ExtractSummary,
    /// The destination's report, if a package was loaded.
    pub load: Option<LoadReport>,
    /// Packages left by an earlier, interrupted run and loaded first.
    pub recovered: Vec<LoadReport>,
    /// Inputs skipped because they were loaded before.
    pub skipped: Vec<PathBuf>,
    /// The rejects file, if any record was rejected.
    pub rejects_path: Option<PathBuf>,
    /// Seconds spent extracting+normalizing and loading.
    pub seconds: (f64, f64),
}

impl Pipeline {
    /// Opens the pipeline: takes its lock and discards half-written packages.
    pub fn open(opts: PipelineOptions, dest: Box<dyn Destination>) -> Result<Self> {
        let mut opts = opts;
        // Absolute, so paths in summaries (the rejects file) stay valid from any directory.
        opts.workdir = std::path::absolute(&opts.workdir).map_err(|source| Error::Workdir {
            path: opts.workdir.clone(),
            source,
        })?;
        let dir = opts.workdir.join(&opts.name);
        let wd = |source| Error::Workdir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(wd)?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(wd)?;
        if opts.wait_for_lock {
            lock.lock().map_err(wd)?;
        } else if lock.try_lock().is_err() {
            return Err(Error::Locked {
                pipeline: opts.name.clone(),
                path: lock_path,
            });
        }
        let store = PackageStore::open(dir.join("packages"))?;
        store.discard_incomplete()?;
        Ok(Self {
            opts,
            store,
            dest,
            _lock: lock,
        })
    }

    /// The destination.
    pub fn destination(&mut self) -> &mut dyn Destination {
        self.dest.as_mut()
    }

    /// Pipeline name.
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    fn dest_err(&self, source: harbor_core::destination::DestinationError) -> Error {
        Error::Destination {
            destination: self.dest.describe(),
            source,
        }
    }

    /// The stored schema.
    pub fn schema(&mut self) -> Result<Schema> {
        let name = self.opts.name.clone();
        self.dest.stored_schema(&name).map_err(|e| self.dest_err(e))
    }

    /// The committed state.
    pub fn state(&mut self) -> Result<PipelineState> {
        let name = self.opts.name.clone();
        self.dest.stored_state(&name).map_err(|e| self.dest_err(e))
    }

    /// Content hashes of the records already stored in merge tables, for
    /// [`ExtractOptions::skip_hashes`](crate::ExtractOptions): records identical to stored ones are
    /// skipped before parsing. `None` when nothing is stored or the destination cannot tell.
    pub fn known_content(&mut self) -> Result<Option<Arc<std::collections::HashSet<u128>>>> {
        let schema = self.schema()?;
        let known = self.dest.content_hashes(&schema).map_err(|e| self.dest_err(e))?;
        Ok((!known.is_empty()).then(|| Arc::new(known)))
    }

    /// Loads (or finalizes, if already committed) packages left by interrupted runs.
    pub fn recover(&mut self) -> Result<Vec<LoadReport>> {
        let mut out = Vec::new();
        for p in self.store.pending()? {
            tracing::info!(load_id = %p.manifest.load_id, "Replaying package left by an interrupted run");
            out.push(self.load_package(p)?);
        }
        Ok(out)
    }

    /// Loads one package in one destination transaction, then retires it.
    pub fn load_package(&mut self, package: Package) -> Result<LoadReport> {
        package.start()?;
        let report = self.dest.load(&package).map_err(|e| self.dest_err(e))?;
        pause_point("finalize");
        package.finalize(self.opts.keep_packages)?;
        Ok(report)
    }

    /// Writes a package from already normalized input: the common tail of every source. `extract` is
    /// called with the writer and the schema; it returns the summary and the state changes to commit.
    pub fn build_package<F>(
        &mut self,
        source: &str,
        disposition: Option<WriteDisposition>,
        f: F,
    ) -> Result<(Package, ExtractSummary)>
    where
        F: FnOnce(
            &mut harbor_core::package::PackageWriter,
            &mut Schema,
            &str,
        ) -> Result<(ExtractSummary, PipelineState)>,
    {
        let load_id = new_load_id();
        let mut schema = self.schema()?;
        let mut writer = self.store.begin(&load_id)?;
        let (summary, state) = f(&mut writer, &mut schema, &load_id)?;
        let tables = plans(&schema, &summary.rows, disposition)?;
        let manifest = PackageManifest {
            load_id,
            pipeline: self.opts.name.clone(),
            created_at: chrono_now(),
            schema,
            state,
            tables,
            source: source.to_owned(),
        };
        let package = writer.finish(manifest)?;
        pause_point("package");
        Ok((package, summary))
    }

    /// `harbor load`: files in, one package, one transaction.
    pub fn load_files(
        &mut self,
        files: &[PathBuf],
        opts: &LoadFilesOptions,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<RunSummary> {
        let mut run = RunSummary {
            recovered: self.recover()?,
            ..Default::default()
        };
        let state = self.state()?;
        let mut todo = Vec::new();
        let mut new_state = PipelineState::default();
        for f in files {
            let meta = std::fs::metadata(f).map_err(|source| Error::Input {
                path: f.clone(),
                source,
            })?;
            let key = format!("file:{}", canonical(f).display());
            let fingerprint = json!({"size": meta.len(), "mtime": mtime(&meta)});
            if !opts.force && state.get(&key) == Some(&fingerprint) {
                run.skipped.push(f.clone());
                continue;
            }
            new_state.set(key, fingerprint);
            todo.push(f.clone());
        }
        if todo.is_empty() {
            return Ok(run);
        }
        let t0 = Instant::now();
        let mut extract_opts = opts.extract.clone();
        if matches!(opts.disposition, None | Some(WriteDisposition::Merge))
            && extract_opts.skip_hashes.is_none()
        {
            extract_opts.skip_hashes = self.known_content()?;
        }
        let rejects_dir = self.opts.workdir.join(&self.opts.name).join("rejects");
        let source = describe_inputs(&todo);
        let mut rejects_path = None;
        let (package, summary) =
            self.build_package(&source, opts.disposition, |writer, schema, load_id| {
                let mut rejects =
                    RejectSink::new(rejects_dir.join(format!("{load_id}.ndjson")), todo.clone());
                let summary = extract(
                    &todo,
                    writer,
                    schema,
                    &extract_opts,
                    load_id,
                    &mut rejects,
                    bytes_read,
                )?;
                rejects_path = rejects.finish().map(Path::to_path_buf);
                pause_point("extract");
                Ok((summary, new_state))
            })?;
        let t1 = Instant::now();
        run.load = Some(self.load_package(package)?);
        run.extract = summary;
        run.rejects_path = rejects_path;
        run.seconds = ((t1 - t0).as_secs_f64(), t1.elapsed().as_secs_f64());
        Ok(run)
    }
}

/// Table plans for the tables that got rows, parents before children.
fn plans(
    schema: &Schema,
    rows: &BTreeMap<String, u64>,
    disposition: Option<WriteDisposition>,
) -> Result<Vec<TablePlan>> {
    let mut out = Vec::new();
    for (name, n) in rows {
        let Some(t) = schema.tables.get(name) else {
            continue;
        };
        let root = schema.tables.get(&t.root).unwrap_or(t);
        let d = disposition.unwrap_or(root.disposition);
        if d == WriteDisposition::Merge && root.primary_key.is_none() {
            return Err(Error::Core(harbor_core::Error::Package {
                path: PathBuf::new(),
                message: format!(
                    "table `{}` has no primary key, so it cannot be merged; use --disposition append or set \
                     [tables.{}] primary_key in harbor.toml",
                    root.name, root.name
                ),
            }));
        }
        out.push(TablePlan {
            name: name.clone(),
            disposition: d,
            primary_key: root.primary_key.clone(),
            parent: t.parent.clone(),
            root: t.root.clone(),
            rows: *n,
        });
    }
    out.sort_by_key(|p| (p.name.matches("__").count(), p.name.clone()));
    Ok(out)
}

fn mtime(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn describe_inputs(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().take(5).map(|f| f.display().to_string()).collect();
    let more = files.len().saturating_sub(5);
    if more > 0 {
        format!("files: {} (+{more} more)", names.join(", "))
    } else {
        format!("files: {}", names.join(", "))
    }
}

fn chrono_now() -> String {
    harbor_core::package::new_load_id()
}
