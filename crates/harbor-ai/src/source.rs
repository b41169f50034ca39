//! Reading posts and stored results back from the destination, in SQL that DuckDB and Postgres
//! both accept, and the `opportunities` view.

use std::collections::{BTreeSet, HashMap};

use harbor_core::destination::{Destination, DestinationError};
use serde_json::Value;

use crate::plan::Existing;
use crate::post::{Comment, Post};

/// The results table.
pub const TABLE: &str = "opportunity_analysis";

/// The view joining results with their submissions.
pub const VIEW_SQL: &str = "CREATE OR REPLACE VIEW opportunities AS \
SELECT o.post_id, o.scorer_id, o.final_score, o.market_demand, o.pain_intensity, \
o.monetization_potential, o.market_gap, o.technical_feasibility, o.simplicity, o.evidence, \
o.app_name, o.problem_description, o.app_concept, o.core_functions, o.value_proposition, \
o.target_user, o.monetization_model, o.growth_justification, o.status, o.failure_reason, o.model, \
o.prompt_version, o.prompt_tokens, o.completion_tokens, o.cost_usd, o.content_hash, o.scored_at, \
s.title, s.subreddit, s.permalink, s.score, s.num_comments, s.created_utc \
FROM opportunity_analysis o JOIN submissions s ON s.id = o.post_id";

/// Which posts to read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Only posts created at or after this UTC time (`YYYY-MM-DD HH:MM:SS`).
    pub since: Option<String>,
    /// Only these subreddits (case-insensitive).
    pub subreddits: Vec<String>,
    /// Top comments per post.
    pub top_comments: usize,
}

/// A post read back, with the collector's problem tag when it has one.
#[derive(Debug, Clone)]
pub struct StoredPost {
    /// The post.
    pub post: Post,
    /// `is_problem` as the collector tagged it (`None` when untagged).
    pub is_problem: Option<bool>,
}

/// SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The data tables that exist, among `names`.
pub fn existing_tables(
    dest: &mut dyn Destination,
    names: &[&str],
) -> Result<BTreeSet<String>, DestinationError> {
    let list: Vec<String> = names.iter().map(|n| literal(n)).collect();
    let rows = dest.query_json(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_name IN ({})",
        list.join(", ")
    ))?;
    Ok(rows
        .iter()
        .filter_map(|r| r["table_name"].as_str().map(str::to_owned))
        .collect())
}

fn columns(dest: &mut dyn Destination, table: &str) -> Result<BTreeSet<String>, DestinationError> {
    let rows = dest.query_json(&format!(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = {}",
        literal(table)
    ))?;
    Ok(rows
        .iter()
        .filter_map(|r| r["column_name"].as_str().map(str::to_owned))
        .collect())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Reads submissions (and their top comments).
pub fn read_posts(
    dest: &mut dyn Destination,
    opts: &ReadOptions,
) -> Result<Vec<StoredPost>, DestinationError> {
    let tables = existing_tables(dest, &["submissions", "comments"])?;
    if !tables.contains("submissions") {
        return Ok(Vec::new());
    }
    let cols = columns(dest, "submissions")?;
    let opt = |c: &str, ty: &str| {
        if cols.contains(c) {
            format!("s.{c}")
        } else {
            format!("CAST(NULL AS {ty}) AS {c}")
        }
    };
    let mut filters = Vec::new();
    if let Some(since) = &opts.since {
        filters.push(format!("s.created_utc >= CAST({} AS TIMESTAMP)", literal(since)));
    }
    if !opts.subreddits.is_empty() {
        let list: Vec<String> = opts
            .subreddits
            .iter()
            .map(|s| literal(&s.to_lowercase()))
            .collect();
        filters.push(format!("lower(s.subreddit) IN ({})", list.join(", ")));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let sql = format!(
        "SELECT s.id, s.subreddit, s.title, s.selftext, s.score, s.num_comments, {}, {} \
         FROM submissions s{filter} ORDER BY s.id",
        opt("upvote_ratio", "DOUBLE PRECISION"),
        opt("is_problem", "BOOLEAN"),
    );
    let rows = dest.query_json(&sql)?;
    let mut posts: Vec<StoredPost> = rows
        .iter()
        .filter_map(|r| {
            let id = r["id"].as_str()?.to_owned();
            Some(StoredPost {
                post: Post {
                    id,
                    subreddit: text(&r["subreddit"]),
                    title: text(&r["title"]),
                    body: text(&r["selftext"]),
                    score: r["score"].as_i64().unwrap_or(0),
                    num_comments: r["num_comments"].as_i64().unwrap_or(0),
                    upvote_ratio: r["upvote_ratio"].as_f64(),
                    comments: Vec::new(),
                },
                is_problem: r["is_problem"].as_bool(),
            })
        })
        .collect();
    if tables.contains("comments") && opts.top_comments > 0 && !posts.is_empty() {
        let ccols = columns(dest, "comments")?;
        if ccols.contains("link_id") && ccols.contains("body") {
            let sql = format!(
                "SELECT link_id, body, score FROM (SELECT link_id, body, score, row_number() OVER \
                 (PARTITION BY link_id ORDER BY score DESC NULLS LAST, id) AS rn FROM comments \
                 WHERE body IS NOT NULL AND body NOT IN ('[deleted]', '[removed]')) AS c \
                 WHERE rn <= {} ORDER BY link_id, rn",
                opts.top_comments
            );
            let mut by_post: HashMap<String, Vec<Comment>> = HashMap::new();
            for r in dest.query_json(&sql)? {
                let Some(link) = r["link_id"].as_str() else {
                    continue;
                };
                let id = link.strip_prefix("t3_").unwrap_or(link).to_owned();
                by_post.entry(id).or_default().push(Comment {
                    body: text(&r["body"]),
                    score: r["score"].as_i64().unwrap_or(0),
                });
            }
            for p in &mut posts {
                if let Some(c) = by_post.remove(&p.post.id) {
                    p.post.comments = c;
                }
            }
        }
    }
    Ok(posts)
}

/// The scorer id `harbor import` gives the results it brings over from a legacy
/// `opportunity_analysis` table.
pub const IMPORTED_SCORER: &str = "imported";

/// What `opportunity_analysis` holds for one scorer, by post id. A post that only has an imported
/// result counts as scored (see [`crate::plan::plan`]): importing saves the LLM money the legacy
/// pipeline spent, unless a rescore is asked for.
pub fn read_existing(
    dest: &mut dyn Destination,
    scorer_id: &str,
) -> Result<HashMap<String, Existing>, DestinationError> {
    if !existing_tables(dest, &[TABLE])?.contains(TABLE) {
        return Ok(HashMap::new());
    }
    let rows = dest.query_json(&format!(
        "SELECT post_id, content_hash, status, scorer_id FROM {TABLE} WHERE scorer_id IN ({}, {}) \
         ORDER BY CASE WHEN scorer_id = {} THEN 1 ELSE 0 END",
        literal(scorer_id),
        literal(IMPORTED_SCORER),
        literal(scorer_id),
    ))?;
    let mut out = HashMap::new();
    for r in &rows {
        let Some(id) = r["post_id"].as_str() else {
            continue;
        };
        let imported = r["scorer_id"].as_str() == Some(IMPORTED_SCORER) && scorer_id != IMPORTED_SCORER;
        out.insert(
            id.to_owned(),
            Existing {
                content_hash: text(&r["content_hash"]),
                scored: r["status"].as_str() == Some("scored"),
                imported,
            },
        );
    }
    Ok(out)
}
