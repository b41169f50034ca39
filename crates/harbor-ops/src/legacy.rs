//! Reading the legacy RedditHarbor databases, in both layouts in use:
//!
//! - [`Layout::Original`]: `submission(submission_id, redditor_id, created_at, title, text, subreddit,
//!   permalink, attachment, flair, awards, score, upvote_ratio, num_comments, edited, archived,
//!   removed, poll)`, `comment(comment_id, link_id, subreddit, parent_id, redditor_id, created_at,
//!   body, score, edited, removed)`, `redditor(redditor_id, name, created_at, karma, is_gold, is_mod,
//!   trophy, removed)`, where `score`, `upvote_ratio` and `num_comments` are `{ISO time: value}`
//!   time series (jsonb);
//! - [`Layout::Plan`]: `submissions(id, created_utc, title, selftext, subreddit, author, score,
//!   num_comments, url)`, `comments(id, submission_id, created_utc, body, author, score)`.
//!
//! Rows are read as JSON objects with every column cast to text by the database, then typed here.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::metrics::epoch_of;
use crate::store::{SqlStore, Value, quote};

/// A legacy table layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// The original RedditHarbor tables (`submission`, `comment`, `redditor`).
    Original,
    /// The migration plan's tables (`submissions`, `comments`).
    Plan,
}

/// Detects the layout of a legacy database.
pub fn detect(store: &mut dyn SqlStore) -> Result<Layout> {
    if store.columns("submission")?.iter().any(|c| c == "submission_id") {
        return Ok(Layout::Original);
    }
    if store.columns("submissions")?.iter().any(|c| c == "id") {
        return Ok(Layout::Plan);
    }
    Err(Error::invalid(format!(
        "{} has neither the original RedditHarbor tables (submission, comment, redditor) nor the plan's \
         (submissions, comments)",
        store.describe()
    )))
}

/// Reads a whole table as rows of `column -> text` (NULL stays null), optionally filtered by a
/// lowercased subreddit. Columns are cast to text, so any type reads.
pub fn read_table(
    store: &mut dyn SqlStore,
    table: &str,
    subreddit: Option<&str>,
) -> Result<Vec<Map<String, Json>>> {
    let cols = store.columns(table)?;
    if cols.is_empty() {
        return Ok(Vec::new());
    }
    let select: Vec<String> = cols
        .iter()
        .map(|c| format!("CAST({} AS TEXT)", quote(c)))
        .collect();
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), quote(table));
    let mut params = Vec::new();
    if let Some(s) = subreddit.filter(|_| cols.iter().any(|c| c == "subreddit")) {
        sql.push_str(" WHERE lower(subreddit) = CAST($1 AS TEXT)");
        params.push(Value::from(s.to_ascii_lowercase()));
    }
    let rows = store.query(&sql, &params, &format!("read legacy table {table}"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            cols.iter()
                .zip(r)
                .map(|(c, v)| (c.clone(), v.as_text().map_or(Json::Null, Json::String)))
                .collect()
        })
        .collect())
}

/// A text cell.
pub fn text(row: &Map<String, Json>, col: &str) -> Option<String> {
    row.get(col).and_then(Json::as_str).map(str::to_owned)
}

/// Epoch seconds of a cell holding a timestamp or a number.
pub fn epoch(row: &Map<String, Json>, col: &str) -> Option<f64> {
    let s = text(row, col)?;
    if let Ok(n) = s.trim().parse::<f64>() {
        return Some(n);
    }
    let t = s.trim();
    // Postgres prints timestamptz with an offset (`2024-01-02 03:04:05+00`).
    if let Ok(t) = chrono::DateTime::parse_from_str(&format!("{t}00"), "%Y-%m-%d %H:%M:%S%.f%z") {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    epoch_of(t)
}

/// A number cell (plain, or the latest value of a `{time: value}` series).
pub fn number(row: &Map<String, Json>, col: &str) -> Option<Json> {
    let s = text(row, col)?;
    match serde_json::from_str::<Json>(&s).ok()? {
        Json::Object(series) => latest(&series).map(|(_, v)| v),
        n @ Json::Number(_) => Some(n),
        _ => None,
    }
}

/// A boolean cell (`true`/`t`/`false`/`f`), or a JSON value's truthiness.
pub fn boolean(row: &Map<String, Json>, col: &str) -> Option<bool> {
    match text(row, col)?.trim() {
        "true" | "t" => Some(true),
        "false" | "f" => Some(false),
        other => match serde_json::from_str::<Json>(other).ok()? {
            Json::Bool(b) => Some(b),
            Json::Object(series) => latest(&series).and_then(|(_, v)| v.as_bool()),
            _ => None,
        },
    }
}

/// A JSON cell.
pub fn json(row: &Map<String, Json>, col: &str) -> Option<Json> {
    serde_json::from_str(&text(row, col)?).ok()
}

/// The entries of a `{ISO time: value}` series as `(epoch, value)`, oldest first.
pub fn series(row: &Map<String, Json>, col: &str) -> Vec<(f64, Json)> {
    let Some(Json::Object(m)) = json(row, col) else {
        return Vec::new();
    };
    let mut v: Vec<(f64, Json)> = m
        .into_iter()
        .filter_map(|(k, v)| Some((parse_time(&k)?, v)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

fn parse_time(k: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(k)
        .ok()
        .map(|t| t.timestamp_micros() as f64 / 1e6)
        .or_else(|| epoch_of(k))
        .or_else(|| k.parse().ok())
}

fn latest(series: &Map<String, Json>) -> Option<(f64, Json)> {
    series
        .iter()
        .filter_map(|(k, v)| Some((parse_time(k)?, v.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// A fullname with its prefix (`t3_abc`), whether the legacy value had one or not.
pub fn fullname(prefix: &str, id: &str) -> String {
    if id.starts_with("t1_") || id.starts_with("t3_") || id.starts_with("t2_") {
        id.to_owned()
    } else {
        format!("{prefix}{id}")
    }
}

/// A bare id (`abc` from `t3_abc`).
pub fn bare(id: &str) -> &str {
    match id.split_once('_') {
        Some((p, rest)) if p.len() == 2 && p.starts_with('t') => rest,
        _ => id,
    }
}

/// Whether a legacy author value means a deleted account.
pub fn deleted_author(v: Option<&str>) -> bool {
    matches!(
        v.map(str::trim),
        None | Some("") | Some("[deleted]") | Some("None") | Some("null")
    )
}
