//! Load packages: the on-disk hand-off between extract/normalize and load.
//!
//! A package is a directory `<store>/<load_id>/` holding `package.json` (schema snapshot, new state,
//! table plans) and job files that move `new/ -> started/ -> completed/` (or `failed/`) by atomic
//! renames. While extraction runs the directory is `<load_id>.extracting/`; it only gets its final
//! name, atomically, once every job file and the manifest are on disk. A crash before that leaves a
//! directory that is discarded; a crash after it leaves a package that the next run loads (or, if the
//! destination already committed it, finalizes).
//!
//! A package names the destination it was made for ([`PackageManifest::destination`], an identity
//! without credentials, see [`destination_identity`]): runs against another destination leave it
//! alone. Failed load attempts are counted in `attempts.json`; a package that failed too often with
//! the same error is moved to `<store>/failed/<load_id>/` ([`Package::set_aside`]), where runs no
//! longer pick it up until `harbor packages retry` moves it back.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::{Schema, WriteDisposition};
use crate::state::PipelineState;

mod failures;

pub use failures::{Attempt, Attempts, destination_identity};

const MANIFEST: &str = "package.json";
const ATTEMPTS: &str = "attempts.json";
const EXTRACTING: &str = ".extracting";
/// The store's directory of completed packages.
const COMPLETED_DIR: &str = "completed";
/// The store's directory of packages set aside after failing too often.
pub const FAILED_DIR: &str = "failed";

/// The states a job file moves through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Written, not yet loaded.
    New,
    /// Being loaded.
    Started,
    /// Committed by the destination.
    Completed,
    /// Could not be loaded.
    Failed,
}

impl JobState {
    fn dir(self) -> &'static str {
        match self {
            JobState::New => "new",
            JobState::Started => "started",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }
}

/// How one table of a package is loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePlan {
    /// Table name.
    pub name: String,
    /// Write disposition (of the root table, for child tables).
    pub disposition: WriteDisposition,
    /// Primary key column of a root table.
    pub primary_key: Option<String>,
    /// Parent table, for child tables.
    pub parent: Option<String>,
    /// Root table.
    pub root: String,
    /// Rows in this package.
    pub rows: u64,
}

/// The manifest of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageManifest {
    /// Unique, sortable id of this load.
    pub load_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// When extraction finished (RFC 3339).
    pub created_at: String,
    /// Schema after this package.
    pub schema: Schema,
    /// Pipeline state values to commit with the data (only the keys this package changes).
    pub state: PipelineState,
    /// Tables, parents before children.
    pub tables: Vec<TablePlan>,
    /// What was extracted, for humans.
    pub source: String,
    /// The destination the package was made for ([`destination_identity`]); `None` in packages
    /// written before harbor recorded it (those load into any destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl PackageManifest {
    /// Whether this package may be loaded into the destination with identity `identity`.
    pub fn belongs_to(&self, identity: &str) -> bool {
        self.destination.as_deref().is_none_or(|d| d == identity)
    }

    /// Rows of the package over all its tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// One job file.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Table the file holds rows of.
    pub table: String,
    /// Path of the file in its current state directory.
    pub path: PathBuf,
}

/// A directory of packages for one pipeline.
#[derive(Debug, Clone)]
pub struct PackageStore {
    root: PathBuf,
}

