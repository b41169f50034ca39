//! `harbor run`: the unified pipeline. Collect -> load -> score the new and changed problem posts
//! -> group them into themes -> trace, in one command, under one run lock and one `_harbor_runs` row.

use clap::Args;
use serde_json::json;

use crate::cmd::collect::{self, CollectArgs, Step, SubredditArgs};
use crate::cmd::score::{self, ScoreArgs};
use crate::cmd::themes::{self, ThemesArgs};
use crate::output::pipeline_error;
use crate::settings::Settings;

/// Collect, load and score in one run: the scheduled job of a pipeline.
///
/// Collects the subreddits (--subreddits, or [collect] subreddits) incrementally as `harbor
/// collect` does (the cutover routes each subreddit to harbor or to the legacy collector), then
/// scores the problem posts of those subreddits that are new or changed since they were last
/// scored (`harbor score`: heuristic by default, --scorer llm on request; unchanged posts cost
/// nothing). The run takes the pipeline's run lock and writes one `_harbor_runs` row (command
/// `run`) with the API calls, rows, rejects, LLM tokens and cost of both steps.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Subreddits, comma-separated (names without r/), instead of [collect] subreddits.
    #[arg(long, short = 's', value_delimiter = ',', value_name = "NAMES")]
    subreddits: Vec<String>,
    /// Scorer: heuristic (offline, default) or llm (OpenAI-compatible endpoint).
    #[arg(long, value_parser = ["heuristic", "llm"])]
    scorer: Option<String>,
    /// Score unchanged posts again.
    #[arg(long)]
    rescore: bool,
    /// Heuristic score a post needs before it goes to the LLM (0-100).
    #[arg(long)]
    threshold: Option<f64>,
    /// Stop sending posts to the LLM once this many USD are spent in this run.
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Stop sending posts to the LLM once this many tokens are spent in this run.
    #[arg(long, value_name = "TOKENS")]
    max_tokens: Option<u64>,
    /// Most items read from one listing in this run.
    #[arg(long)]
    limit: Option<usize>,
    /// Do not collect comments.
    #[arg(long)]
    no_comments: bool,
    /// Refresh posts younger than this many days (score, comments, edits, deletions); 0 = off.
    #[arg(long, value_name = "DAYS")]
    refresh_window: Option<f64>,
    /// Reference time (epoch seconds) of the refresh window, instead of the clock.
    #[arg(long, value_name = "EPOCH")]
    as_of: Option<f64>,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(settings: &Settings, args: RunArgs) -> anyhow::Result<()> {
    let collect_args = CollectArgs {
        subs: SubredditArgs {
            subreddits_list: args.subreddits.clone(),
            ..SubredditArgs::default()
        },
        limit: args.limit,
        no_comments: args.no_comments,
        refresh_window: args.refresh_window,
        as_of: args.as_of,
        ..CollectArgs::default()
    };
    let opts = collect::options(settings, &collect_args)?;
    let client = collect::client(settings.reddit_config())?;
    let runtime = collect::runtime()?;
    let wait = !args.no_wait;
    crate::traced::run_locked(settings, "run", wait, |dest, traced| {
        let mut pipeline = crate::traced::open_pipeline(settings, dest, wait, traced)?;
        let destination = pipeline.destination().describe();
        let step = Step {
            runtime: &runtime,
            client: &client,
            full_refresh: false,
        };
        let collected = step.run(settings, opts, &mut pipeline, traced)?;
        if !args.json {
            collected.print(&destination);
        }
        // Score the harbor share only: the legacy collector writes elsewhere.
        let subreddits: Vec<String> = collected
            .report
            .subreddits
            .iter()
            .map(|s| s.subreddit.clone())
            .collect();
        let summary = if subreddits.is_empty() {
            None
        } else {
            let score_args = ScoreArgs {
                scorer: args.scorer.clone(),
                rescore: args.rescore,
                subreddit: subreddits,
                threshold: args.threshold,
                max_cost: args.max_cost,
                max_tokens: args.max_tokens,
                ..ScoreArgs::default()
            };
            pipeline.recover().map_err(pipeline_error)?;
            Some(score::score_traced(settings, &score_args, &mut pipeline, traced)?)
        };
        // Themes span subreddits: every problem post of the destination is grouped, after scoring
        // so each theme carries its best opportunity score.
        let themes = if summary.is_some() {
            pipeline.recover().map_err(pipeline_error)?;
            Some(themes::themes_traced(
                settings,
                &ThemesArgs::default(),
                &mut pipeline,
                traced,
            )?)
        } else {
            None
        };
        crate::cmd::packages::report(&mut pipeline, traced);
        if args.json {
            let v = json!({
                "run_id": traced.run_id(),
                "pipeline": settings.pipeline,
                "collect": collected.json(&destination),
                "score": summary,
                "themes": themes,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            match &summary {
                Some(s) => score::print_summary(s),
                None => eprintln!("score: nothing collected by harbor in this run"),
            }
            if let Some(t) = &themes {
                themes::print_summary(t);
            }
            eprintln!("run {} of pipeline `{}` done", traced.run_id(), settings.pipeline);
        }
        collected.outcome()
    })
}
