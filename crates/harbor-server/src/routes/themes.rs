//! `/api/v1/themes` and `/api/v1/themes/{id}`: recurring problems across posts, ranked by growth
//! (the `themes`, `theme_members` and `theme_weeks` tables `harbor themes` writes).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, READ};
use crate::db::{Columns, Param, Row, col_or_null, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, decode_offset, encode_offset, page_size};
use crate::state::AppState;

/// Filters of the theme list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThemeFilter {
    /// Only themes with posts in this subreddit (case-insensitive).
    pub subreddit: Option<String>,
    /// Only themes with at least this many posts.
    #[param(minimum = 1)]
    pub min_posts: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A theme: one problem that many posts describe, with its counts and growth.
#[derive(Debug, Serialize, ToSchema)]
pub struct Theme {
    /// Stable id (`th-...`): kept when new posts join.
    pub id: String,
    /// Name: the theme's heaviest terms, or the LLM's name.
    pub name: Option<String>,
    /// The heaviest terms of the theme.
    pub terms: Vec<String>,
    /// Posts.
    pub posts: Option<i64>,
    /// Distinct authors.
    pub authors: Option<i64>,
    /// Subreddits with posts in the theme.
    pub subreddits: Option<i64>,
    /// Posts per subreddit, most first (`[{"subreddit", "posts"}]`).
    #[schema(value_type = Vec<Object>)]
    pub subreddit_counts: Option<serde_json::Value>,
    /// Posts in the last 4 weeks (up to the newest post's week).
    pub posts_last_4w: Option<i64>,
    /// Posts in the 4 weeks before.
    pub posts_prev_4w: Option<i64>,
    /// `(last - prev) / max(prev, 1)`: 1.0 = twice as many posts as the 4 weeks before.
    pub growth: Option<f64>,
    /// Best opportunity score of a post in the theme.
    pub best_score: Option<f64>,
    /// Posts in each of the last 12 weeks, oldest first (a sparkline).
    pub recent_weeks: Vec<i64>,
    /// Example posts: `[{"post_id", "subreddit", "title", "url", "quote"}]`.
    #[schema(value_type = Vec<Object>)]
    pub examples: Option<serde_json::Value>,
    /// Oldest post (RFC 3339).
    pub first_seen: Option<String>,
    /// Newest post (RFC 3339).
    pub last_seen: Option<String>,
}

/// A page of themes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemePage {
    /// Themes, fastest-growing first (then most posts).
    pub items: Vec<Theme>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A post of a theme.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeMember {
    /// Submission id.
    pub post_id: String,
    /// Cosine similarity to the theme's centre (0-1).
    pub similarity: Option<f64>,
    /// Subreddit.
    pub subreddit: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Link to the post.
    pub url: Option<String>,
    /// Best opportunity score of the post.
    pub best_score: Option<f64>,
}

/// Posts and distinct authors of one week (weeks start on Monday, UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeWeek {
    /// The Monday that starts the week (`YYYY-MM-DD`).
    pub week: String,
    /// The subreddit, or null for all subreddits together.
    pub subreddit: Option<String>,
    /// Posts.
    pub posts: Option<i64>,
    /// Distinct authors.
    pub authors: Option<i64>,
}

/// A theme with its posts and weekly counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeDetail {
    /// The theme.
    #[serde(flatten)]
    pub theme: Theme,
    /// Its posts, most central first.
    pub members: Vec<ThemeMember>,
    /// Weekly counts, oldest first: all subreddits (`subreddit` null), then per subreddit.
    pub weeks: Vec<ThemeWeek>,
}

const THEME_COLS: &[(&str, &str)] = &[
    ("name", "VARCHAR"),
    ("terms", "VARCHAR"),
    ("posts", "BIGINT"),
    ("authors", "BIGINT"),
    ("subreddits", "BIGINT"),
    ("subreddit_counts", "VARCHAR"),
    ("posts_last_4w", "BIGINT"),
    ("posts_prev_4w", "BIGINT"),
    ("growth", "FLOAT8"),
    ("best_score", "FLOAT8"),
    ("recent_weeks", "VARCHAR"),
    ("examples", "VARCHAR"),
    ("first_seen", "VARCHAR"),
    ("last_seen", "VARCHAR"),
];

