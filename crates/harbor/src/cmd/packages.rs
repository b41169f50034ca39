//! `harbor packages list|show|retry|drop`: the pending and failed load packages of a pipeline.
//!
//! A package is pending when it was extracted but not yet committed (an interrupted run, a failed
//! load), and failed when it failed `[load] max_package_attempts` times with the same error and was
//! set aside: runs no longer load it until `retry` moves it back.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use harbor_core::package::{Package, PackageStore};
use harbor_pipeline::{LockedStore, PackageNotices, PipelineOptions};
use serde_json::json;

use crate::output::{UserError, pipeline_error};
use crate::settings::Settings;

/// Show, retry or drop the pending and failed load packages of the pipeline.
#[derive(Debug, Args)]
pub struct PackagesArgs {
    #[command(subcommand)]
    command: PackagesCommand,
}

#[derive(Debug, Subcommand)]
enum PackagesCommand {
    /// List pending and failed packages: id, state, destination, tables, rows, attempts, error, age.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one package: its tables and rows, destination, source and every failed attempt.
    Show {
        /// Load id (from `harbor packages list`).
        load_id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a failed package back to pending and load it now, into the destination it was made for.
    Retry {
        /// Load id.
        load_id: String,
    },
    /// Delete a pending or failed package; its data is not loaded. The files it came from are
    /// loaded again by the next `harbor load` of them (their state was never committed).
    Drop {
        /// Load id.
        load_id: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub fn run(settings: &Settings, args: PackagesArgs) -> anyhow::Result<()> {
    match args.command {
        PackagesCommand::List { json } => list(settings, json),
        PackagesCommand::Show { load_id, json } => show(settings, &load_id, json),
        PackagesCommand::Retry { load_id } => retry(settings, &load_id),
        PackagesCommand::Drop { load_id, yes } => drop_package(settings, &load_id, yes),
    }
}

fn open_store(settings: &Settings) -> anyhow::Result<LockedStore> {
    LockedStore::open(PipelineOptions {
        name: settings.pipeline.clone(),
        workdir: settings.workdir.clone(),
        keep_packages: false,
        wait_for_lock: true,
    })
    .map_err(pipeline_error)
}

/// Pending and failed packages, oldest first.
fn all(store: &PackageStore) -> anyhow::Result<Vec<Package>> {
    let mut v = store.pending()?;
    v.extend(store.failed()?);
    v.sort_by(|a, b| a.manifest.load_id.cmp(&b.manifest.load_id));
    Ok(v)
}

fn find(store: &PackageStore, load_id: &str) -> anyhow::Result<Package> {
    store.find(load_id)?.ok_or_else(|| {
        UserError {
            message: format!(
                "no pending or failed package {load_id} in {}",
                store.root().display()
            ),
            hint: Some("`harbor packages list` shows them (check --pipeline and --workdir)".into()),
        }
        .into()
    })
}

fn state(p: &Package) -> &'static str {
    if p.is_set_aside() { "failed" } else { "pending" }
}

/// Age from the load id (UTC time to the microsecond), as `3d 4h`, `5m`.
fn age(load_id: &str) -> String {
    let Ok(t) = chrono::NaiveDateTime::parse_from_str(load_id, "%Y%m%dT%H%M%S%6fZ") else {
        return "-".into();
    };
    let secs = (chrono::Utc::now().naive_utc() - t).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn to_json(p: &Package, full: bool) -> anyhow::Result<serde_json::Value> {
    let a = p.attempts()?;
    let m = &p.manifest;
    let mut v = json!({
        "load_id": m.load_id,
        "state": state(p),
        "destination": m.destination,
        "tables": m.tables.iter().map(|t| json!({"name": t.name, "rows": t.rows})).collect::<Vec<_>>(),
        "rows": m.rows(),
        "attempts": a.same_error_streak(),
        "failed_attempts_total": a.attempts.len(),
        "error": a.last_error(),
        "created_at": m.created_at,
        "age": age(&m.load_id),
        "set_aside_at": a.set_aside_at,
        "source": m.source,
        "dir": p.dir,
    });
    if full {
        v["attempt_history"] = serde_json::to_value(&a.attempts)?;
    }
    Ok(v)
}

fn list(settings: &Settings, as_json: bool) -> anyhow::Result<()> {
    let locked = open_store(settings)?;
    let packages = all(&locked.store)?;
    if as_json {
        let v: Vec<_> = packages
            .iter()
            .map(|p| to_json(p, false))
            .collect::<anyhow::Result<_>>()?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if packages.is_empty() {
        eprintln!("no pending or failed packages for pipeline {}", settings.pipeline);
        return Ok(());
    }
    println!(
        "{:<24} {:<8} {:>8} {:>10} {:>8} {:<8}  {:<40}  error",
        "load id", "state", "tables", "rows", "attempts", "age", "destination"
    );
    for p in &packages {
        let a = p.attempts()?;
        let error: String = a.last_error().unwrap_or("-").chars().take(100).collect();
        println!(
            "{:<24} {:<8} {:>8} {:>10} {:>8} {:<8}  {:<40}  {}",
            p.manifest.load_id,
            state(p),
            p.manifest.tables.len(),
            p.manifest.rows(),
            a.same_error_streak(),
            age(&p.manifest.load_id),
            p.manifest
                .destination
                .as_deref()
                .unwrap_or("(any: made before harbor recorded it)"),
            error
        );
    }
    Ok(())
}

fn show(settings: &Settings, load_id: &str, as_json: bool) -> anyhow::Result<()> {
    let locked = open_store(settings)?;
    let p = find(&locked.store, load_id)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&to_json(&p, true)?)?);
        return Ok(());
    }
    let m = &p.manifest;
    let a = p.attempts()?;
    println!("package {} ({})", m.load_id, state(&p));
    println!(
        "  destination  {}",
        m.destination
            .as_deref()
            .unwrap_or("(any: made before harbor recorded it)")
    );
    println!("  source       {}", m.source);
    println!("  age          {}", age(&m.load_id));
    println!("  directory    {}", p.dir.display());
    if let Some(t) = &a.set_aside_at {
        println!("  set aside    {t}");
    }
    println!("  tables:");
    for t in &m.tables {
        println!("    {:<40} {:>10} rows  ({:?})", t.name, t.rows, t.disposition);
    }
    println!(
        "  attempts     {} counted toward the limit, {} failed in all",
        a.same_error_streak(),
        a.attempts.len()
    );
    for (i, at) in a.attempts.iter().enumerate() {
        let note = match (at.transient, i < a.counted_from) {
            (true, _) => " (transient, not counted)",
            (false, true) => " (before the last retry)",
            _ => "",
        };
        println!("    {}{note}: {}", at.at, at.error);
    }
    Ok(())
}

fn retry(settings: &Settings, load_id: &str) -> anyhow::Result<()> {
    crate::traced::run_locked(settings, "packages retry", true, |dest, traced| {
        let mut pipeline = crate::traced::open_pipeline(settings, dest, true, traced)?;
        let described = pipeline.destination().describe();
        let result = pipeline.retry_package(load_id);
        let notices = pipeline.package_notices();
        record_notices(traced, &notices);
        let report = result.map_err(pipeline_error)?;
        let stats = traced.stats();
        for (t, n) in &report.rows {
            *stats.rows.entry(t.clone()).or_default() += n;
        }
        stats.details.insert("load_id".into(), json!(report.load_id));
        if report.already_loaded {
            eprintln!(
                "package {} was already committed in {described}; it is retired now",
                report.load_id
            );
        } else {
            let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
            eprintln!("loaded package {} into {described}: {rows} rows", report.load_id);
            for (t, n) in &report.rows {
                eprintln!("  {t:<40} {n:>10} rows");
            }
        }
        Ok(())
    })
}

fn drop_package(settings: &Settings, load_id: &str, yes: bool) -> anyhow::Result<()> {
    let locked = open_store(settings)?;
    let p = find(&locked.store, load_id)?;
    let what = format!(
        "{} package {} ({} rows in {} tables, for {})",
        state(&p),
        p.manifest.load_id,
        p.manifest.rows(),
        p.manifest.tables.len(),
        p.manifest.destination.as_deref().unwrap_or("any destination")
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(UserError {
                message: format!("not dropping {what} without confirmation"),
                hint: Some("pass --yes to drop it without asking".into()),
            }
            .into());
        }
        eprint!("drop {what}? Its data will not be loaded. [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("kept {}", p.manifest.load_id);
            return Ok(());
        }
    }
    p.remove()?;
    eprintln!("dropped {what}; the files it came from load again with the next `harbor load` of them");
    Ok(())
}

