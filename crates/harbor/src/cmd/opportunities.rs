//! `harbor opportunities`: the ranked table of scored posts.

use clap::Args;
use harbor_ai::source::{self, TABLE, literal};
use serde_json::Value;

use crate::output::dest_error;
use crate::settings::Settings;

/// Print the top opportunities: scored problem posts ranked by final score.
///
/// For each post the LLM's score is shown when it has one, otherwise the heuristic's (--scorer picks
/// one kind), with its evidence as a short sentence per dimension (--json gives the raw evidence).
/// Reads the `opportunities` view (opportunity_analysis joined with submissions).
#[derive(Debug, Default, Args)]
pub struct OpportunitiesArgs {
    /// How many to show.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Only these subreddits (repeatable).
    #[arg(long)]
    pub subreddit: Vec<String>,
    /// Only results of this scorer kind: heuristic or llm (default: the best available per post).
    #[arg(long, value_parser = ["heuristic", "llm"])]
    pub scorer: Option<String>,
    /// Print as JSON on stdout, with the raw evidence of each score and its sentences.
    #[arg(long)]
    pub json: bool,
}

/// The SQL of the ranking.
pub fn query(args: &OpportunitiesArgs) -> String {
    let mut filters = vec!["status = 'scored'".to_owned()];
    if !args.subreddit.is_empty() {
        let list: Vec<String> = args
            .subreddit
            .iter()
            .map(|s| literal(&s.to_lowercase()))
            .collect();
        filters.push(format!("lower(subreddit) IN ({})", list.join(", ")));
    }
    if let Some(kind) = &args.scorer {
        filters.push(format!("scorer_id LIKE {}", literal(&format!("{kind}%"))));
    }
    // One row per post: an LLM result beats a heuristic one, then the newest.
    format!(
        "SELECT post_id, subreddit, title, final_score, market_demand, pain_intensity, \
         monetization_potential, market_gap, technical_feasibility, simplicity, scorer_id, app_name, \
         app_concept, core_functions, permalink, score, num_comments, evidence FROM (SELECT *, row_number() OVER \
         (PARTITION BY post_id ORDER BY CASE WHEN scorer_id LIKE 'llm%' THEN 0 ELSE 1 END, scored_at DESC) \
         AS pick FROM opportunities WHERE {}) AS o WHERE pick = 1 \
         ORDER BY final_score DESC, post_id LIMIT {}",
        filters.join(" AND "),
        args.top
    )
}

/// The top opportunities as JSON rows (empty when nothing was scored yet): `evidence` as stored
/// (JSON, not its text) and `reasons`, its sentences.
pub fn top(
    dest: &mut dyn harbor_core::destination::Destination,
    args: &OpportunitiesArgs,
) -> anyhow::Result<Vec<Value>> {
    let have = source::existing_tables(dest, &[TABLE, "opportunities"]).map_err(dest_error)?;
    if have.len() < 2 {
        return Ok(Vec::new());
    }
    let mut rows = dest.query_json(&query(args)).map_err(dest_error)?;
    for row in &mut rows {
        if let Some(text) = row["evidence"].as_str()
            && let Ok(parsed) = serde_json::from_str::<Value>(text)
        {
            row["evidence"] = parsed;
        }
        row["reasons"] = serde_json::to_value(harbor_ai::explain(&row["evidence"]))?;
    }
    Ok(rows)
}

pub fn run(settings: &Settings, args: OpportunitiesArgs) -> anyhow::Result<()> {
    let mut dest = crate::dest::open(settings)?;
    let rows = top(dest.as_mut(), &args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no scored opportunities yet");
        eprintln!("hint: run `harbor score` after loading or collecting posts");
        return Ok(());
    }
    print_table(&rows);
    Ok(())
}

fn num(v: &Value) -> String {
    v.as_f64()
        .map(|f| format!("{f:.1}"))
        .unwrap_or_else(|| "-".into())
}

/// Prints rows as an aligned table on stdout, each followed by its evidence, a line per dimension.
pub fn print_table(rows: &[Value]) {
    println!(
        "{:>4}  {:>6}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}  {:<18} {:<10} title",
        "rank", "score", "dem", "pain", "money", "gap", "feas", "simp", "subreddit", "post"
    );
    for (i, r) in rows.iter().enumerate() {
        let title: String = r["title"].as_str().unwrap_or("").chars().take(70).collect();
        let title = match r["app_name"].as_str() {
            Some(app) if !app.is_empty() => format!("{title}  -> {app}"),
            _ => title,
        };
        println!(
            "{:>4}  {:>6}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}  {:<18} {:<10} {}",
            i + 1,
            num(&r["final_score"]),
            num(&r["market_demand"]),
            num(&r["pain_intensity"]),
            num(&r["monetization_potential"]),
            num(&r["market_gap"]),
            num(&r["technical_feasibility"]),
            num(&r["simplicity"]),
            r["subreddit"].as_str().unwrap_or(""),
            r["post_id"].as_str().unwrap_or(""),
            title
        );
        for reason in r["reasons"].as_array().into_iter().flatten() {
            let dimension = reason["dimension"].as_str().unwrap_or("");
            println!(
                "{:>14}{:<12} {}",
                "",
                harbor_ai::explain::label(dimension),
                reason["text"].as_str().unwrap_or("")
            );
        }
    }
}