fn select(cols: &Columns) -> String {
    std::iter::once("t.\"theme_id\"".to_owned())
        .chain(
            THEME_COLS
                .iter()
                .map(|(c, cast)| col_or_null(cols, "themes", "t", c, cast)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

fn theme(r: &Row) -> Result<Theme, ApiError> {
    let terms = r
        .text(2)?
        .map(|t| {
            t.split(", ")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let recent_weeks = r
        .text(11)?
        .and_then(|t| serde_json::from_str::<Vec<i64>>(&t).ok())
        .unwrap_or_default();
    Ok(Theme {
        id: r.string(0)?,
        name: r.text(1)?,
        terms,
        posts: r.int(3)?,
        authors: r.int(4)?,
        subreddits: r.int(5)?,
        subreddit_counts: json(r.text(6)?),
        posts_last_4w: r.int(7)?,
        posts_prev_4w: r.int(8)?,
        growth: r.float(9)?,
        best_score: r.float(10)?,
        recent_weeks,
        examples: json(r.text(12)?),
        first_seen: r.text(13)?,
        last_seen: r.text(14)?,
    })
}

fn ready(cols: &Columns) -> bool {
    has_table(cols, "themes") && has_col(cols, "themes", "theme_id")
}

fn active(cols: &Columns) -> &'static str {
    if has_col(cols, "themes", "status") {
        "COALESCE(t.status, 'active') = 'active'"
    } else {
        "true"
    }
}

fn order(cols: &Columns) -> String {
    let mut keys = Vec::new();
    for c in ["growth", "posts"] {
        if has_col(cols, "themes", c) {
            keys.push(format!("t.\"{c}\" DESC NULLS LAST"));
        }
    }
    keys.push("t.theme_id".to_owned());
    keys.join(", ")
}

/// Themes, fastest-growing first.
#[utoipa::path(get, path = "/api/v1/themes", operation_id = "listThemes", tag = "data", params(ThemeFilter),
    security(("bearer" = ["read"])),
    responses((status = 200, body = ThemePage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    uri: Uri,
    ApiQuery(f): ApiQuery<ThemeFilter>,
) -> Result<Response, ApiError> {
    let page_state = Arc::clone(&st);
    st.cached_json(&uri.to_string(), move || page(page_state, f))
        .await
}

async fn page(st: Arc<AppState>, f: ThemeFilter) -> Result<ThemePage, ApiError> {
    let limit = page_size(f.limit, st.config.default_page, st.config.max_page)?;
    let offset: u64 = match &f.cursor {
        Some(c) => decode_offset(c)?,
        None => 0,
    };
    if f.min_posts.is_some_and(|m| m < 1) {
        return Err(ApiError::invalid("`min_posts` must be at least 1"));
    }
    let cols = st.db.columns().await?;
    if !ready(&cols) {
        return Ok(ThemePage {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let mut wh = vec![active(&cols).to_owned()];
    let mut args = Vec::new();
    if let Some(sub) = &f.subreddit {
        wh.push(
            if has_col(&cols, "theme_members", "subreddit") && has_col(&cols, "theme_members", "theme_id") {
                "EXISTS (SELECT 1 FROM theme_members m WHERE m.theme_id = t.theme_id \
                 AND lower(m.subreddit) = lower(?))"
                    .into()
            } else {
                "(? IS NULL AND false)".into()
            },
        );
        args.push(Param::Text(sub.clone()));
    }
    if let Some(m) = f.min_posts {
        wh.push(if has_col(&cols, "themes", "posts") {
            "t.posts >= ?".into()
        } else {
            "(? IS NULL AND false)".into()
        });
        args.push(Param::Int(m));
    }
    let sql = format!(
        "SELECT {} FROM themes t WHERE {} ORDER BY {} LIMIT {} OFFSET {offset}",
        select(&cols),
        wh.join(" AND "),
        order(&cols),
        limit + 1
    );
    let mut items = st
        .db
        .query(sql, args)
        .await?
        .iter()
        .map(theme)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        Some(encode_offset(offset + u64::from(limit)))
    } else {
        None
    };
    Ok(ThemePage { items, next_cursor })
}

/// A theme id: `th-` and hex digits (with a `-N` suffix after a hash collision).
fn theme_id(raw: &str) -> Result<String, ApiError> {
    let ok = raw.len() <= 64
        && raw.starts_with("th-")
        && raw[3..].chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && raw.len() > 3;
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::invalid(format!(
            "`{}` is not a theme id (th- and hex digits)",
            raw.chars().take(80).collect::<String>()
        )))
    }
}

/// One theme with its posts and weekly counts.
#[utoipa::path(get, path = "/api/v1/themes/{id}", operation_id = "getTheme", tag = "data",
    params(("id" = String, Path, description = "Theme id (`th-...`)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = ThemeDetail), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ThemeDetail>, ApiError> {
    let id = theme_id(&id)?;
    let cols = st.db.columns().await?;
    if !ready(&cols) {
        return Err(ApiError::not_found(format!("no theme {id}")));
    }
    let mut stmts = vec![(
        format!(
            "SELECT {} FROM themes t WHERE t.theme_id = ? LIMIT 1",
            select(&cols)
        ),
        vec![Param::Text(id.clone())],
    )];
    let members = has_table(&cols, "theme_members") && has_col(&cols, "theme_members", "post_id");
    if members {
        let m = |c: &str, cast: &str| col_or_null(&cols, "theme_members", "m", c, cast);
        let order = if has_col(&cols, "theme_members", "similarity") {
            "m.similarity DESC NULLS LAST, m.post_id"
        } else {
            "m.post_id"
        };
        stmts.push((
            format!(
                "SELECT m.\"post_id\", {}, {}, {}, {}, {}, {} FROM theme_members m WHERE m.theme_id = ? \
                 ORDER BY {order}",
                m("similarity", "FLOAT8"),
                m("subreddit", "VARCHAR"),
                m("title", "VARCHAR"),
                m("created_at", "VARCHAR"),
                m("url", "VARCHAR"),
                m("best_score", "FLOAT8"),
            ),
            vec![Param::Text(id.clone())],
        ));
    }
    let weeks = has_table(&cols, "theme_weeks") && has_col(&cols, "theme_weeks", "week");
    if weeks {
        let w = |c: &str, cast: &str| col_or_null(&cols, "theme_weeks", "w", c, cast);
        stmts.push((
            format!(
                "SELECT w.\"week\", {}, {}, {} FROM theme_weeks w WHERE w.theme_id = ? \
                 ORDER BY CASE WHEN w.subreddit IS NULL THEN 0 ELSE 1 END, w.subreddit, w.week",
                w("subreddit", "VARCHAR"),
                w("posts", "BIGINT"),
                w("authors", "BIGINT"),
            ),
            vec![Param::Text(id.clone())],
        ));
    }
    let answers = st.db.read(stmts).await?;
    let Some(row) = answers.first().and_then(|rows| rows.first()) else {
        return Err(ApiError::not_found(format!("no theme {id}")));
    };
    let theme = theme(row)?;
    let mut next = 1;
    let members = if members {
        next += 1;
        answers[1]
            .iter()
            .map(|r| {
                Ok(ThemeMember {
                    post_id: r.string(0)?,
                    similarity: r.float(1)?,
                    subreddit: r.text(2)?,
                    title: r.text(3)?,
                    created_at: r.text(4)?,
                    url: r.text(5)?,
                    best_score: r.float(6)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?
    } else {
        Vec::new()
    };
    let weeks = match answers.get(next) {
        Some(rows) if weeks => rows
            .iter()
            .map(|r| {
                Ok(ThemeWeek {
                    week: r.string(0)?,
                    subreddit: r.text(1)?,
                    posts: r.int(2)?,
                    authors: r.int(3)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
        _ => Vec::new(),
    };
    Ok(Json(ThemeDetail {
        theme,
        members,
        weeks,
    }))
}
