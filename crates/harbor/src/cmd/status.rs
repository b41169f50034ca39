//! `harbor status`

use clap::Args;

use crate::output::{dest_error, pipeline_error};
use crate::settings::Settings;

/// Print recent loads, row counts per table and the pipeline state (cursors).
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many recent loads to show.
    #[arg(long, default_value_t = 10)]
    last: usize,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: StatusArgs) -> anyhow::Result<()> {
    let (dest, mut ops) = crate::dest::open_with_ops(settings)?;
    let mut p = crate::dest::open_pipeline(settings, dest)?;
    let state = p.state().map_err(pipeline_error)?;
    let packages = package_counts(p.store())?;
    let name = p.name().to_owned();
    let d = p.destination();
    let loads = d.loads(Some(&name), args.last).map_err(dest_error)?;
    let counts = d.table_counts().map_err(dest_error)?;
    let subreddits = harbor_ops::status::subreddits(ops.as_mut(), &name, &settings.schedules)?;
    let tracked = crate::cmd::state::tracked_counts(&state);
    let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let watch: Vec<_> = harbor_ops::metrics::watch_cursors(ops.as_mut())?
        .into_iter()
        .filter(|w| w.pipeline == name)
        .collect();
    if args.json {
        let loads: Vec<_> = loads
            .iter()
            .map(|l| {
                serde_json::json!({"load_id": l.load_id, "inserted_at": l.inserted_at, "rows": l.rows,
                "schema_version": l.schema_version, "source": l.source})
            })
            .collect();
        let v = serde_json::json!({"pipeline": name, "destination": d.describe(), "loads": loads,
            "tables": counts.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(), "state": state.values,
            "subreddits": subreddits, "packages": packages,
            "tracked_posts": tracked.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "watch": watch.iter().map(|w| serde_json::json!({"subreddit": w.subreddit, "stream": w.stream,
                "lag_seconds": (now - w.polled_at).max(0.0), "head_utc": w.head_utc})).collect::<Vec<_>>()});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("pipeline {name} -> {}", d.describe());
    println!(
        "packages: {} pending, {} failed{}",
        packages["pending"],
        packages["failed"],
        if packages["failed"].as_u64().unwrap_or(0) > 0 {
            " (harbor packages list)"
        } else {
            ""
        }
    );
    println!("\ntables:");
    for (t, n) in &counts {
        println!("  {t:<40} {n:>10} rows");
    }
    println!("\nrecent loads:");
    for l in &loads {
        println!(
            "  {}  {}  {:>8} rows  schema v{}  {}",
            l.load_id, l.inserted_at, l.rows, l.schema_version, l.source
        );
    }
    if !subreddits.is_empty() {
        println!("\nsubreddits:");
        println!(
            "  {:<24} {:>10}  {:<20}  {:<20}  {:<20}  route",
            "subreddit", "posts", "cursor", "last success", "next run"
        );
        for s in &subreddits {
            let short = |v: &Option<String>| {
                v.as_deref()
                    .map(|t| t.chars().take(19).collect())
                    .unwrap_or_else(|| "-".to_owned())
            };
            println!(
                "  {:<24} {:>10}  {:<20}  {:<20}  {:<20}  {}",
                s.subreddit,
                s.submissions,
                short(&s.cursor),
                short(&s.last_success),
                short(&s.next_run),
                s.route.as_str()
            );
        }
    }
    if !tracked.is_empty() {
        let total: usize = tracked.iter().map(|(_, n)| n).sum();
        println!("\ntracked posts (refreshed while in the refresh window): {total}");
        for (sub, n) in &tracked {
            println!("  r/{sub:<22} {n:>10}");
        }
    }
    if !watch.is_empty() {
        println!("\nwatch (`harbor watch`): seconds since each listing was last read and committed");
        for w in &watch {
            println!(
                "  r/{:<22} {:<9} lag {:>8.1} s",
                w.subreddit,
                w.stream,
                (now - w.polled_at).max(0.0)
            );
        }
    }
    let shown: Vec<_> = state
        .values
        .iter()
        .filter(|(k, v)| !v.is_null() && !k.starts_with("reddit/tracked/"))
        .collect();
    println!(
        "\nstate ({} keys; `harbor state show` lists them all):",
        state.values.len()
    );
    for (k, v) in shown {
        println!("  {k} = {}", crate::cmd::state::summarize(k, v));
    }
    Ok(())
}

/// Pending and failed packages of the pipeline (ids of the failed ones).
fn package_counts(store: &harbor_core::package::PackageStore) -> anyhow::Result<serde_json::Value> {
    let pending = store.pending()?.len();
    let failed: Vec<String> = store.failed()?.into_iter().map(|p| p.manifest.load_id).collect();
    Ok(serde_json::json!({"pending": pending, "failed": failed.len(), "failed_ids": failed}))
}