/// The end of a command that opened the pipeline (`collect`, `run`, `score`, `themes`, `watch`): the
/// packages it left alone or that sit in `failed/` go into its trace and onto stderr, as `load` does.
pub(crate) fn report(pipeline: &mut harbor_pipeline::Pipeline, traced: &mut crate::traced::Traced) {
    let notices = pipeline.package_notices();
    record_notices(traced, &notices);
    print_notices(&notices);
}

/// Puts what a run found about packages into its trace (`_harbor_runs.details`).
pub(crate) fn record_notices(traced: &mut crate::traced::Traced, n: &PackageNotices) {
    let d = &mut traced.stats().details;
    if !n.other_destination.is_empty() {
        d.insert("packages_other_destination".into(), json!(n.other_destination));
    }
    if !n.set_aside.is_empty() {
        d.insert("packages_set_aside".into(), json!(n.set_aside));
    }
    if !n.failed.is_empty() {
        d.insert("packages_failed".into(), json!(n.failed));
    }
}

/// One line per package a run left alone or that sits in `failed/`.
pub(crate) fn print_notices(n: &PackageNotices) {
    for p in &n.other_destination {
        eprintln!(
            "left alone: package {} was made for {}; load it with --destination set to that destination \
             (`harbor packages retry {}`), or drop it with `harbor packages drop {}`",
            p.load_id,
            p.destination.as_deref().unwrap_or("?"),
            p.load_id,
            p.load_id
        );
    }
    for p in &n.failed {
        let now = if n.set_aside.iter().any(|s| s.load_id == p.load_id) {
            "set aside now"
        } else {
            "set aside"
        };
        eprintln!(
            "failed package {} ({now} after {} attempts): {}; `harbor packages show {}`, then retry or drop it",
            p.load_id,
            p.attempts,
            p.error.as_deref().unwrap_or("-"),
            p.load_id
        );
    }
}
