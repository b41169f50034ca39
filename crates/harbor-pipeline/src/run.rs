//! A pipeline: its working directory, lock, package store and destination; recovery and packages.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use harbor_core::destination::{Destination, LoadReport};
use harbor_core::package::{
    Package, PackageManifest, PackageStore, TablePlan, destination_identity, new_load_id,
};
use harbor_core::state::PipelineState;
use harbor_core::testhook::pause_point;
use harbor_core::{Schema, WriteDisposition};

use crate::error::{Error, Result};
use crate::extract::ExtractSummary;

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

/// How often a package may fail with the same non-transient error before it is set aside.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// An open pipeline holding its lock.
pub struct Pipeline {
    opts: PipelineOptions,
    store: PackageStore,
    dest: Box<dyn Destination>,
    identity: String,
    max_attempts: u32,
    notices: PackageNotices,
    _lock: File,
}

/// The package store of a pipeline with the pipeline's lock held, without a destination (for
/// `harbor packages list|show|drop`).
pub struct LockedStore {
    /// The options, with an absolute working directory.
    pub opts: PipelineOptions,
    /// The package store.
    pub store: PackageStore,
    lock: File,
}

impl LockedStore {
    /// Takes the pipeline's lock and opens its package store, discarding half-written packages.
    pub fn open(opts: PipelineOptions) -> Result<Self> {
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
        Ok(Self { opts, store, lock })
    }
}

/// A package a run left alone or set aside.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PackageNotice {
    /// Load id.
    pub load_id: String,
    /// The destination it was made for.
    pub destination: Option<String>,
    /// Its last error, for failed packages.
    pub error: Option<String>,
    /// Failed attempts counted toward the limit.
    pub attempts: u32,
}

/// What recovery found besides the packages it loaded.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PackageNotices {
    /// Pending packages made for another destination, left alone.
    pub other_destination: Vec<PackageNotice>,
    /// Packages this run moved to `failed/` after their last allowed attempt.
    pub set_aside: Vec<PackageNotice>,
    /// Every package in `failed/` (including those set aside by this run).
    pub failed: Vec<PackageNotice>,
}

impl PackageNotices {
    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.other_destination.is_empty() && self.failed.is_empty()
    }
}

impl Pipeline {
    /// Opens the pipeline: takes its lock and discards half-written packages.
    pub fn open(opts: PipelineOptions, dest: Box<dyn Destination>) -> Result<Self> {
        let LockedStore { opts, store, lock } = LockedStore::open(opts)?;
        let identity = destination_identity(&dest.describe());
        Ok(Self {
            opts,
            store,
            dest,
            identity,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            notices: PackageNotices::default(),
            _lock: lock,
        })
    }

    /// Sets how often a package may fail with the same non-transient error before it is moved to
    /// the store's `failed/` area (at least 1).
    pub fn set_max_attempts(&mut self, n: u32) {
        self.max_attempts = n.max(1);
    }

    /// The identity of the destination, as packages record it.
    pub fn destination_identity(&self) -> &str {
        &self.identity
    }

    /// The package store.
    pub fn store(&self) -> &PackageStore {
        &self.store
    }

