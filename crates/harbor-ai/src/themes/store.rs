//! Reading problem posts and stored themes back from a destination (SQL that DuckDB and Postgres
//! both accept), and the rows the themes step writes:
//!
//! - `themes` (merge on `theme_id`): one row per theme with its counts, growth, name and examples;
//! - `theme_members` (merge on `post_id`): which theme each post belongs to;
//! - `theme_weeks` (replaced by every run, which recomputes all of it): posts and distinct authors
//!   per theme and week, overall (`subreddit` NULL) and per subreddit.

use std::collections::{BTreeMap, HashMap};

use harbor_core::destination::{Destination, DestinationError};
use harbor_reddit::ProblemFilter;
use serde_json::{Value, json};

use super::group::{ExistingTheme, ThemePost};
use super::stats::Theme;
use crate::source::{self, literal};

/// The themes table.
pub const THEMES: &str = "themes";
/// The membership table.
pub const MEMBERS: &str = "theme_members";
/// The weekly counts table.
pub const WEEKS: &str = "theme_weeks";

/// Which posts the themes step reads.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Only posts created at or after this UTC time (`YYYY-MM-DD HH:MM:SS`).
    pub since: Option<String>,
    /// Only these subreddits (case-insensitive).
    pub subreddits: Vec<String>,
    /// Top comments per post that count in its text.
    pub top_comments: usize,
    /// Every post, not only problem posts.
    pub all_posts: bool,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The SQL expression of a time column as Unix seconds, by its declared type.
fn epoch_expr(col: &str, data_type: Option<&str>) -> String {
    match data_type.map(str::to_ascii_uppercase) {
        Some(t) if t.contains("TIMESTAMP") || t.contains("DATE") => {
            format!("CAST(EXTRACT(EPOCH FROM {col}) AS DOUBLE PRECISION)")
        }
        Some(t)
            if ["INT", "DOUBLE", "REAL", "FLOAT", "NUMERIC", "DECIMAL"]
                .iter()
                .any(|k| t.contains(k)) =>
        {
            format!("CAST({col} AS DOUBLE PRECISION)")
        }
        _ => "CAST(NULL AS DOUBLE PRECISION)".to_owned(),
    }
}

fn column_types(
    dest: &mut dyn Destination,
    table: &str,
) -> Result<HashMap<String, String>, DestinationError> {
    let rows = dest.query_json(&format!(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = {}",
        literal(table)
    ))?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r["column_name"].as_str()?.to_owned(), text(&r["data_type"]))))
        .collect())
}

