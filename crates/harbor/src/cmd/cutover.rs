//! `harbor cutover`: route subreddits between harbor and the legacy collector.

use clap::{Args, Subcommand};
use harbor_ops::cutover::{self, CutoverStatus, Phase};

use crate::output::UserError;
use crate::settings::Settings;

/// Route each subreddit to harbor or to the legacy collector ([cutover] legacy_command), change
/// the routing gradually (manual_only -> 10% -> 50% -> 100%), and roll everything back to legacy
/// in one transaction. Every change is kept in _harbor_cutover_audit with who, when and why.
#[derive(Debug, Args)]
pub struct CutoverArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Set a phase: manual_only, 10%, 50%, 100% (of --subreddits or [cutover] subreddits), or route
    /// exactly --subreddits to harbor when no phase is given.
    Set(SetArgs),
    /// Print the routes and the latest audit entries.
    Status(StatusArgs),
    /// Send every subreddit back to legacy (one transaction, audited).
    Rollback(RollbackArgs),
    /// Split subreddits by route; with --run-legacy, run the legacy command for the legacy share.
    Route(RouteArgs),
}

#[derive(Debug, Args)]
struct SetArgs {
    /// manual_only, 10%, 50%, 100% (or any percentage).
    phase: Option<String>,
    /// The subreddits to share out (with a phase), or to route to harbor (without one).
    #[arg(long, value_delimiter = ',')]
    subreddits: Vec<String>,
    /// Why (kept in the audit table).
    #[arg(long)]
    reason: Option<String>,
    /// Who (default: $USER@host).
    #[arg(long)]
    by: Option<String>,
    /// Print the new status as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Audit entries to show.
    #[arg(long, default_value_t = 10)]
    audit: usize,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    /// Why (kept in the audit table).
    #[arg(long)]
    reason: Option<String>,
    /// Who (default: $USER@host).
    #[arg(long)]
    by: Option<String>,
}

#[derive(Debug, Args)]
struct RouteArgs {
    /// The subreddits of this run (default: [cutover] subreddits).
    #[arg(long, value_delimiter = ',')]
    subreddits: Vec<String>,
    /// Run [cutover] legacy_command for the subreddits routed to legacy.
    #[arg(long)]
    run_legacy: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: CutoverArgs) -> anyhow::Result<()> {
    let mut store = crate::dest::open_ops(settings)?;
    let pipeline = settings.pipeline.as_str();
    match args.action {
        Action::Set(a) => {
            let phase = match (&a.phase, a.subreddits.is_empty()) {
                (Some(p), _) => Phase::parse(p).map_err(|e| UserError {
                    message: e.to_string(),
                    hint: Some(
                        "harbor cutover set 10% --subreddits a,b,c (or without a phase: the exact list)"
                            .into(),
                    ),
                })?,
                (None, false) => Phase::List(a.subreddits.clone()),
                (None, true) => {
                    return Err(UserError {
                        message: "cutover set needs a phase or --subreddits".into(),
                        hint: Some("harbor cutover set 50% --subreddits a,b,c".into()),
                    }
                    .into());
                }
            };
            let population = if matches!(phase, Phase::List(_)) || a.subreddits.is_empty() {
                settings.cutover.subreddits.clone()
            } else {
                a.subreddits.clone()
            };
            let who = a.by.unwrap_or_else(cutover::default_actor);
            let st = cutover::set(
                store.as_mut(),
                pipeline,
                &phase,
                &population,
                &who,
                a.reason.as_deref(),
            )
            .map_err(|e| match e {
                harbor_ops::Error::Invalid(message) => anyhow::Error::new(UserError {
                    message,
                    hint: Some("list the subreddits with --subreddits or in [cutover] subreddits".into()),
                }),
                other => other.into(),
            })?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print_status(&st);
            }
        }
        Action::Status(a) => {
            let st = cutover::status(store.as_mut(), pipeline, a.audit)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print_status(&st);
            }
        }
        Action::Rollback(a) => {
            let who = a.by.unwrap_or_else(cutover::default_actor);
            let secs = cutover::rollback(store.as_mut(), pipeline, &who, a.reason.as_deref())?;
            println!(
                "rolled back: every subreddit of pipeline {pipeline} goes to legacy ({:.3} s)",
                secs
            );
        }
        Action::Route(a) => {
            let subs = if a.subreddits.is_empty() {
                settings.cutover.subreddits.clone()
            } else {
                a.subreddits
            };
            let st = cutover::status(store.as_mut(), pipeline, 0)?;
            let (harbor, legacy) = st.split(&subs);
            let mut exit = None;
            if a.run_legacy && !legacy.is_empty() {
                exit = Some(run_legacy(settings, &legacy)?);
            }
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"phase": st.phase, "harbor": harbor, "legacy": legacy, "legacy_exit": exit})
                );
            } else {
                println!("phase {}: harbor {:?}, legacy {:?}", st.phase, harbor, legacy);
            }
            if exit.is_some_and(|c| c != 0) {
                anyhow::bail!("the legacy command exited with {}", exit.unwrap_or(-1));
            }
        }
    }
    Ok(())
}

/// Runs the configured legacy command for `subreddits`; returns its exit code.
pub fn run_legacy(settings: &Settings, subreddits: &[String]) -> anyhow::Result<i32> {
    let Some(cmd) = settings.cutover.legacy_command.as_deref() else {
        return Err(UserError {
            message: format!("{} subreddits are routed to legacy but no legacy command is configured", subreddits.len()),
            hint: Some("set [cutover] legacy_command = \"python collect.py --subreddits {subreddits}\" in harbor.toml".into()),
        }
        .into());
    };
    Ok(cutover::run_legacy(cmd, subreddits)?)
}

fn print_status(st: &CutoverStatus) {
    println!(
        "pipeline {}: phase {} (unlisted subreddits: {})",
        st.pipeline,
        st.phase,
        st.default_route.as_str()
    );
    for (s, r) in &st.routes {
        println!("  r/{s:<30} {}", r.as_str());
    }
    if !st.audit.is_empty() {
        println!("audit:");
        for a in &st.audit {
            println!(
                "  {}  {:<8} {} -> {}  by {}{}",
                a.at,
                a.action,
                a.phase_from.as_deref().unwrap_or("-"),
                a.phase_to,
                a.who,
                a.why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
            );
        }
    }
}
