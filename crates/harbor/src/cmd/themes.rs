//! `harbor themes`: group problem posts into themes (the same problem in other words, across
//! subreddits), rank them by growth, and store them in `themes`, `theme_members` and
//! `theme_weeks` through the pipeline's normal load path (one package, one transaction).
//!
//! Offline: TF-IDF vectors, a nearest-neighbour graph and agglomerative clustering
//! (`harbor_ai::themes`). Stored themes are seeds of the next run: they keep their id and their
//! posts, and new posts join them.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use clap::Args;
use harbor_ai::ProblemFilter;
use harbor_ai::themes::store::{self, MEMBERS, Provenance, THEMES, WEEKS};
use harbor_ai::themes::{Grouping, Theme, ThemeOptions};
use harbor_core::WriteDisposition;
use harbor_core::normalize::{NormalizeOptions, ResolveOptions, SourceRef};
use harbor_core::state::PipelineState;
use harbor_pipeline::input::RawRecord;
use harbor_pipeline::rejects::RejectSink;
use harbor_pipeline::{ExtractOptions, Pipeline};
use serde::Serialize;
use serde_json::{Value, json};

use crate::output::{UserError, dest_error, pipeline_error};
use crate::settings::Settings;

/// Group problem posts into themes and rank them by growth.
///
/// A theme is one problem that many posts describe in their own words, across subreddits. Themes
/// keep their id from run to run: new posts join the closest stored theme when they are similar
/// enough, the rest are grouped among themselves. For each theme: posts, distinct authors,
/// subreddits, weekly counts, growth of the last 4 weeks against the 4 before, the best
/// opportunity score inside it and example posts. Written to `themes`, `theme_members` and
/// `theme_weeks`; printed as a table (or --json).
#[derive(Debug, Args, Clone)]
pub struct ThemesArgs {
    /// Cosine similarity two groups need to merge (0-1); lower makes bigger, looser themes.
    #[arg(long, default_value_t = 0.3)]
    pub threshold: f32,
    /// Posts a new group needs to become a theme.
    #[arg(long, default_value_t = 3)]
    pub min_posts: usize,
    /// Only posts created since this UTC date (2025-01-31). A filtered run only prints: the stored
    /// themes cover every problem post, so a partial view is not written over them.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only posts of these subreddits (repeatable; like --since, the result is printed, not stored).
    #[arg(long)]
    pub subreddit: Vec<String>,
    /// Group every post, not only problem posts.
    #[arg(long)]
    pub all_posts: bool,
    /// Reference date of growth (2026-12-07; default: the newest post).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Ask the configured LLM ([score.llm]) to name the themes and merge those that are the same
    /// problem (answers cached by content hash: a re-run over the same themes costs nothing).
    #[arg(long)]
    pub llm: bool,
    /// With --llm: stop sending once this many USD are spent in this run.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// With --llm: stop sending once this many tokens are spent in this run.
    #[arg(long, value_name = "TOKENS")]
    pub max_tokens: Option<u64>,
    /// Themes printed (all are stored).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Fail at once if another run of this pipeline is active, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the themes as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Default for ThemesArgs {
    /// The flags' defaults (what `harbor run` uses for its themes step).
    fn default() -> Self {
        Self {
            threshold: 0.3,
            min_posts: 3,
            since: None,
            subreddit: Vec::new(),
            all_posts: false,
            as_of: None,
            llm: false,
            max_cost: None,
            max_tokens: None,
            top: 20,
            no_wait: false,
            json: false,
        }
    }
}

/// What one themes step did.
#[derive(Debug, Serialize)]
pub struct ThemesSummary {
    /// Problem posts grouped.
    pub posts: usize,
    /// Themes found.
    pub themes: usize,
    /// Themes that existed before and kept their id.
    pub kept_themes: usize,
    /// Themes founded by this run.
    pub new_themes: usize,
    /// Posts in no theme.
    pub unthemed: usize,
    /// Seconds spent grouping.
    pub seconds: f64,
    /// The load that wrote the themes.
    pub load_id: Option<String>,
    /// Rows written, by table.
    pub rows: BTreeMap<String, u64>,
    /// The LLM step, when it ran.
    pub llm: Option<harbor_ai::themes::llm::Review>,
    /// Themes the LLM step merged into another: `[theme, into]`.
    pub merged: Vec<(String, String)>,
    /// A filtered run (--since, --subreddit): printed, not stored.
    pub preview: bool,
    /// The themes, best first.
    #[serde(skip)]
    pub grouping: Grouping,
}

fn date(flag: &str, s: &str) -> anyhow::Result<chrono::NaiveDateTime> {
    let t = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(d);
        }
    }
    Err(UserError {
        message: format!("{flag} {s:?} is not a date"),
        hint: Some("use 2025-01-31 or 2025-01-31T12:00:00 (UTC)".into()),
    }
    .into())
}