    /// Packages the last recovery left alone or set aside, and every failed package in the store.
    pub fn package_notices(&mut self) -> PackageNotices {
        self.notices.failed = self
            .store
            .failed()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let attempts = p.attempts().unwrap_or_default();
                PackageNotice {
                    load_id: p.manifest.load_id.clone(),
                    destination: p.manifest.destination.clone(),
                    error: attempts.last_error().map(str::to_owned),
                    attempts: attempts.same_error_streak(),
                }
            })
            .collect();
        self.notices.clone()
    }

    /// The destination.
    pub fn destination(&mut self) -> &mut dyn Destination {
        self.dest.as_mut()
    }

    /// `<workdir>/<name>`: the pipeline's lock, packages and rejects files.
    pub(crate) fn pipeline_dir(&self) -> PathBuf {
        self.opts.workdir.join(&self.opts.name)
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

    /// Loads (or finalizes, if already committed) packages left by interrupted or failed runs.
    ///
    /// Packages made for another destination are left alone (and listed in
    /// [`Pipeline::package_notices`]). A package that fails for the last allowed time is set aside
    /// and recovery goes on; one that fails before that stops the run (the next run tries again).
    pub fn recover(&mut self) -> Result<Vec<LoadReport>> {
        let mut out = Vec::new();
        self.notices.other_destination.clear();
        for p in self.store.pending()? {
            if !p.manifest.belongs_to(&self.identity) {
                let destination = p.manifest.destination.clone();
                tracing::warn!(
                    load_id = %p.manifest.load_id,
                    destination = destination.as_deref().unwrap_or("?"),
                    "Leaving a package made for another destination alone"
                );
                self.notices.other_destination.push(PackageNotice {
                    load_id: p.manifest.load_id.clone(),
                    destination,
                    error: None,
                    attempts: 0,
                });
                continue;
            }
            tracing::info!(load_id = %p.manifest.load_id, "Replaying package left by an interrupted run");
            match self.load_package(p) {
                Ok(report) => out.push(report),
                Err(Error::PackageFailed { set_aside: true, .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `harbor packages retry`: moves a set-aside (or pending) package back to pending, restarts its
    /// attempt count and loads it now. Refuses a package made for another destination.
    pub fn retry_package(&mut self, load_id: &str) -> Result<LoadReport> {
        let Some(p) = self.store.find(load_id)? else {
            return Err(Error::NoSuchPackage {
                load_id: load_id.to_owned(),
                store: self.store.root().to_path_buf(),
            });
        };
        if !p.manifest.belongs_to(&self.identity) {
            return Err(Error::OtherDestination {
                load_id: load_id.to_owned(),
                made_for: p.manifest.destination.clone().unwrap_or_default(),
                this: self.identity.clone(),
            });
        }
        let p = if p.is_set_aside() { p.restore_pending()? } else { p };
        self.load_package(p)
    }

    /// Loads one package in one destination transaction, then retires it. A destination error is
    /// counted in the package's `attempts.json`; when the same non-transient error reached the limit
    /// the package is set aside. Either way the error names the package and its attempts.
    pub fn load_package(&mut self, package: Package) -> Result<LoadReport> {
        package.start()?;
        let report = match self.dest.load(&package) {
            Ok(r) => r,
            Err(e) => return Err(self.package_failed(package, e)),
        };
        pause_point("finalize");
        package.finalize(self.opts.keep_packages)?;
        Ok(report)
    }

    fn package_failed(&mut self, package: Package, e: harbor_core::destination::DestinationError) -> Error {
        let transient = e.transient;
        let err = self.dest_err(e);
        let text = error_text(&err);
        let load_id = package.manifest.load_id.clone();
        let attempts = match package.record_failure(&text, transient) {
            Ok(a) => a,
            Err(io) => {
                tracing::warn!(error = %io, "Cannot record the failed attempt of package {load_id}");
                return err;
            }
        };
        let streak = attempts.same_error_streak();
        let set_aside = !transient && streak >= self.max_attempts;
        if set_aside {
            let destination = package.manifest.destination.clone();
            match package.set_aside() {
                Ok(_) => {
                    tracing::warn!(load_id = %load_id, attempts = streak, "Package set aside after failing too often");
                    self.notices.set_aside.push(PackageNotice {
                        load_id: load_id.clone(),
                        destination,
                        error: Some(text),
                        attempts: streak,
                    });
                }
                Err(io) => {
                    tracing::warn!(error = %io, "Cannot set package {load_id} aside");
                    return err;
                }
            }
        }
        Error::PackageFailed {
            load_id,
            attempts: streak,
            max_attempts: self.max_attempts,
            transient,
            set_aside,
            source: Box::new(err),
        }
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
        let mut schema = self.schema()?;
        self.builder().build(&mut schema, source, disposition, false, f)
    }

    /// What it takes to write this pipeline's packages, for another thread.
    pub(crate) fn builder(&self) -> PackageBuilder {
        PackageBuilder {
            store: self.store.clone(),
            pipeline: self.opts.name.clone(),
            identity: self.identity.clone(),
        }
    }
}

/// Writes packages of one pipeline into its store; owned, so a thread can build the next package
/// while the destination loads the last one.
#[derive(Debug, Clone)]
pub(crate) struct PackageBuilder {
    store: PackageStore,
    pipeline: String,
    identity: String,
}

impl PackageBuilder {
    /// Writes one complete package: `f` fills it and grows `schema`; the manifest gets the schema,
    /// the state `f` returns and a plan per table with rows. A `continuation` (a package after the
    /// first of a run split into several) appends where the run's disposition says replace, so a
    /// later part does not wipe the rows of the earlier ones.
    pub(crate) fn build<F>(
        &self,
        schema: &mut Schema,
        source: &str,
        disposition: Option<WriteDisposition>,
        continuation: bool,
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
        let mut writer = self.store.begin(&load_id)?;
        let (summary, state) = f(&mut writer, schema, &load_id)?;
        let tables = plans(schema, &summary.rows, disposition, continuation)?;
        let manifest = PackageManifest {
            load_id,
            pipeline: self.pipeline.clone(),
            created_at: chrono_now(),
            schema: schema.clone(),
            state,
            tables,
            source: source.to_owned(),
            destination: Some(self.identity.clone()),
        };
        let package = writer.finish(manifest)?;
        pause_point("package");
        Ok((package, summary))
    }
}

/// Table plans for the tables that got rows, parents before children.
fn plans(
    schema: &Schema,
    rows: &BTreeMap<String, u64>,
    disposition: Option<WriteDisposition>,
    continuation: bool,
) -> Result<Vec<TablePlan>> {
    let mut out = Vec::new();
    for (name, n) in rows {
        let Some(t) = schema.tables.get(name) else {
            continue;
        };
        let root = schema.tables.get(&t.root).unwrap_or(t);
        let d = match disposition.unwrap_or(root.disposition) {
            WriteDisposition::Replace if continuation => WriteDisposition::Append,
            d => d,
        };
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

/// An error and its causes on one line, each cause once (a cause whose text the line already holds
/// is left out).
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let part = s.to_string();
        // A short generic wrapper (`db error`, `io error`) whose source carries the detail.
        let generic = part.len() < 12 && s.source().is_some();
        if !generic && !is_repeated(&text, &part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        src = s.source();
    }
    text
}

/// Whether the text of a cause says nothing `printed` does not already say: it is empty or only an
/// error code, or its
/// first line, or that line without leading `prefix: ` parts (drivers wrap the same message as
/// `db error: ERROR: message`), is already in `printed`. The rest of such a cause (a driver's
/// `DETAIL:` line with the failing row's data) is dropped with it.
pub fn is_repeated(printed: &str, cause: &str) -> bool {
    let first = cause.lines().next().unwrap_or("").trim();
    // Empty, or a code without a message (DuckDB's `Error code 1: Unknown error code` under its
    // real message).
    if first.is_empty() || first.ends_with("Unknown error code") {
        return true;
    }
    let mut rest = first;
    loop {
        if rest.len() >= 12 && printed.contains(rest) || rest == first && printed.contains(first) {
            return true;
        }
        match rest.split_once(": ") {
            Some((_, tail)) => rest = tail,
            None => return false,
        }
    }
}

pub(crate) fn mtime(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn describe_inputs(files: &[PathBuf]) -> String {
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

#[cfg(test)]
mod tests {
    use super::is_repeated;

    #[test]
    fn repeated_causes_are_recognized_through_driver_prefixes() {
        let printed = "merge failed: new row violates check constraint \"no_b\" (23514)";
        assert!(is_repeated(
            printed,
            "db error: ERROR: new row violates check constraint \"no_b\"\nDETAIL: row"
        ));
        assert!(is_repeated(printed, "merge failed"));
        assert!(is_repeated(printed, ""));
        assert!(is_repeated(printed, "Error code 1: Unknown error code"));
        assert!(!is_repeated(printed, "connection reset by peer"));
        assert!(
            !is_repeated(printed, "io: x"),
            "short tails do not count as repeats"
        );
    }
}
