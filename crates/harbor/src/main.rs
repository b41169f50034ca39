//! The `harbor` command: collect Reddit data into queryable datasets.

mod cmd;
mod collect_print;
mod dest;
mod output;
mod proxy;
mod runlock;
mod settings;
mod traced;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc: the normalizer allocates many small strings and maps on several threads at once.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// RedditHarbor: collect Reddit data into queryable datasets, incrementally, exactly once.
///
/// Configuration comes from ./harbor.toml, then --config FILE, then HARBOR_* environment variables
/// (HARBOR_DESTINATION, HARBOR_PIPELINE, HARBOR_WORKDIR, HARBOR_LOAD__WORKERS, ...), then flags.
#[derive(Debug, Parser)]
#[command(name = "harbor", version, propagate_version = true)]
pub struct Cli {
    /// Extra config file, applied over ./harbor.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Destination URL: duckdb:///data/harbor.duckdb (default: ./harbor.duckdb), postgres://user:pass@host:5432/db?schema=...&sslmode=require, or parquet:///dir.
    #[arg(long, short = 'd', global = true, value_name = "URL")]
    destination: Option<String>,
    /// Pipeline name: state, schema and loads are kept per pipeline (default: reddit).
    #[arg(long, global = true)]
    pipeline: Option<String>,
    /// Working directory for load packages and rejects (default: ./.harbor).
    #[arg(long, global = true, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// More log output (-v info, -vv debug).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load NDJSON (plain or .zst) or JSON Listing files into the destination.
    Load(cmd::load::LoadArgs),
    /// List, show, retry or drop pending and failed load packages.
    Packages(cmd::packages::PackagesArgs),
    /// Print the tables and columns of the pipeline schema.
    Schema(cmd::schema::SchemaArgs),
    /// Print recent loads, row counts and pipeline state.
    Status(cmd::status::StatusArgs),
    /// Collect subreddits from the Reddit API (incremental, exactly once).
    Collect(cmd::collect::CollectArgs),
    /// Demo: a first and an incremental collection from a built-in Reddit stand-in, no credentials.
    Demo(cmd::demo::DemoArgs),
    /// Ingest Pushshift / Arctic Shift dump files (RS_*.zst, RC_*.zst), filtered, resumable.
    Ingest(cmd::ingest::IngestArgs),
    /// Write tables to Parquet, CSV or JSONL files.
    Export(cmd::export::ExportArgs),
    /// Back up data, schemas and state of the destination to a directory.
    Backup(cmd::backup::BackupArgs),
    /// Restore a backup into the destination.
    Restore(cmd::restore::RestoreArgs),
    /// Score problem posts into opportunity_analysis (heuristic, or an LLM on request).
    Score(cmd::score::ScoreArgs),
    /// Print the top-ranked opportunities.
    Opportunities(cmd::opportunities::OpportunitiesArgs),
    /// Group problem posts into themes (recurring problems across subreddits), ranked by growth.
    Themes(cmd::themes::ThemesArgs),
    /// Print recent runs from the run traces (_harbor_runs).
    Runs(cmd::runs::RunsArgs),
    /// Print Prometheus metrics once (the text /metrics serves).
    Metrics(cmd::metrics::MetricsArgs),
    /// Compare a legacy database with the destination (the parallel test).
    Compare(cmd::compare::CompareArgs),
    /// Route subreddits between harbor and the legacy collector; roll back.
    Cutover(cmd::cutover::CutoverArgs),
    /// Evaluate the rollback triggers; optionally roll back.
    Check(cmd::check::CheckArgs),
    /// Import a legacy RedditHarbor database (either layout), keeping ids and history.
    Import(cmd::import::ImportArgs),
    /// Run the cron schedules of harbor.toml, never two runs of one pipeline at once.
    Schedule(cmd::schedule::ScheduleArgs),
    /// Serve the HTTP API and the dashboard.
    Serve(cmd::serve::ServeArgs),
    /// Create, list and revoke API tokens.
    Token(cmd::token::TokenArgs),
    /// Collect, load and score in one traced run (the scheduled job of a pipeline).
    Run(cmd::run::RunArgs),
    /// Watch subreddits in real time: new posts and comments committed within seconds.
    Watch(cmd::watch::WatchArgs),
    /// Show or reset the pipeline state (cursors, tracked posts, file positions).
    State(cmd::state::StateArgs),
    /// Write a commented harbor.toml and a .env template (never overwrites).
    Init(cmd::init::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::shell::CompletionsArgs),
    /// Print the man page generated from this CLI, or write one per command.
    Man(cmd::shell::ManArgs),
}

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let code = match run(cli) {
        Ok(()) => 0,
        Err(e) => output::report_error(&e),
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // These need no settings: they work before harbor.toml exists, or while it is broken.
    let command = match cli.command {
        Command::Init(args) => return cmd::init::run(args),
        Command::Completions(args) => return cmd::shell::completions(args),
        Command::Man(args) => return cmd::shell::man(args),
        other => other,
    };
    let mut settings = settings::Settings::load(cli.config.as_deref())?;
    if let Some(d) = cli.destination {
        settings.destination = d;
    }
    if let Some(p) = cli.pipeline {
        settings.pipeline = p;
    }
    if let Some(w) = cli.workdir {
        settings.workdir = w;
    }
    dispatch(settings, command)
}

/// Runs one command with resolved settings (also used by `harbor serve` for scheduled runs).
fn dispatch(settings: settings::Settings, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Load(args) => cmd::load::run(&settings, args),
        Command::Packages(args) => cmd::packages::run(&settings, args),
        Command::Schema(args) => cmd::schema::run(&settings, args),
        Command::Status(args) => cmd::status::run(&settings, args),
        Command::Collect(args) => cmd::collect::run(&settings, args),
        Command::Demo(args) => cmd::demo::run(&settings, args),
        Command::Ingest(args) => cmd::ingest::run(&settings, args),
        Command::Export(args) => cmd::export::run(&settings, args),
        Command::Backup(args) => cmd::backup::run(&settings, args),
        Command::Restore(args) => cmd::restore::run(&settings, args),
        Command::Score(args) => cmd::score::run(&settings, args),
        Command::Opportunities(args) => cmd::opportunities::run(&settings, args),
        Command::Themes(args) => cmd::themes::run(&settings, args),
        Command::Runs(args) => cmd::runs::run(&settings, args),
        Command::Metrics(args) => cmd::metrics::run(&settings, args),
        Command::Compare(args) => cmd::compare::run(&settings, args),
        Command::Cutover(args) => cmd::cutover::run(&settings, args),
        Command::Check(args) => cmd::check::run(&settings, args),
        Command::Import(args) => cmd::import::run(&settings, args),
        Command::Schedule(args) => cmd::schedule::run(&settings, args),
        Command::Serve(args) => cmd::serve::run(&settings, args),
        Command::Token(args) => cmd::token::run(&settings, args),
        Command::Run(args) => cmd::run::run(&settings, args),
        Command::Watch(args) => cmd::watch::run(&settings, args),
        Command::State(args) => cmd::state::run(&settings, args),
        Command::Init(args) => cmd::init::run(args),
        Command::Completions(args) => cmd::shell::completions(args),
        Command::Man(args) => cmd::shell::man(args),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARBOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
