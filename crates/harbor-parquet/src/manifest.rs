//! `_harbor_manifest.json`: the commit record of a Parquet destination directory.
//!
//! The manifest lists every committed load, the live files of every table (in load order), the
//! pipeline state and the schema versions. A load commits by replacing the manifest atomically
//! (write a temporary file, fsync, rename, fsync the directory): a reader sees the old or the new
//! manifest, never a mix.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use harbor_core::WriteDisposition;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// File name of the manifest in the destination directory.
pub const MANIFEST: &str = "_harbor_manifest.json";

/// The whole manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub format: u32,
    /// Committed loads, oldest first.
    pub loads: Vec<LoadEntry>,
    /// Data tables by name.
    pub tables: BTreeMap<String, TableEntry>,
    /// State by pipeline, then key.
    pub state: BTreeMap<String, BTreeMap<String, StateEntry>>,
    /// Schema versions, oldest first.
    pub schemas: Vec<SchemaEntry>,
}

/// One committed load (the `_harbor_loads` row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadEntry {
    /// Load id.
    pub load_id: String,
    /// Pipeline.
    pub pipeline: String,
    /// Always `completed`.
    pub status: String,
    /// Commit time (RFC 3339, UTC).
    pub inserted_at: String,
    /// Rows written.
    pub rows: u64,
    /// Schema version after the load.
    pub schema_version: u64,
    /// What was extracted.
    pub source: String,
    /// Rows written per table.
    pub tables: BTreeMap<String, u64>,
}

/// One data table: how to read it and its live files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    /// Pipeline whose schema describes the table.
    pub pipeline: String,
    /// Write disposition.
    pub disposition: WriteDisposition,
    /// Primary key of a root table: with `merge`, the latest row per key wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    /// Parent table of a child table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Root table.
    pub root: String,
    /// Live files relative to the directory, oldest load first.
    pub files: Vec<String>,
}

/// One state value (the `_harbor_state` row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateEntry {
    /// The value.
    pub value: Value,
    /// The load that wrote it.
    pub load_id: String,
    /// When (RFC 3339, UTC).
    pub updated_at: String,
}

/// One schema version (the `_harbor_schema` row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaEntry {
    /// Pipeline.
    pub pipeline: String,
    /// Version.
    pub version: u64,
    /// The load that introduced it.
    pub load_id: String,
    /// When (RFC 3339, UTC).
    pub inserted_at: String,
    /// The schema (the JSON form of `harbor_core::Schema`).
    pub schema: Value,
}

impl Manifest {
    /// Reads the manifest of a directory (empty when there is none yet).
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                format: 1,
                ..Default::default()
            }),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Replaces the manifest atomically and durably. `before_rename` runs after the new manifest is
    /// on disk and before it replaces the old one (the commit point).
    pub fn write(&self, dir: &Path, before_rename: impl FnOnce()) -> Result<()> {
        let path = dir.join(MANIFEST);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| Error::Io { path: p, source }
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&json).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        before_rename();
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(dir)
    }

    /// Whether a load id is committed.
    pub fn has_load(&self, load_id: &str) -> bool {
        self.loads.iter().any(|l| l.load_id == load_id)
    }

    /// The latest schema of a pipeline.
    pub fn schema(&self, pipeline: &str) -> Result<harbor_core::Schema> {
        match self.schemas.iter().rev().find(|s| s.pipeline == pipeline) {
            None => Ok(harbor_core::Schema::default()),
            Some(s) => harbor_core::Schema::from_json(&s.schema.to_string()).map_err(|e| Error::Manifest {
                path: MANIFEST.into(),
                message: format!("stored schema of pipeline `{pipeline}` is invalid: {e}"),
            }),
        }
    }
}

/// Fsyncs a directory so renames in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })
}
