//! `harbor score`: score problem posts in the destination into `opportunity_analysis`.
//!
//! Posts are read back with SQL, scored (heuristic always; the LLM for posts past the threshold when
//! asked), and the results are loaded through the pipeline's normal load path: one package, one
//! transaction, merged on (post id, scorer id), so a crash never leaves half a run and a replay never
//! duplicates a row. Only posts that are new or whose text changed are scored (the cache).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use harbor_ai::source::{self, ReadOptions, StoredPost, TABLE};
use harbor_ai::{Analysis, HeuristicScorer, ProblemFilter, RunOptions, ScoreConfig, ScoreReport, Scorer};
use harbor_core::WriteDisposition;
use harbor_core::normalize::{NormalizeOptions, ResolveOptions, Routing, SourceRef};
use harbor_core::state::PipelineState;
use harbor_pipeline::input::RawRecord;
use harbor_pipeline::rejects::RejectSink;
use harbor_pipeline::{ExtractOptions, Pipeline};
use serde::Serialize;

use crate::output::{UserError, dest_error, pipeline_error};
use crate::settings::Settings;

/// Score problem posts (heuristic by default, LLM on request) into `opportunity_analysis`.
///
/// Only posts that were never scored by the chosen scorer, or whose title, body or top comments
/// changed since, are scored; a re-run over unchanged posts costs nothing. With --scorer llm, posts
/// are sent to the LLM only when their heuristic score reaches the threshold (default 40).
#[derive(Debug, Args, Clone, Default)]
pub struct ScoreArgs {
    /// Scorer: heuristic (offline, default) or llm (OpenAI-compatible endpoint).
    #[arg(long, value_parser = ["heuristic", "llm"])]
    pub scorer: Option<String>,
    /// Score unchanged posts again.
    #[arg(long)]
    pub rescore: bool,
    /// Only posts created since: a date (2025-01-31), a time (2025-01-31T12:00:00) or an age (7d, 24h).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only posts of these subreddits (repeatable).
    #[arg(long)]
    pub subreddit: Vec<String>,
    /// Score every post, not only problem posts.
    #[arg(long)]
    pub all_posts: bool,
    /// Heuristic score a post needs before it goes to the LLM (0-100).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// LLM requests in flight at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Stop sending posts to the LLM once this many USD are spent in this run.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Stop sending posts to the LLM once this many tokens are spent in this run.
    #[arg(long, value_name = "TOKENS")]
    pub max_tokens: Option<u64>,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What one scoring step did.
#[derive(Debug, Default, Serialize)]
pub struct ScoreSummary {
    /// Posts read from `submissions`.
    pub posts: u64,
    /// Problem posts among them (or all, with --all-posts).
    pub problem_posts: u64,
    /// Heuristic: posts scored this run.
    pub heuristic: ScoreReport,
    /// Heuristic: unchanged posts skipped.
    pub heuristic_cached: u64,
    /// LLM: the run, when the LLM scorer was used.
    pub llm: Option<ScoreReport>,
    /// LLM: unchanged posts skipped.
    pub llm_cached: u64,
    /// LLM: posts below the threshold, not sent.
    pub below_threshold: u64,
    /// LLM: requests, retries, 429s, 5xx answers, malformed answers.
    pub llm_stats: Option<harbor_ai::LlmStats>,
    /// The load that wrote the results.
    pub load_id: Option<String>,
    /// Rows written to `opportunity_analysis`.
    pub rows: u64,
}

/// Resolves the `[score]` settings with the flags.
pub fn config(settings: &Settings, args: &ScoreArgs) -> ScoreConfig {
    let mut c = settings.score.clone();
    if let Some(s) = &args.scorer {
        c.scorer = s.clone();
    }
    if let Some(t) = args.threshold {
        c.threshold = t;
    }
    if let Some(n) = args.concurrency {
        c.concurrency = n;
    }
    if args.max_cost.is_some() {
        c.max_cost_usd = args.max_cost;
    }
    if args.max_tokens.is_some() {
        c.max_tokens = args.max_tokens;
    }
    c.all_posts |= args.all_posts;
    c.llm.apply_env();
    c
}

pub fn run(settings: &Settings, args: ScoreArgs) -> anyhow::Result<()> {
    crate::traced::run_locked(settings, "score", !args.no_wait, |dest, traced| {
        let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
        pipeline.recover().map_err(pipeline_error)?;
        let summary = score_traced(settings, &args, &mut pipeline, traced)?;
        crate::cmd::packages::report(&mut pipeline, traced);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print_summary(&summary);
        }
        Ok(())
    })
}

