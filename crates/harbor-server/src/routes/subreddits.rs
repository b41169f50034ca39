//! `/api/v1/subreddits`: what the dataset holds per subreddit.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::auth::{Auth, READ};
use crate::db::{has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::model::{SubredditList, SubredditSummary};
use crate::state::AppState;

/// Subreddits with stored submissions, largest first.
#[utoipa::path(get, path = "/api/v1/subreddits", operation_id = "listSubreddits", tag = "data",
    security(("bearer" = ["read"])),
    responses((status = 200, body = SubredditList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
) -> Result<Json<SubredditList>, ApiError> {
    let cols = st.db.columns().await?;
    if !has_table(&cols, "submissions") || !has_col(&cols, "submissions", "subreddit") {
        return Ok(Json(SubredditList { items: Vec::new() }));
    }
    let problem = if has_col(&cols, "submissions", "is_problem") {
        "count(*) FILTER (WHERE is_problem)"
    } else {
        "0"
    };
    let d = st.db.dialect();
    let (first, last) = if has_col(&cols, "submissions", "created_utc") {
        (d.iso("min(created_utc)"), d.iso("max(created_utc)"))
    } else {
        ("NULL".to_owned(), "NULL".to_owned())
    };
    let sql = format!(
        "SELECT CAST(subreddit AS VARCHAR), count(*), {problem}, {first}, {last} FROM submissions \
         WHERE subreddit IS NOT NULL GROUP BY subreddit ORDER BY count(*) DESC, subreddit LIMIT 1000"
    );
    let items = st
        .db
        .query(sql, Vec::new())
        .await?
        .iter()
        .map(|r| {
            Ok(SubredditSummary {
                name: r.string(0)?,
                submissions: r.int(1)?.unwrap_or(0),
                problem_submissions: r.int(2)?.unwrap_or(0),
                first_post: r.text(3)?,
                last_post: r.text(4)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(SubredditList { items }))
}
