//! `/api/v1/submissions`: filtered, searched, cursor-paginated; one submission with its comments.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Auth, READ};
use crate::db::{Columns, Dialect, Param, Row, col_or_null, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{
    ApiQuery, decode_cursor, encode_cursor, like_pattern, page_size, parse_time, reddit_id,
};
use crate::model::{CommentNode, Submission, SubmissionDetail, SubmissionPage};
use crate::pages::SubmissionQuery;
use crate::state::{AppState, json_body};

/// Filters of the submission list. Every value is bound as a parameter, never spliced into SQL.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubmissionFilter {
    /// Only this subreddit (case-insensitive).
    pub subreddit: Option<String>,
    /// Created at or after (RFC 3339 or YYYY-MM-DD).
    pub since: Option<String>,
    /// Created before (RFC 3339 or YYYY-MM-DD).
    pub until: Option<String>,
    /// Only posts the problem filter matched (true) or did not match (false).
    pub is_problem: Option<bool>,
    /// Only posts with at least this score.
    pub min_score: Option<i64>,
    /// Text that title or body must contain (literally, case-insensitive; at most 200 characters).
    pub q: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The Unix epoch as a Postgres `timestamptz` constant (a constant keeps index expressions immutable).
const PG_EPOCH: &str = "TIMESTAMPTZ '1970-01-01 00:00:00+00'";

/// The sort key of a submission: its `created_utc` (the epoch when missing). DuckDB compares it
/// as microseconds since the epoch; Postgres compares the timestamp itself, so that the index
/// harbor creates on `COALESCE(created_utc, epoch)` (see `harbor_postgres::indexes`) answers the
/// ordering, the time filters and the keyset cursor. Both order rows the same way.
pub(crate) fn sort_key(cols: &Columns, d: Dialect) -> String {
    match (d, has_col(cols, "submissions", "created_utc")) {
        (Dialect::DuckDb, true) => format!("COALESCE({}, 0)", d.epoch_us("s.created_utc")),
        (Dialect::DuckDb, false) => "0".to_owned(),
        (Dialect::Postgres, true) => format!("COALESCE(s.created_utc, {PG_EPOCH})"),
        (Dialect::Postgres, false) => PG_EPOCH.to_owned(),
    }
}

/// A `?` placeholder for microseconds since the epoch, in the type of [`sort_key`].
fn key_param(d: Dialect) -> String {
    match d {
        Dialect::DuckDb => "?".to_owned(),
        Dialect::Postgres => format!("({PG_EPOCH} + CAST(? AS DOUBLE PRECISION) * INTERVAL '1 microsecond')"),
    }
}

/// Microseconds for [`key_param`]: Postgres' intervals hold about ±178 million years and are
/// multiplied in doubles, so keys are clamped to ±2^53 µs (±285 years around 1970, far beyond
/// any post), where every value is exact.
fn key_arg(d: Dialect, us: i64) -> Param {
    const EXACT: i64 = 1 << 53;
    Param::Int(match d {
        Dialect::DuckDb => us,
        Dialect::Postgres => us.clamp(-EXACT, EXACT),
    })
}

/// The sort key as microseconds since the epoch (BIGINT), for cursors.
fn sort_key_us(cols: &Columns, d: Dialect) -> String {
    match d {
        Dialect::DuckDb => sort_key(cols, d),
        Dialect::Postgres => d.epoch_us(&sort_key(cols, d)),
    }
}

/// The select list of a submission (missing columns are NULL) plus the sort key `k`.
pub fn submission_columns(cols: &Columns, d: Dialect) -> String {
    let created = if has_col(cols, "submissions", "created_utc") {
        format!("{} AS created_utc", d.iso("s.created_utc"))
    } else {
        "NULL AS created_utc".to_owned()
    };
    [
        "s.id AS id".to_owned(),
        col_or_null(cols, "submissions", "s", "title", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "selftext", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "subreddit", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "author", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "score", "BIGINT"),
        col_or_null(cols, "submissions", "s", "num_comments", "BIGINT"),
        created,
        format!("{} AS k", sort_key_us(cols, d)),
        col_or_null(cols, "submissions", "s", "permalink", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "url", "VARCHAR"),
        col_or_null(cols, "submissions", "s", "is_problem", "BOOLEAN"),
    ]
    .join(", ")
}

/// Reads a row of [`submission_columns`]; returns it with its sort key.
pub fn submission_row(r: &Row) -> Result<(Submission, i64), ApiError> {
    Ok((
        Submission {
            id: r.string(0)?,
            title: r.text(1)?,
            selftext: r.text(2)?,
            subreddit: r.text(3)?,
            author: r.text(4)?,
            score: r.int(5)?,
            num_comments: r.int(6)?,
            created_utc: r.text(7)?,
            permalink: r.text(9)?,
            url: r.text(10)?,
            is_problem: r.bool(11)?,
        },
        r.int(8)?.unwrap_or(0),
    ))
}

/// List submissions, newest first.
#[utoipa::path(get, path = "/api/v1/submissions", operation_id = "listSubmissions", tag = "data", params(SubmissionFilter),
    security(("bearer" = ["read"])),
    responses((status = 200, body = SubmissionPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    uri: Uri,
    ApiQuery(f): ApiQuery<SubmissionFilter>,
) -> Result<Response, ApiError> {
    let q = query(&st, &f)?;
    let page_state = Arc::clone(&st);
    st.cached_body(&uri.to_string(), move || async move {
        if f.q.is_none()
            && let Some(body) = page_state.pages.submission_page(&page_state, &q).await
        {
            return body;
        }
        json_body(&page(page_state, f, q).await?)
    })
    .await
}

/// The validated filters of a request (all but the full-text `q`, which only SQL answers).
fn query(st: &AppState, f: &SubmissionFilter) -> Result<SubmissionQuery, ApiError> {
    let limit = page_size(f.limit, st.config.default_page, st.config.max_page)?;
    if let Some(sub) = &f.subreddit
        && (sub.is_empty() || sub.len() > 100)
    {
        return Err(ApiError::invalid("`subreddit` must be 1-100 characters"));
    }
    let since = f.since.as_deref().map(|t| parse_time("since", t)).transpose()?;
    let until = f.until.as_deref().map(|t| parse_time("until", t)).transpose()?;
    let after = match &f.cursor {
        None => None,
        Some(c) => {
            let parts = decode_cursor(c, 2)?;
            let bad = || ApiError::invalid("invalid cursor: pass `next_cursor` from the previous page");
            let key: i64 = parts[0].parse().map_err(|_| bad())?;
            if parts[1].is_empty() || parts[1].len() > 64 {
                return Err(bad());
            }
            Some((key, parts[1].clone()))
        }
    };
    Ok(SubmissionQuery {
        subreddit: f.subreddit.clone(),
        since,
        until,
        is_problem: f.is_problem,
        min_score: f.min_score,
        after,
        limit: limit as usize,
    })
}

async fn page(
    st: Arc<AppState>,
    f: SubmissionFilter,
    pq: SubmissionQuery,
) -> Result<SubmissionPage, ApiError> {
    let limit = pq.limit as u32;
    let cols = st.db.columns().await?;
    if !has_table(&cols, "submissions") {
        return Ok(SubmissionPage {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let mut wh: Vec<String> = Vec::new();
    let mut args: Vec<Param> = Vec::new();
    let d = st.db.dialect();
    let k = sort_key(&cols, d);
    if let Some(sub) = &pq.subreddit {
        wh.push(if has_col(&cols, "submissions", "subreddit") {
            "lower(s.subreddit) = lower(?)".into()
        } else {
            "(? IS NULL AND false)".into()
        });
        args.push(Param::Text(sub.clone()));
    }
    if let Some(since) = pq.since {
        wh.push(format!("{k} >= {}", key_param(d)));
        args.push(key_arg(d, since));
    }
    if let Some(until) = pq.until {
        wh.push(format!("{k} < {}", key_param(d)));
        args.push(key_arg(d, until));
    }
    if let Some(p) = f.is_problem {
        if has_col(&cols, "submissions", "is_problem") {
            wh.push("COALESCE(s.is_problem, false) = ?".into());
            args.push(Param::Bool(p));
        } else if p {
            wh.push("false".into());
        }
    }
    if let Some(m) = f.min_score {
        wh.push(if has_col(&cols, "submissions", "score") {
            "s.score >= ?".into()
        } else {
            "(? IS NULL AND false)".into()
        });
        args.push(Param::Int(m));
    }
    if let Some(q) = &f.q {
        if q.is_empty() || q.chars().count() > 200 {
            return Err(ApiError::invalid("`q` must be 1-200 characters"));
        }
        let text: Vec<&str> = ["title", "selftext"]
            .into_iter()
            .filter(|c| has_col(&cols, "submissions", c))
            .collect();
        if text.is_empty() {
            wh.push("false".into());
        } else {
            let ors: Vec<String> = text
                .iter()
                .map(|c| format!("s.\"{c}\" ILIKE ? ESCAPE '\\'"))
                .collect();
            wh.push(format!("({})", ors.join(" OR ")));
            for _ in &text {
                args.push(Param::Text(like_pattern(q)));
            }
        }
    }
    if let Some((key, id)) = pq.after {
        let kp = key_param(d);
        wh.push(format!("({k} < {kp} OR ({k} = {kp} AND s.id < ?))"));
        args.extend([key_arg(d, key), key_arg(d, key), Param::Text(id)]);
    }
    let filter = if wh.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wh.join(" AND "))
    };
    let sql = match d {
        // The page's row ids first (a top-N over the narrow sort key), then only their wide rows:
        // a top-N over all columns would read every post's text.
        Dialect::DuckDb => format!(
            "SELECT {} FROM submissions s WHERE s.rowid IN (SELECT s.rowid FROM submissions s {filter} \
             ORDER BY {k} DESC, s.id DESC LIMIT {}) ORDER BY k DESC, s.id DESC",
            submission_columns(&cols, d),
            limit + 1
        ),
        // Postgres reads only the rows of the page from its indexes.
        Dialect::Postgres => format!(
            "SELECT {} FROM submissions s {filter} ORDER BY {k} DESC, s.id DESC LIMIT {}",
            submission_columns(&cols, d),
            limit + 1
        ),
    };
    let mut rows = st
        .db
        .query(sql, args)
        .await?
        .iter()
        .map(submission_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|(s, k)| encode_cursor(&[k.to_string(), s.id.clone()]))
    } else {
        None
    };
    Ok(SubmissionPage {
        items: rows.into_iter().map(|(s, _)| s).collect(),
        next_cursor,
    })
}

/// One submission with its comment tree.
#[utoipa::path(get, path = "/api/v1/submissions/{id}", operation_id = "getSubmission", tag = "data",
    params(("id" = String, Path, description = "Submission id (base 36, optionally with t3_)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = SubmissionDetail), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<SubmissionDetail>, ApiError> {
    let id = reddit_id(&id)?;
    let cols = st.db.columns().await?;
    if !has_table(&cols, "submissions") {
        return Err(ApiError::not_found(format!("no submission {id}")));
    }
    let d = st.db.dialect();
    let sql = format!(
        "SELECT {} FROM submissions s WHERE s.id = ? LIMIT 1",
        submission_columns(&cols, d)
    );
    let mut stmts = vec![(sql, vec![Param::Text(id.clone())])];
    if let Some(csql) = has_table(&cols, "comments")
        .then(|| comment_sql(&cols, d))
        .flatten()
    {
        stmts.push((csql, vec![Param::Text(format!("t3_{id}"))]));
    }
    let answers = st.db.read(stmts).await?;
    let sub = match answers.first().and_then(|rows| rows.first()) {
        Some(r) => Some(submission_row(r)?.0),
        None => None,
    };
    let comments = match answers.get(1) {
        Some(rows) if sub.is_some() => rows
            .iter()
            .map(|r| {
                Ok(CommentNode {
                    id: r.string(0)?,
                    parent_id: r.text(1)?,
                    author: r.text(2)?,
                    body: r.text(3)?,
                    score: r.int(4)?,
                    created_utc: r.text(5)?,
                    replies: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
        _ => Vec::new(),
    };
    let Some(submission) = sub else {
        return Err(ApiError::not_found(format!("no submission {id}")));
    };
    let comment_count = comments.len() as u64;
    Ok(Json(SubmissionDetail {
        submission,
        comments: build_tree(comments),
        comment_count,
    }))
}

fn comment_sql(cols: &Columns, d: Dialect) -> Option<String> {
    if !has_col(cols, "comments", "link_id") {
        return None;
    }
    let created = if has_col(cols, "comments", "created_utc") {
        format!("{} AS created_utc", d.iso("c.created_utc"))
    } else {
        "NULL AS created_utc".to_owned()
    };
    let order = if has_col(cols, "comments", "created_utc") {
        "c.created_utc, c.id"
    } else {
        "c.id"
    };
    Some(format!(
        "SELECT c.id, {}, {}, {}, {}, {created} FROM comments c WHERE c.link_id = ? ORDER BY {order} LIMIT 20000",
        col_or_null(cols, "comments", "c", "parent_id", "VARCHAR"),
        col_or_null(cols, "comments", "c", "author", "VARCHAR"),
        col_or_null(cols, "comments", "c", "body", "VARCHAR"),
        col_or_null(cols, "comments", "c", "score", "BIGINT"),
    ))
}

/// Nests comments under their parents (`t1_<id>`); comments whose parent is the post, or missing,
/// are top-level. Input order (oldest first) is kept among siblings.
pub fn build_tree(comments: Vec<CommentNode>) -> Vec<CommentNode> {
    let index: HashMap<String, usize> = comments
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), i))
        .collect();
    let parent_of: Vec<Option<usize>> = comments
        .iter()
        .map(|c| {
            c.parent_id
                .as_deref()
                .and_then(|p| p.strip_prefix("t1_"))
                .and_then(|p| index.get(p).copied())
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); comments.len()];
    let mut roots = Vec::new();
    for (i, p) in parent_of.iter().enumerate() {
        match p {
            Some(p) if *p != i => children[*p].push(i),
            _ => roots.push(i),
        }
    }
    let mut slots: Vec<Option<CommentNode>> = comments.into_iter().map(Some).collect();
    // Assemble bottom-up without recursion: post-order over an explicit stack.
    let mut order = Vec::new();
    let mut stack: Vec<usize> = roots.clone();
    let mut seen = vec![false; slots.len()];
    while let Some(i) = stack.pop() {
        seen[i] = true;
        order.push(i);
        stack.extend(children[i].iter().copied());
    }
    // Parent links that form a cycle are unreachable from the post: show those comments top-level.
    for i in 0..slots.len() {
        if !seen[i] {
            children[i].clear();
            roots.push(i);
            order.push(i);
        }
    }
    for &i in order.iter().rev() {
        let kids: Vec<CommentNode> = children[i].iter().filter_map(|&k| slots[k].take()).collect();
        if let Some(node) = slots[i].as_mut() {
            node.replies = kids;
        }
    }
    roots.into_iter().filter_map(|i| slots[i].take()).collect()
}