/// [`score`], with its counters and seconds kept in the run trace.
pub fn score_traced(
    settings: &Settings,
    args: &ScoreArgs,
    pipeline: &mut Pipeline,
    traced: &mut crate::traced::Traced,
) -> anyhow::Result<ScoreSummary> {
    let t0 = std::time::Instant::now();
    let summary = score(settings, args, pipeline)?;
    traced.stage("score", t0.elapsed().as_secs_f64());
    let stats = traced.stats();
    if summary.rows > 0 {
        *stats.rows.entry(TABLE.to_owned()).or_default() += summary.rows;
    }
    if let Some(l) = &summary.llm {
        stats.llm_tokens += l.prompt_tokens + l.completion_tokens;
        stats.llm_cost_usd += l.cost_usd;
        if l.requests > 0 {
            *stats.api_calls.entry("llm".to_owned()).or_default() += l.requests;
        }
    }
    if let Some(st) = &summary.llm_stats {
        stats.http_429 += st.http_429;
        stats.retries += st.retries;
    }
    stats.details.insert(
        "score".into(),
        serde_json::json!({
            "problem_posts": summary.problem_posts,
            "heuristic_scored": summary.heuristic.scored,
            "heuristic_cached": summary.heuristic_cached,
            "llm_scored": summary.llm.as_ref().map(|l| l.scored),
            "llm_failed": summary.llm.as_ref().map(|l| l.failed),
            "llm_cached": summary.llm_cached,
            "llm_left_unscored": summary.llm.as_ref().map(|l| l.left_unscored),
            "llm_stopped": summary.llm.as_ref().and_then(|l| l.stopped.clone()),
            "load_id": summary.load_id,
        }),
    );
    // The endpoint refused the key: a failed run (non-zero exit, trace `failed`), not a quiet one.
    if let Some(l) = &summary.llm
        && let Some(why) = &l.error
    {
        anyhow::bail!(
            "LLM scoring stopped: {why}; {} posts left unscored (results before the refusal were saved)",
            l.left_unscored
        );
    }
    Ok(summary)
}

/// Parses --since into a UTC `YYYY-MM-DD HH:MM:SS`.
fn since(s: &str) -> anyhow::Result<String> {
    let bad = || UserError {
        message: format!("--since {s:?} is not a date, a time or an age"),
        hint: Some("use 2025-01-31, 2025-01-31T12:00:00 or an age such as 7d or 24h".into()),
    };
    let t = s.trim();
    if let Some((n, unit)) = t
        .strip_suffix('d')
        .map(|n| (n, 86_400))
        .or_else(|| t.strip_suffix('h').map(|n| (n, 3_600)))
    {
        let n: i64 = n.parse().map_err(|_| bad())?;
        let at = chrono::Utc::now() - chrono::Duration::seconds(n * unit);
        return Ok(at.format("%Y-%m-%d %H:%M:%S").to_string());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(format!("{d} 00:00:00"));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }
    Err(bad().into())
}

/// Scores the destination's posts and loads the results through `pipeline`.
pub fn score(settings: &Settings, args: &ScoreArgs, pipeline: &mut Pipeline) -> anyhow::Result<ScoreSummary> {
    let cfg = config(settings, args);
    let read = ReadOptions {
        since: args.since.as_deref().map(since).transpose()?,
        subreddits: args.subreddit.clone(),
        top_comments: cfg.top_comments,
    };
    let dest = pipeline.destination();
    let stored = source::read_posts(dest, &read).map_err(dest_error)?;
    let filter = match &cfg.keywords {
        Some(k) => ProblemFilter::new(k.iter().map(String::as_str))
            .map_err(|e| anyhow::anyhow!("[score] keywords: {e}"))?,
        None => ProblemFilter::default(),
    };
    let mut summary = ScoreSummary {
        posts: stored.len() as u64,
        ..Default::default()
    };
    let problem: Vec<harbor_ai::Post> = stored
        .into_iter()
        .filter(|s| cfg.all_posts || is_problem(s, &filter))
        .map(|s| s.post)
        .collect();
    summary.problem_posts = problem.len() as u64;

    let heuristic = HeuristicScorer::new(filter);
    let existing = source::read_existing(dest, heuristic.id()).map_err(dest_error)?;
    let plan = harbor_ai::plan(problem.clone(), &existing, args.rescore);
    summary.heuristic_cached = plan.cached as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (mut results, report) = runtime.block_on(harbor_ai::score_posts(
        &heuristic,
        plan.todo(),
        RunOptions::default(),
    ));
    summary.heuristic = report;
    if cfg.scorer == "llm" {
        let masker = crate::cmd::pii::masker(settings)?;
        let (llm_results, llm) =
            crate::cmd::score_llm::run(&runtime, dest, &cfg, &heuristic, &problem, args.rescore, masker)?;
        summary.llm_cached = llm.cached;
        summary.llm_stats = Some(llm.stats);
        summary.below_threshold = llm.below_threshold;
        summary.llm = Some(llm.report);
        results.extend(llm_results);
    }
    if !results.is_empty() {
        let (load_id, rows) = load(settings, pipeline, &results)?;
        summary.load_id = Some(load_id);
        summary.rows = rows;
    }
    let dest = pipeline.destination();
    if source::existing_tables(dest, &[TABLE, "submissions"])
        .map_err(dest_error)?
        .len()
        == 2
    {
        dest.execute_sql(source::VIEW_SQL).map_err(dest_error)?;
    }
    Ok(summary)
}