pub fn run(settings: &Settings, args: ThemesArgs) -> anyhow::Result<()> {
    crate::traced::run_locked(settings, "themes", !args.no_wait, |dest, traced| {
        let mut pipeline = crate::traced::open_pipeline(settings, dest, !args.no_wait, traced)?;
        pipeline.recover().map_err(pipeline_error)?;
        let summary = themes_traced(settings, &args, &mut pipeline, traced)?;
        crate::cmd::packages::report(&mut pipeline, traced);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json_view(&summary, args.top))?
            );
        } else {
            print_table(&summary.grouping.themes, args.top);
            print_summary(&summary);
        }
        Ok(())
    })
}

/// [`themes`], with its counters and seconds kept in the run trace.
pub fn themes_traced(
    settings: &Settings,
    args: &ThemesArgs,
    pipeline: &mut Pipeline,
    traced: &mut crate::traced::Traced,
) -> anyhow::Result<ThemesSummary> {
    let t0 = std::time::Instant::now();
    let summary = themes(settings, args, pipeline)?;
    traced.stage("themes", t0.elapsed().as_secs_f64());
    let stats = traced.stats();
    for (t, n) in &summary.rows {
        *stats.rows.entry(t.clone()).or_default() += n;
    }
    if let Some(r) = &summary.llm {
        stats.llm_tokens += r.usage.total();
        stats.llm_cost_usd += r.cost_usd;
        if r.usage.requests > 0 {
            *stats.api_calls.entry("llm".to_owned()).or_default() += r.usage.requests;
        }
    }
    stats.details.insert(
        "themes".into(),
        json!({
            "posts": summary.posts,
            "themes": summary.themes,
            "kept_themes": summary.kept_themes,
            "new_themes": summary.new_themes,
            "unthemed": summary.unthemed,
            "merged": summary.merged.len(),
            "llm_cached_batches": summary.llm.as_ref().map(|r| r.cached_batches),
            "llm_sent_batches": summary.llm.as_ref().map(|r| r.sent_batches),
            "llm_stopped": summary.llm.as_ref().and_then(|r| r.stopped.clone()),
            "load_id": summary.load_id,
        }),
    );
    Ok(summary)
}

/// Groups the destination's problem posts and loads the themes through `pipeline`.
pub fn themes(
    settings: &Settings,
    args: &ThemesArgs,
    pipeline: &mut Pipeline,
) -> anyhow::Result<ThemesSummary> {
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(UserError {
            message: format!("--threshold {} is not between 0 and 1", args.threshold),
            hint: Some("the default 0.3 suits most data; lower it for looser themes".into()),
        }
        .into());
    }
    if args.llm && (args.since.is_some() || !args.subreddit.is_empty()) {
        return Err(UserError {
            message: "--llm cannot be combined with --since or --subreddit".into(),
            hint: Some(
                "a filtered run is only printed, so the LLM's answers could not be kept; run `harbor themes --llm` \
                 over all posts"
                    .into(),
            ),
        }
        .into());
    }
    let as_of = args
        .as_of
        .as_deref()
        .map(|s| date("--as-of", s))
        .transpose()?
        .map(|d| d.and_utc().timestamp() as f64);
    let read = store::ReadOptions {
        since: args
            .since
            .as_deref()
            .map(|s| date("--since", s))
            .transpose()?
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string()),
        subreddits: args.subreddit.clone(),
        top_comments: settings.score.top_comments,
        all_posts: args.all_posts || settings.score.all_posts,
    };
    let filter = match &settings.score.keywords {
        Some(k) => ProblemFilter::new(k.iter().map(String::as_str))
            .map_err(|e| anyhow::anyhow!("[score] keywords: {e}"))?,
        None => ProblemFilter::default(),
    };
    let dest = pipeline.destination();
    let posts = store::read_posts(dest, &read, &filter).map_err(dest_error)?;
    let existing = store::read_existing(dest).map_err(dest_error)?;
    let opts = ThemeOptions {
        threshold: args.threshold,
        min_posts: args.min_posts,
        as_of,
        ..ThemeOptions::default()
    };
    let mut grouping = harbor_ai::themes::group(&posts, &existing, opts);
    let mut review = None;
    let mut merged = Vec::new();
    let mut state = PipelineState::default();
    if args.llm && !grouping.themes.is_empty() {
        let (reviewer, r) = llm_review(settings, args, pipeline, &grouping)?;
        for (k, v) in &r.answers {
            state.set(k.clone(), v.clone());
        }
        let (g, m) = harbor_ai::themes::apply_review(&posts, &grouping, &r, opts);
        if r.stopped.is_none() && r.failed_batches == 0 {
            for (k, v) in reviewer.settled(&g.themes, &r.names) {
                state.set(k, v);
            }
        }
        grouping = g;
        merged = m;
        review = Some(r);
    }
    let mut summary = ThemesSummary {
        posts: grouping.posts,
        themes: grouping.themes.len(),
        kept_themes: grouping.kept_themes,
        new_themes: grouping.new_themes,
        unthemed: grouping.unthemed,
        seconds: grouping.seconds,
        load_id: None,
        rows: BTreeMap::new(),
        llm: review,
        merged,
        preview: args.since.is_some() || !args.subreddit.is_empty(),
        grouping,
    };
    if summary.grouping.themes.is_empty() || summary.preview {
        return Ok(summary);
    }
    let prov = Provenance {
        method: if summary.llm.is_some() {
            format!("offline+llm:{}", settings.score.llm.model)
        } else {
            "offline".into()
        },
        threshold: args.threshold,
        as_of: as_of.or_else(|| posts.iter().filter_map(|p| p.created_utc).reduce(f64::max)),
        updated_at: chrono::Utc::now().timestamp_micros() as f64 / 1e6,
    };
    let mut llm_named: HashSet<String> = existing
        .iter()
        .filter(|t| t.name.is_some())
        .map(|t| t.id.clone())
        .collect();
    if let Some(r) = &summary.llm {
        llm_named.extend(r.names.keys().cloned());
    }
    let old_names: std::collections::HashMap<&str, &str> = existing
        .iter()
        .filter_map(|t| Some((t.id.as_str(), t.name.as_deref()?)))
        .collect();
    let merged: Vec<store::Merged> = summary
        .merged
        .iter()
        .map(|(id, into)| {
            let name = old_names.get(id.as_str()).copied().unwrap_or_default().to_owned();
            (id.clone(), into.clone(), name)
        })
        .collect();
    let records = store::records(&summary.grouping.themes, &posts, &prov, &llm_named, &merged);
    let (load_id, rows) = load(settings, pipeline, records, state)?;
    summary.load_id = Some(load_id);
    summary.rows = rows;
    Ok(summary)
}

