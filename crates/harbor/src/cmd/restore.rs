//! `harbor restore DIR --destination URL`: rebuilds the tables, schema and state of a backup in any
//! destination, one load package (one transaction) per pipeline.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use harbor_core::package::{PackageManifest, PackageStore, TablePlan, new_load_id};
use harbor_core::state::PipelineState;
use harbor_core::{Schema, WriteDisposition};

use crate::cmd::backup::{BackupIndex, INDEX};
use crate::output::{UserError, dest_error};
use crate::settings::Settings;

/// Restore a backup written by `harbor backup` into the destination (--destination URL).
///
/// Every table of the backup replaces the table of the same name (and its child tables); the
/// pipelines' schema and state are committed in the same transaction as their tables.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(settings: &Settings, args: RestoreArgs) -> anyhow::Result<()> {
    let index_path = args.dir.join(INDEX);
    let text = std::fs::read_to_string(&index_path).map_err(|e| UserError {
        message: format!(
            "{} is not a harbor backup: cannot read {}: {e}",
            args.dir.display(),
            index_path.display()
        ),
        hint: Some("pass the directory written by `harbor backup --out DIR`".into()),
    })?;
    let index: BackupIndex =
        serde_json::from_str(&text).with_context(|| format!("invalid {}", index_path.display()))?;
    let mut dest = crate::dest::open(settings)?;
    let store_root = std::path::absolute(&settings.workdir)?.join("restore");
    let mut restored = Vec::new();
    for (name, p) in &index.pipelines {
        let schema = Schema::from_json(&p.schema.to_string())
            .with_context(|| format!("invalid schema of pipeline {name}"))?;
        let state: PipelineState = serde_json::from_value(p.state.clone())?;
        let store = PackageStore::open(store_root.join(name))?;
        let load_id = new_load_id();
        let mut writer = store.begin(&load_id)?;
        let mut tables: Vec<&harbor_core::TableSchema> = schema
            .tables
            .values()
            .filter(|t| index.tables.contains_key(&t.name))
            .collect();
        tables.sort_by_key(|t| (t.name.matches("__").count(), t.name.clone()));
        let mut plans = Vec::new();
        for t in tables {
            let bt = &index.tables[&t.name];
            let job = writer.next_job_path(&t.name, "parquet");
            link_or_copy(&args.dir.join(&bt.file), &job)?;
            let root = schema.tables.get(&t.root).unwrap_or(t);
            plans.push(TablePlan {
                name: t.name.clone(),
                disposition: WriteDisposition::Replace,
                primary_key: root.primary_key.clone(),
                parent: t.parent.clone(),
                root: t.root.clone(),
                rows: bt.rows,
            });
            restored.push(t.name.clone());
        }
        let manifest = PackageManifest {
            load_id: load_id.clone(),
            pipeline: name.clone(),
            created_at: load_id.clone(),
            schema,
            state,
            tables: plans,
            source: format!("restore of backup {} ({})", args.dir.display(), index.source),
            destination: Some(harbor_core::package::destination_identity(&dest.describe())),
        };
        let package = writer.finish(manifest)?;
        package.start()?;
        let report = dest.load(&package).map_err(dest_error)?;
        package.finalize(false)?;
        let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
        eprintln!(
            "restored pipeline {name} into {} (load {load_id}): {rows} rows",
            dest.describe()
        );
    }
    for t in index.tables.keys().filter(|t| !restored.contains(t)) {
        eprintln!("warning: table {t} belongs to no pipeline schema in the backup and was not restored");
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}