/// Reads the problem posts: tagged `is_problem` by the collector, or untagged and matched by
/// `filter` (what `harbor score` picks), or with an opportunity score.
pub fn read_posts(
    dest: &mut dyn Destination,
    opts: &ReadOptions,
    filter: &ProblemFilter,
) -> Result<Vec<ThemePost>, DestinationError> {
    let tables = source::existing_tables(dest, &["submissions", "comments", source::TABLE])?;
    if !tables.contains("submissions") {
        return Ok(Vec::new());
    }
    let cols = column_types(dest, "submissions")?;
    let opt = |c: &str, ty: &str| {
        if cols.contains_key(c) {
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
    let filter_sql = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let sql = format!(
        "SELECT s.id, s.subreddit, s.title, s.selftext, {}, {}, {}, {} AS created_epoch \
         FROM submissions s{filter_sql} ORDER BY s.id",
        opt("author", "TEXT"),
        opt("permalink", "TEXT"),
        opt("is_problem", "BOOLEAN"),
        epoch_expr("s.created_utc", cols.get("created_utc").map(String::as_str)),
    );
    let rows = dest.query_json(&sql)?;
    let mut best: HashMap<String, f64> = HashMap::new();
    if tables.contains(source::TABLE) {
        for r in dest.query_json(&format!(
            "SELECT post_id, MAX(final_score) AS best FROM {} WHERE status = 'scored' GROUP BY post_id",
            source::TABLE
        ))? {
            if let (Some(id), Some(b)) = (r["post_id"].as_str(), r["best"].as_f64()) {
                best.insert(id.to_owned(), b);
            }
        }
    }
    let mut posts: Vec<ThemePost> = rows
        .iter()
        .filter_map(|r| {
            let id = r["id"].as_str()?.to_owned();
            let title = text(&r["title"]);
            let body = text(&r["selftext"]);
            let best_score = best.get(&id).copied();
            let problem = opts.all_posts
                || best_score.is_some()
                || r["is_problem"]
                    .as_bool()
                    .unwrap_or_else(|| !filter.matches(&title, &body).is_empty());
            problem.then(|| ThemePost {
                id,
                subreddit: text(&r["subreddit"]),
                author: r["author"].as_str().map(str::to_owned),
                created_utc: r["created_epoch"].as_f64(),
                title,
                body: if body == "[deleted]" || body == "[removed]" {
                    String::new()
                } else {
                    body
                },
                comments: Vec::new(),
                permalink: r["permalink"].as_str().map(str::to_owned),
                best_score,
            })
        })
        .collect();
    if tables.contains("comments") && opts.top_comments > 0 && !posts.is_empty() {
        let ccols = column_types(dest, "comments")?;
        if ccols.contains_key("link_id") && ccols.contains_key("body") {
            let score = if ccols.contains_key("score") { "score" } else { "0" };
            let sql = format!(
                "SELECT link_id, body FROM (SELECT link_id, body, row_number() OVER \
                 (PARTITION BY link_id ORDER BY {score} DESC NULLS LAST, id) AS rn FROM comments \
                 WHERE body IS NOT NULL AND body NOT IN ('[deleted]', '[removed]')) AS c \
                 WHERE rn <= {} ORDER BY link_id, rn",
                opts.top_comments
            );
            let mut by_post: HashMap<String, Vec<String>> = HashMap::new();
            for r in dest.query_json(&sql)? {
                let Some(link) = r["link_id"].as_str() else {
                    continue;
                };
                let id = link.strip_prefix("t3_").unwrap_or(link).to_owned();
                by_post.entry(id).or_default().push(text(&r["body"]));
            }
            for p in &mut posts {
                if let Some(c) = by_post.remove(&p.id) {
                    p.comments = c;
                }
            }
        }
    }
    Ok(posts)
}

/// Reads the stored themes and their members (empty before the first run).
pub fn read_existing(dest: &mut dyn Destination) -> Result<Vec<ExistingTheme>, DestinationError> {
    let tables = source::existing_tables(dest, &[THEMES, MEMBERS])?;
    if tables.len() < 2 {
        return Ok(Vec::new());
    }
    let mut themes: BTreeMap<String, ExistingTheme> = BTreeMap::new();
    let tcols = column_types(dest, THEMES)?;
    let name_source = if tcols.contains_key("name_source") {
        "name_source"
    } else {
        "CAST(NULL AS TEXT) AS name_source"
    };
    let live = if tcols.contains_key("status") {
        " WHERE COALESCE(status, 'active') <> 'merged'"
    } else {
        ""
    };
    for r in dest.query_json(&format!(
        "SELECT theme_id, name, {name_source} FROM {THEMES}{live}"
    ))? {
        let Some(id) = r["theme_id"].as_str() else {
            continue;
        };
        let llm_name = (r["name_source"].as_str() == Some("llm")).then(|| text(&r["name"]));
        themes.insert(
            id.to_owned(),
            ExistingTheme {
                id: id.to_owned(),
                members: Vec::new(),
                name: llm_name,
            },
        );
    }
    for r in dest.query_json(&format!(
        "SELECT theme_id, post_id FROM {MEMBERS} ORDER BY theme_id, post_id"
    ))? {
        if let (Some(t), Some(p)) = (r["theme_id"].as_str(), r["post_id"].as_str())
            && let Some(theme) = themes.get_mut(t)
        {
            theme.members.push(p.to_owned());
        }
    }
    Ok(themes.into_values().collect())
}

fn iso(secs: Option<f64>) -> Option<String> {
    let s = secs?;
    chrono::DateTime::from_timestamp(s.floor() as i64, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// How the themes of a run were made, written beside them.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// `offline`, or `offline+llm:<model>` after the LLM step.
    pub method: String,
    /// The similarity threshold.
    pub threshold: f32,
    /// The reference time of growth (Unix seconds).
    pub as_of: Option<f64>,
    /// When the run wrote them (Unix seconds).
    pub updated_at: f64,
}

/// A theme the LLM step merged into another: `(id, into, name)`.
pub type Merged = (String, String, String);

/// The rows of one run, by table, in the order they are written. `llm_named` holds the ids of
/// themes whose name came from the LLM; `merged` themes get a row with status `merged` and
/// `merged_into` (their posts belong to the theme they joined).
pub fn records(
    themes: &[Theme],
    posts: &[ThemePost],
    prov: &Provenance,
    llm_named: &std::collections::HashSet<String>,
    merged: &[Merged],
) -> Vec<(&'static str, Value)> {
    let by_id: HashMap<&str, &ThemePost> = posts.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut out = Vec::new();
    for (id, into, name) in merged {
        out.push((
            THEMES,
            json!({
                "theme_id": id,
                "name": name,
                "posts": 0,
                "status": "merged",
                "merged_into": into,
                "method": prov.method,
                "updated_at": prov.updated_at,
            }),
        ));
    }
    for t in themes {
        let subs: Vec<Value> = t
            .subreddits
            .iter()
            .map(|(s, n)| json!({"subreddit": s, "posts": n}))
            .collect();
        out.push((
            THEMES,
            json!({
                "theme_id": t.id,
                "name": t.name,
                "name_source": if llm_named.contains(&t.id) { "llm" } else { "terms" },
                "terms": t.terms.join(", "),
                "posts": t.posts,
                "authors": t.authors,
                "subreddits": t.subreddits.len(),
                "subreddit_counts": Value::Array(subs).to_string(),
                "posts_last_4w": t.posts_last_4w,
                "posts_prev_4w": t.posts_prev_4w,
                "growth": t.growth,
                "best_score": t.best_score,
                "recent_weeks": json!(t.recent_weeks).to_string(),
                "examples": json!(t.examples).to_string(),
                "first_seen": iso(t.first_seen),
                "last_seen": iso(t.last_seen),
                "as_of": iso(prov.as_of),
                "method": prov.method,
                "threshold": prov.threshold,
                "status": "active",
                "merged_into": null,
                "updated_at": prov.updated_at,
            }),
        ));
        for m in &t.members {
            let p = by_id.get(m.post_id.as_str());
            out.push((
                MEMBERS,
                json!({
                    "post_id": m.post_id,
                    "theme_id": t.id,
                    "similarity": m.similarity,
                    "subreddit": p.map(|p| p.subreddit.as_str()),
                    "title": p.map(|p| p.title.as_str()),
                    "created_at": iso(p.and_then(|p| p.created_utc)),
                    "url": super::stats::url(p.and_then(|p| p.permalink.as_deref())),
                    "best_score": p.and_then(|p| p.best_score),
                }),
            ));
        }
        for w in &t.weeks {
            out.push((
                WEEKS,
                json!({
                    "week_id": format!("{}|{}|{}", t.id, w.week, w.subreddit.as_deref().unwrap_or("*")),
                    "theme_id": t.id,
                    "week": w.week,
                    "subreddit": w.subreddit,
                    "posts": w.posts,
                    "authors": w.authors,
                }),
            ));
        }
    }
    out
}