/// Loads the rows of the three tables as one package: `themes` and `theme_members` merged on
/// their ids, `theme_weeks` replaced (every run recomputes all weeks).
fn load(
    settings: &Settings,
    pipeline: &mut Pipeline,
    records: Vec<(&'static str, Value)>,
    state: PipelineState,
) -> anyhow::Result<(String, BTreeMap<String, u64>)> {
    let plan = [
        (THEMES, WriteDisposition::Merge, "theme_id"),
        (MEMBERS, WriteDisposition::Merge, "post_id"),
        (WEEKS, WriteDisposition::Replace, "week_id"),
    ];
    let mut tables = BTreeMap::new();
    let mut normalize = NormalizeOptions::default();
    for (t, d, k) in plan {
        tables.insert(t.to_owned(), (d, Some(k.to_owned())));
        normalize.flatten.primary_keys.insert(t.to_owned(), k.to_owned());
    }
    normalize.resolve = ResolveOptions {
        contracts: settings.contracts(),
        tables,
        ..Default::default()
    };
    let mut extract = ExtractOptions {
        normalize,
        ..Default::default()
    };
    extract.chunk_records = settings.load.chunk_records;
    if settings.load.workers > 0 {
        extract.workers = settings.load.workers;
    }
    let themes = records.iter().filter(|(t, _)| *t == THEMES).count();
    let source = format!("themes: {themes} themes");
    let rejects_dir = settings.workdir.join(&settings.pipeline).join("rejects");
    let (package, _) = pipeline
        .build_package(&source, None, |writer, schema, load_id| {
            let mut rejects = RejectSink::new(
                rejects_dir.join(format!("{load_id}.ndjson")),
                Vec::<PathBuf>::new(),
            );
            let read = move |emit: &mut dyn FnMut(RawRecord) -> bool| -> harbor_pipeline::Result<u64> {
                let mut n = 0u64;
                for (table, data) in records {
                    n += 1;
                    // A `{"kind", "data"}` thing goes to the table its kind names.
                    let thing = json!({"kind": table, "data": data});
                    if !emit(RawRecord::value(thing, SourceRef { file: 0, line: n })) {
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
            Ok((summary, state))
        })
        .map_err(pipeline_error)?;
    let report = pipeline.load_package(package).map_err(pipeline_error)?;
    let mut rows = BTreeMap::new();
    for (t, n) in &report.rows {
        if [THEMES, MEMBERS, WEEKS].contains(&t.as_str()) {
            *rows.entry(t.clone()).or_default() += *n;
        }
    }
    Ok((report.load_id, rows))
}

/// Runs the LLM step over the themes, with the answers of earlier runs (kept in the pipeline state
/// under `themes:llm:<hash>`) as the cache.
fn llm_review(
    settings: &Settings,
    args: &ThemesArgs,
    pipeline: &mut Pipeline,
    grouping: &Grouping,
) -> anyhow::Result<(
    harbor_ai::themes::llm::ThemeReviewer,
    harbor_ai::themes::llm::Review,
)> {
    let mut llm = settings.score.llm.clone();
    llm.apply_env();
    let reviewer = harbor_ai::themes::llm::ThemeReviewer::new(&llm, &settings.score.prices)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cache: std::collections::HashMap<String, Value> = pipeline
        .state()
        .map_err(pipeline_error)?
        .values
        .into_iter()
        .filter(|(k, _)| k.starts_with("themes:llm:"))
        .collect();
    let limits = harbor_ai::Limits {
        max_tokens: args.max_tokens.or(settings.score.max_tokens),
        max_cost_usd: args.max_cost.or(settings.score.max_cost_usd),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let review = runtime.block_on(reviewer.review(&grouping.themes, &cache, limits));
    Ok((reviewer, review))
}

/// The JSON output: the summary and the top themes (members left out: `/api/v1/themes/{id}` and
/// the `theme_members` table have them).
pub fn json_view(s: &ThemesSummary, top: usize) -> Value {
    let themes: Vec<Value> = s
        .grouping
        .themes
        .iter()
        .take(top)
        .enumerate()
        .map(|(i, t)| theme_json(i + 1, t))
        .collect();
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    v["top"] = Value::Array(themes);
    v
}

fn theme_json(rank: usize, t: &Theme) -> Value {
    json!({
        "rank": rank,
        "id": t.id,
        "name": t.name,
        "terms": t.terms,
        "posts": t.posts,
        "authors": t.authors,
        "subreddits": t.subreddits.iter().map(|(s, n)| json!({"subreddit": s, "posts": n})).collect::<Vec<_>>(),
        "posts_last_4w": t.posts_last_4w,
        "posts_prev_4w": t.posts_prev_4w,
        "growth": t.growth,
        "best_score": t.best_score,
        "recent_weeks": t.recent_weeks,
        "examples": t.examples,
    })
}

fn growth_text(t: &Theme) -> String {
    if t.posts_prev_4w == 0 {
        if t.posts_last_4w == 0 {
            "-".into()
        } else {
            "new".into()
        }
    } else {
        format!("{:+.0}%", t.growth * 100.0)
    }
}

/// Prints the ranked themes as an aligned table on stdout.
pub fn print_table(themes: &[Theme], top: usize) {
    if themes.is_empty() {
        return;
    }
    println!(
        "{:>4}  {:<44} {:>6} {:>7} {:>4}  {:>7}  {:>6}",
        "rank", "name", "posts", "authors", "subs", "growth", "best"
    );
    for (i, t) in themes.iter().take(top).enumerate() {
        let name: String = t.name.chars().take(44).collect();
        println!(
            "{:>4}  {:<44} {:>6} {:>7} {:>4}  {:>7}  {:>6}",
            i + 1,
            name,
            t.posts,
            t.authors,
            t.subreddits.len(),
            growth_text(t),
            t.best_score
                .map(|b| format!("{b:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
}

/// Prints the summary on stderr.
pub fn print_summary(s: &ThemesSummary) {
    if s.posts == 0 {
        eprintln!("themes: no problem posts to group");
        eprintln!("hint: load or collect posts first (harbor load, harbor collect)");
        return;
    }
    eprintln!(
        "themes: {} problem posts -> {} themes ({} kept, {} new), {} posts in no theme, {:.2} s",
        s.posts, s.themes, s.kept_themes, s.new_themes, s.unthemed, s.seconds
    );
    if let Some(r) = &s.llm {
        eprintln!(
            "  llm: {} batches sent, {} answered from the cache, {} failed; {} names, {} themes merged; \
             {} prompt + {} completion tokens, ${:.6}",
            r.sent_batches,
            r.cached_batches,
            r.failed_batches,
            r.names.len(),
            s.merged.len(),
            r.usage.prompt_tokens,
            r.usage.completion_tokens,
            r.cost_usd
        );
        if let Some(why) = &r.stopped {
            eprintln!("  llm stopped early: {why}; the other themes keep their offline names");
        }
    }
    if s.preview {
        eprintln!("  filtered run (--since/--subreddit): printed only, the stored themes are unchanged");
        return;
    }
    match &s.load_id {
        Some(id) => {
            let rows: Vec<String> = s.rows.iter().map(|(t, n)| format!("{n} {t}")).collect();
            eprintln!("  wrote {} (load {id})", rows.join(", "));
        }
        None => eprintln!("  nothing to write"),
    }
}