fn is_problem(s: &StoredPost, filter: &ProblemFilter) -> bool {
    s.is_problem
        .unwrap_or_else(|| !filter.matches(&s.post.title, &s.post.body).is_empty())
}

/// Loads results into `opportunity_analysis` as one package; returns the load id and rows.
pub fn load(
    settings: &Settings,
    pipeline: &mut Pipeline,
    results: &[Analysis],
) -> anyhow::Result<(String, u64)> {
    let mut tables = BTreeMap::new();
    tables.insert(
        TABLE.to_owned(),
        (WriteDisposition::Merge, Some("analysis_id".to_owned())),
    );
    let mut normalize = NormalizeOptions {
        routing: Routing {
            default_table: Some(TABLE.to_owned()),
        },
        resolve: ResolveOptions {
            contracts: settings.contracts(),
            tables,
            ..Default::default()
        },
        ..Default::default()
    };
    normalize
        .flatten
        .primary_keys
        .insert(TABLE.to_owned(), "analysis_id".to_owned());
    let mut extract = ExtractOptions {
        normalize,
        ..Default::default()
    };
    extract.chunk_records = settings.load.chunk_records;
    if settings.load.workers > 0 {
        extract.workers = settings.load.workers;
    }
    let records: Vec<serde_json::Value> = results.iter().map(Analysis::to_record).collect();
    let scorers: std::collections::BTreeSet<&str> = results.iter().map(|a| a.scorer_id.as_str()).collect();
    let source = format!(
        "score: {} results ({})",
        records.len(),
        scorers.into_iter().collect::<Vec<_>>().join(", ")
    );
    let rejects_dir = settings.workdir.join(&settings.pipeline).join("rejects");
    let (package, _) = pipeline
        .build_package(&source, None, |writer, schema, load_id| {
            let mut rejects = RejectSink::new(
                rejects_dir.join(format!("{load_id}.ndjson")),
                Vec::<PathBuf>::new(),
            );
            let read = move |emit: &mut dyn FnMut(RawRecord) -> bool| -> harbor_pipeline::Result<u64> {
                let mut n = 0u64;
                for r in records {
                    n += 1;
                    if !emit(RawRecord::value(r, SourceRef { file: 0, line: n })) {
                        break;
                    }
                }
                Ok(n)
            };
            let summary = harbor_pipeline::extract::extract_records(
                read,
                writer,
                schema,
                &extract,
                load_id,
                &mut rejects,
            )?;
            Ok((summary, PipelineState::default()))
        })
        .map_err(pipeline_error)?;
    let report = pipeline.load_package(package).map_err(pipeline_error)?;
    let rows = report
        .rows
        .iter()
        .filter(|(t, _)| t == TABLE)
        .map(|(_, n)| *n)
        .sum();
    Ok((report.load_id, rows))
}

/// Prints the summary on stderr.
pub fn print_summary(s: &ScoreSummary) {
    eprintln!(
        "score: {} posts, {} problem posts; heuristic scored {} ({} unchanged, skipped)",
        s.posts, s.problem_posts, s.heuristic.scored, s.heuristic_cached
    );
    if let Some(l) = &s.llm {
        eprintln!(
            "  llm {}: {} scored, {} failed, {} left unscored; {} unchanged (cached), {} below the threshold",
            l.scorer_id, l.scored, l.failed, l.left_unscored, s.llm_cached, s.below_threshold
        );
        eprintln!(
            "  llm usage: {} requests, {} prompt + {} completion tokens, ${:.6}, {:.2} s",
            l.requests, l.prompt_tokens, l.completion_tokens, l.cost_usd, l.seconds
        );
        if let Some(st) = &s.llm_stats {
            eprintln!(
                "  llm errors: {} retries, {} HTTP 429, {} HTTP 5xx, {} malformed answers",
                st.retries, st.http_429, st.http_5xx, st.malformed
            );
        }
        if let Some(why) = &l.stopped {
            eprintln!(
                "  stopped early: {why}; {} posts left unscored (the next run picks them up)",
                l.left_unscored
            );
        }
    }
    match &s.load_id {
        Some(id) => eprintln!("  wrote {} rows to opportunity_analysis (load {id})", s.rows),
        None => eprintln!("  nothing new to write"),
    }
}
