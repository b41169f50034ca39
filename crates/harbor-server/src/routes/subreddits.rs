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
    let (first, last) = if has_col(&cols, "submissions", "created_utc") {
        (
            "strftime(min(created_utc), '%Y-%m-%dT%H:%M:%SZ')",
            "strftime(max(created_utc), '%Y-%m-%dT%H:%M:%SZ')",
        )
    } else {
        ("NULL", "NULL")
    };
    let sql = format!(
        "SELECT subreddit, count(*), {problem}, {first}, {last} FROM submissions \
         WHERE subreddit IS NOT NULL GROUP BY subreddit ORDER BY count(*) DESC, subreddit LIMIT 1000"
    );
    let items = st
        .db
        .run(move |c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(SubredditSummary {
                    name: r.get(0)?,
                    submissions: r.get(1)?,
                    problem_submissions: r.get(2)?,
                    first_post: r.get(3)?,
                    last_post: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(SubredditList { items }))
}
