//! `harbor backup --out DIR`: every data table as Parquet, plus the schema, state and load history of
//! every pipeline, in a directory that `harbor restore` rebuilds in any destination.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use harbor_core::destination::Destination;
use serde::{Deserialize, Serialize};

use crate::output::{UserError, dest_error};
use crate::settings::Settings;

/// File name of the backup's index.
pub const INDEX: &str = "harbor-backup.json";

/// Write a backup of the destination: data (Parquet), schemas, state and loads of every pipeline.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Output directory (must be empty or missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `harbor-backup.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackupIndex {
    /// Format version (1).
    pub format: u32,
    /// When the backup was taken (RFC 3339).
    pub created_at: String,
    /// The destination that was backed up (no password).
    pub source: String,
    /// Data tables: name -> rows and file (relative to the backup directory).
    pub tables: BTreeMap<String, BackupTable>,
    /// Pipelines: name -> latest schema, state and loads.
    pub pipelines: BTreeMap<String, BackupPipeline>,
}

/// One table in a backup.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackupTable {
    /// Rows.
    pub rows: u64,
    /// Parquet file, relative to the backup directory.
    pub file: String,
}

/// One pipeline in a backup.
#[derive(Debug, Serialize, Deserialize)]
pub struct BackupPipeline {
    /// The latest schema (JSON form of `harbor_core::Schema`).
    pub schema: serde_json::Value,
    /// The committed state.
    pub state: serde_json::Value,
    /// Loads, newest first: load id, time, rows, schema version, source.
    pub loads: Vec<serde_json::Value>,
}

pub fn run(settings: &Settings, args: BackupArgs) -> anyhow::Result<()> {
    let mut dest = crate::dest::open(settings)?;
    let index = backup(dest.as_mut(), &args.out)?;
    let rows: u64 = index.tables.values().map(|t| t.rows).sum();
    eprintln!(
        "backed up {} to {}: {} tables, {rows} rows, {} pipelines",
        index.source,
        args.out.display(),
        index.tables.len(),
        index.pipelines.len()
    );
    Ok(())
}

/// Writes a backup of `dest` into `out`.
pub fn backup(dest: &mut dyn Destination, out: &Path) -> anyhow::Result<BackupIndex> {
    if out.read_dir().map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(UserError {
            message: format!("backup directory {} is not empty", out.display()),
            hint: Some("choose a new directory; a backup never overwrites files".into()),
        }
        .into());
    }
    let data = out.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let all_loads = dest.loads(None, 1_000_000_000).map_err(dest_error)?;
    let mut pipelines = BTreeMap::new();
    for name in all_loads
        .iter()
        .map(|l| l.pipeline.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let schema = dest.stored_schema(&name).map_err(dest_error)?;
        let state = dest.stored_state(&name).map_err(dest_error)?;
        let loads = all_loads
            .iter()
            .filter(|l| l.pipeline == name)
            .map(|l| {
                serde_json::json!({"load_id": l.load_id, "inserted_at": l.inserted_at, "rows": l.rows,
                    "schema_version": l.schema_version, "source": l.source})
            })
            .collect();
        pipelines.insert(
            name,
            BackupPipeline {
                schema: serde_json::from_str(&schema.to_json())?,
                state: serde_json::to_value(&state)?,
                loads,
            },
        );
    }
    let mut tables = BTreeMap::new();
    for (t, _) in dest.table_counts().map_err(dest_error)? {
        let file = format!("data/{t}.parquet");
        let rows = dest
            .export_table(&t, None, &out.join(&file))
            .map_err(dest_error)?;
        tables.insert(t, BackupTable { rows, file });
    }
    let index = BackupIndex {
        format: 1,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source: dest.describe(),
        tables,
        pipelines,
    };
    let path = out.join(INDEX);
    std::fs::write(&path, serde_json::to_vec_pretty(&index)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(index)
}