impl PackageStore {
    /// Opens (creating if needed) a package store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(Error::io(&root))?;
        Ok(Self { root })
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes packages whose extraction never finished. They hold nothing committed.
    pub fn discard_incomplete(&self) -> Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.root).map_err(Error::io(&self.root))? {
            let entry = entry.map_err(Error::io(&self.root))?;
            if entry.file_name().to_string_lossy().ends_with(EXTRACTING) {
                fs::remove_dir_all(entry.path()).map_err(Error::io(entry.path()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Starts a new package.
    pub fn begin(&self, load_id: &str) -> Result<PackageWriter> {
        let dir = self.root.join(format!("{load_id}{EXTRACTING}"));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(Error::io(&dir))?;
        }
        fs::create_dir_all(dir.join(JobState::New.dir())).map_err(Error::io(&dir))?;
        Ok(PackageWriter {
            dir,
            final_dir: self.root.join(load_id),
            seq: 0,
        })
    }

    /// Packages that were fully extracted but not yet finalized, oldest first.
    pub fn pending(&self) -> Result<Vec<Package>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(Error::io(&self.root))? {
            let entry = entry.map_err(Error::io(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(EXTRACTING)
                || name == COMPLETED_DIR
                || name == FAILED_DIR
                || !entry.path().is_dir()
            {
                continue;
            }
            out.push(Package::open(entry.path())?);
        }
        out.sort_by(|a, b| a.manifest.load_id.cmp(&b.manifest.load_id));
        Ok(out)
    }

    /// Packages set aside after failing too often, oldest first.
    pub fn failed(&self) -> Result<Vec<Package>> {
        let dir = self.root.join(FAILED_DIR);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io { path: dir, source: e }),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(Error::io(&dir))?;
            if entry.path().is_dir() {
                out.push(Package::open(entry.path())?);
            }
        }
        out.sort_by(|a, b| a.manifest.load_id.cmp(&b.manifest.load_id));
        Ok(out)
    }

    /// A pending or failed package by load id.
    pub fn find(&self, load_id: &str) -> Result<Option<Package>> {
        if load_id.is_empty() || load_id.contains(['/', '\\']) || load_id.starts_with('.') {
            return Ok(None);
        }
        for dir in [self.root.join(load_id), self.root.join(FAILED_DIR).join(load_id)] {
            if dir.join(MANIFEST).is_file() {
                return Package::open(dir).map(Some);
            }
        }
        Ok(None)
    }
}

/// Writes the job files of a package under extraction.
#[derive(Debug)]
pub struct PackageWriter {
    dir: PathBuf,
    final_dir: PathBuf,
    seq: u64,
}

impl PackageWriter {
    /// A fresh path for a job file of `table` with extension `ext`. Paths sort in creation order.
    pub fn next_job_path(&mut self, table: &str, ext: &str) -> PathBuf {
        self.seq += 1;
        self.dir
            .join(JobState::New.dir())
            .join(format!("{:08}.{table}.{ext}", self.seq))
    }

    /// Reserves `n` consecutive job sequence numbers, for writers that run in parallel.
    pub fn reserve(&mut self, n: u64) -> u64 {
        let first = self.seq + 1;
        self.seq += n;
        first
    }

    /// The path of job number `seq` (from [`PackageWriter::reserve`]).
    pub fn job_path(&self, seq: u64, table: &str, ext: &str) -> PathBuf {
        self.dir
            .join(JobState::New.dir())
            .join(format!("{seq:08}.{table}.{ext}"))
    }

    /// Writes the manifest and gives the package its final name, atomically.
    pub fn finish(self, manifest: PackageManifest) -> Result<Package> {
        let path = self.dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Package {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_durably(&path, &json)?;
        sync_dir(&self.dir.join(JobState::New.dir()))?;
        fs::rename(&self.dir, &self.final_dir).map_err(Error::io(&self.final_dir))?;
        if let Some(parent) = self.final_dir.parent() {
            sync_dir(parent)?;
        }
        Ok(Package {
            dir: self.final_dir,
            manifest,
        })
    }
}

/// A fully extracted package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: PackageManifest,
}

impl Package {
    /// Opens a package directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(Error::io(&path))?;
        let mut manifest: PackageManifest = serde_json::from_str(&text).map_err(|e| Error::Package {
            path: path.clone(),
            message: e.to_string(),
        })?;
        manifest.schema.reindex();
        Ok(Self { dir, manifest })
    }

    /// Job files in a state, in creation order.
    pub fn jobs(&self, state: JobState) -> Result<Vec<Job>> {
        let dir = self.dir.join(state.dir());
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::Io { path: dir, source: e }),
        };
        for entry in rd {
            let entry = entry.map_err(Error::io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut parts = name.splitn(3, '.');
            let (Some(_seq), Some(table)) = (parts.next(), parts.next()) else {
                continue;
            };
            out.push(Job {
                table: table.to_owned(),
                path: entry.path(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Moves every job from one state to another (atomic renames) and returns them in their new place.
    pub fn move_jobs(&self, from: JobState, to: JobState) -> Result<Vec<Job>> {
        let target = self.dir.join(to.dir());
        fs::create_dir_all(&target).map_err(Error::io(&target))?;
        let mut moved = Vec::new();
        for job in self.jobs(from)? {
            let Some(name) = job.path.file_name() else {
                continue;
            };
            let dest = target.join(name);
            fs::rename(&job.path, &dest).map_err(Error::io(&dest))?;
            moved.push(Job {
                table: job.table,
                path: dest,
            });
        }
        sync_dir(&target)?;
        Ok(moved)
    }

    /// Jobs to load: moves `new/` to `started/` and returns everything in `started/` (a replayed
    /// package may have jobs in both).
    pub fn start(&self) -> Result<Vec<Job>> {
        self.move_jobs(JobState::New, JobState::Started)?;
        self.jobs(JobState::Started)
    }

    /// After the destination committed: marks the jobs completed and retires the package. With
    /// `keep_data` false the job files are deleted and only the manifest is kept under `completed/`.
    pub fn finalize(self, keep_data: bool) -> Result<()> {
        self.move_jobs(JobState::Started, JobState::Completed)?;
        if !keep_data {
            let dir = self.dir.join(JobState::Completed.dir());
            fs::remove_dir_all(&dir).map_err(Error::io(&dir))?;
        }
        let Some(store) = self.dir.parent() else {
            return Ok(());
        };
        let done = store.join(COMPLETED_DIR);
        fs::create_dir_all(&done).map_err(Error::io(&done))?;
        let dest = done.join(&self.manifest.load_id);
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(Error::io(&dest))?;
        }
        fs::rename(&self.dir, &dest).map_err(Error::io(&dest))?;
        sync_dir(store)
    }

    /// Whether the package was set aside (lives under `failed/`).
    pub fn is_set_aside(&self) -> bool {
        self.dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == FAILED_DIR)
    }

    /// The recorded failed attempts (none when the file is missing).
    pub fn attempts(&self) -> Result<Attempts> {
        let path = self.dir.join(ATTEMPTS);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Package {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Attempts::default()),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    fn write_attempts(&self, attempts: &Attempts) -> Result<()> {
        let path = self.dir.join(ATTEMPTS);
        let tmp = self.dir.join(format!("{ATTEMPTS}.tmp"));
        let json = serde_json::to_vec_pretty(attempts).map_err(|e| Error::Package {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_durably(&tmp, &json)?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))?;
        sync_dir(&self.dir)
    }

    /// Records a failed load attempt and returns all attempts so far.
    pub fn record_failure(&self, error: &str, transient: bool) -> Result<Attempts> {
        let mut attempts = self.attempts()?;
        attempts.attempts.push(Attempt {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            error: error.to_owned(),
            transient,
        });
        self.write_attempts(&attempts)?;
        Ok(attempts)
    }

    /// Moves the package to the store's `failed/` area, where runs do not pick it up. Jobs go back
    /// to `new/` so that a retry starts from a clean package.
    pub fn set_aside(self) -> Result<Package> {
        self.move_jobs(JobState::Started, JobState::New)?;
        let mut attempts = self.attempts()?;
        attempts.set_aside_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.write_attempts(&attempts)?;
        let store = self.store_root();
        let failed = store.join(FAILED_DIR);
        fs::create_dir_all(&failed).map_err(Error::io(&failed))?;
        let dest = failed.join(&self.manifest.load_id);
        fs::rename(&self.dir, &dest).map_err(Error::io(&dest))?;
        sync_dir(&failed)?;
        sync_dir(&store)?;
        Ok(Package {
            dir: dest,
            manifest: self.manifest,
        })
    }

    /// Moves a set-aside package back to pending, keeping its attempt history but restarting the
    /// count (a retry is a new decision by a person).
    pub fn restore_pending(self) -> Result<Package> {
        if !self.is_set_aside() {
            return Ok(self);
        }
        let mut attempts = self.attempts()?;
        attempts.set_aside_at = None;
        // Earlier failures stay visible but no longer count toward the limit.
        attempts.counted_from = attempts.attempts.len();
        self.write_attempts(&attempts)?;
        let store = self.store_root();
        let dest = store.join(&self.manifest.load_id);
        fs::rename(&self.dir, &dest).map_err(Error::io(&dest))?;
        sync_dir(&store)?;
        Ok(Package {
            dir: dest,
            manifest: self.manifest,
        })
    }

    /// Deletes the package (pending or set aside) and its job files.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.dir).map_err(Error::io(&self.dir))?;
        if let Some(parent) = self.dir.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// The package store directory this package belongs to.
    fn store_root(&self) -> PathBuf {
        let parent = self.dir.parent().map(Path::to_path_buf).unwrap_or_default();
        if self.is_set_aside() {
            parent.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            parent
        }
    }

    /// Total size in bytes of the job files in a state.
    pub fn bytes(&self, state: JobState) -> u64 {
        self.jobs(state)
            .unwrap_or_default()
            .iter()
            .filter_map(|j| fs::metadata(&j.path).ok())
            .map(|m| m.len())
            .sum()
    }
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(Error::io(path))?;
    f.write_all(bytes).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))
}

/// Flushes a directory's entries (renames, new files) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let f = fs::File::open(dir).map_err(Error::io(dir))?;
    f.sync_all().map_err(Error::io(dir))
}

/// A new load id: UTC time to the microsecond, sortable.
pub fn new_load_id() -> String {
    chrono::Utc::now()
        .format("%Y%m%dT%H%M%S%.6fZ")
        .to_string()
        .replace('.', "")
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[test]
    fn old_manifests_without_destination_load_anywhere() {
        let m: PackageManifest = serde_json::from_value(serde_json::json!({
            "load_id": "1", "pipeline": "p", "created_at": "1", "schema": Schema::default(),
            "state": PipelineState::default(), "tables": [], "source": "files: a"
        }))
        .expect("an old manifest parses");
        assert!(m.belongs_to("duckdb:///x"));
        let m = PackageManifest {
            destination: Some("duckdb:///x".into()),
            ..m
        };
        assert!(m.belongs_to("duckdb:///x"));
        assert!(!m.belongs_to("postgres://h:5432/d?schema=public"));
    }
}
