//! `/api/v1/opportunities`: scored posts, best first (reads issue 7's `opportunity_analysis`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Auth, READ};
use crate::db::{Columns, Dialect, Param, Row, col_or_null, has_col, has_table};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, decode_cursor, encode_cursor, page_size};
use crate::model::{Opportunity, OpportunityPage, Reason};
use crate::pages::OpportunityQuery;
use crate::state::AppState;
use crate::state::json_body;

/// Filters of the opportunity list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OpportunityFilter {
    /// Only this subreddit (case-insensitive).
    pub subreddit: Option<String>,
    /// Only opportunities with at least this final score (0-100).
    #[param(minimum = 0, maximum = 100)]
    pub min_score: Option<f64>,
    /// Only this scorer (e.g. `heuristic-v1`).
    pub scorer_id: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The select list of an opportunity row (read by [`opportunity_row`]).
pub(crate) fn opportunity_select(cols: &Columns, d: Dialect) -> String {
    let a = |c: &str, cast: &str| col_or_null(cols, "opportunity_analysis", "o", c, cast);
    let s = |c: &str, cast: &str| col_or_null(cols, "submissions", "s", c, cast);
    let ts = |table: &str, alias: &str, c: &str| {
        if has_col(cols, table, c) {
            format!("{} AS \"{c}\"", d.iso(&format!("{alias}.\"{c}\"")))
        } else {
            format!("NULL AS \"{c}\"")
        }
    };
    [
        "o.post_id".to_owned(),
        "o.scorer_id".to_owned(),
        a("final_score", "FLOAT8"),
        a("market_demand", "FLOAT8"),
        a("pain_intensity", "FLOAT8"),
        a("monetization_potential", "FLOAT8"),
        a("market_gap", "FLOAT8"),
        a("technical_feasibility", "FLOAT8"),
        a("simplicity", "FLOAT8"),
        a("evidence", "VARCHAR"),
        a("app_name", "VARCHAR"),
        a("problem_description", "VARCHAR"),
        a("app_concept", "VARCHAR"),
        a("core_functions", "VARCHAR"),
        a("value_proposition", "VARCHAR"),
        a("target_user", "VARCHAR"),
        a("monetization_model", "VARCHAR"),
        a("model", "VARCHAR"),
        ts("opportunity_analysis", "o", "scored_at"),
        s("title", "VARCHAR"),
        s("subreddit", "VARCHAR"),
        s("permalink", "VARCHAR"),
        s("score", "BIGINT"),
        s("num_comments", "BIGINT"),
        ts("submissions", "s", "created_utc"),
    ]
    .join(", ")
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)))
}

/// Reads a row of [`opportunity_select`].
pub(crate) fn opportunity_row(r: &Row) -> Result<Opportunity, ApiError> {
    let evidence = json(r.text(9)?);
    let reasons = evidence
        .as_ref()
        .map(harbor_ai::explain)
        .unwrap_or_default()
        .into_iter()
        .map(|e| Reason {
            dimension: e.dimension,
            text: e.text,
        })
        .collect();
    Ok(Opportunity {
        post_id: r.string(0)?,
        scorer_id: r.string(1)?,
        final_score: r.float(2)?,
        market_demand: r.float(3)?,
        pain_intensity: r.float(4)?,
        monetization_potential: r.float(5)?,
        market_gap: r.float(6)?,
        technical_feasibility: r.float(7)?,
        simplicity: r.float(8)?,
        evidence,
        reasons,
        app_name: r.text(10)?,
        problem_description: r.text(11)?,
        app_concept: r.text(12)?,
        core_functions: json(r.text(13)?),
        value_proposition: r.text(14)?,
        target_user: r.text(15)?,
        monetization_model: r.text(16)?,
        model: r.text(17)?,
        scored_at: r.text(18)?,
        title: r.text(19)?,
        subreddit: r.text(20)?,
        permalink: r.text(21)?,
        score: r.int(22)?,
        num_comments: r.int(23)?,
        created_utc: r.text(24)?,
    })
}

/// Scored opportunities, best first (status `scored` only).
#[utoipa::path(get, path = "/api/v1/opportunities", operation_id = "listOpportunities", tag = "data", params(OpportunityFilter),
    security(("bearer" = ["read"])),
    responses((status = 200, body = OpportunityPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    _auth: Auth<READ>,
    State(st): State<Arc<AppState>>,
    uri: Uri,
    ApiQuery(f): ApiQuery<OpportunityFilter>,
) -> Result<Response, ApiError> {
    let q = query(&st, f)?;
    let page_state = Arc::clone(&st);
    st.cached_body(&uri.to_string(), move || async move {
        if let Some(body) = page_state.pages.opportunity_page(&page_state, &q).await {
            return body;
        }
        json_body(&page(page_state, q).await?)
    })
    .await
}

/// The validated filters of a request.
fn query(st: &AppState, f: OpportunityFilter) -> Result<OpportunityQuery, ApiError> {
    let limit = page_size(f.limit, st.config.default_page, st.config.max_page)?;
    let after = f.cursor.as_deref().map(decode_after).transpose()?;
    if let Some(m) = f.min_score
        && !(0.0..=100.0).contains(&m)
    {
        return Err(ApiError::invalid("`min_score` must be within 0..=100"));
    }
    Ok(OpportunityQuery {
        subreddit: f.subreddit,
        min_score: f.min_score,
        scorer_id: f.scorer_id,
        after: after.map(|a| (a.score, a.post_id, a.scorer_id)),
        limit: limit as usize,
    })
}

/// Where the previous page ended: its last row's ranking key.
struct After {
    /// Its final score (`None`: NULL, ranked last).
    score: Option<f64>,
    post_id: String,
    scorer_id: String,
}

/// The cursor of the page after a row: its score (empty for NULL), post and scorer.
pub(crate) fn encode_after(score: Option<f64>, post_id: &str, scorer_id: &str) -> String {
    let score = score.map(|f| f.to_string()).unwrap_or_default();
    encode_cursor(&[score, post_id.to_owned(), scorer_id.to_owned()])
}

/// The join to the posts and the status filter of the listing, or `None` when there is no
/// analysis table to list.
pub(crate) fn opportunity_source(cols: &Columns) -> Option<(&'static str, Option<&'static str>)> {
    let needed = ["post_id", "scorer_id"];
    if !has_table(cols, "opportunity_analysis")
        || !needed.iter().all(|c| has_col(cols, "opportunity_analysis", c))
    {
        return None;
    }
    let join = if has_table(cols, "submissions") {
        "LEFT JOIN submissions s ON s.id = o.post_id"
    } else {
        "LEFT JOIN (SELECT CAST(NULL AS VARCHAR) AS id) s ON false"
    };
    // Not `COALESCE(status, 'scored') = 'scored'`: Postgres estimates an expression without
    // statistics at 0.5% of the rows and then sorts every analysis instead of walking the index.
    let status = has_col(cols, "opportunity_analysis", "status")
        .then_some("(o.status = 'scored' OR o.status IS NULL)");
    Some((join, status))
}

/// The ranking's `ORDER BY`: best first when the analyses have scores.
pub(crate) fn opportunity_order(scored: bool) -> &'static str {
    if scored {
        "o.final_score DESC NULLS LAST, o.post_id, o.scorer_id"
    } else {
        "o.post_id, o.scorer_id"
    }
}

fn decode_after(cursor: &str) -> Result<After, ApiError> {
    let bad = || ApiError::invalid("invalid cursor: pass `next_cursor` from the previous page");
    let mut parts = decode_cursor(cursor, 3)?.into_iter();
    let (score, post_id, scorer_id) = match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(p), Some(c)) => (s, p, c),
        _ => return Err(bad()),
    };
    let score = match score.as_str() {
        "" => None,
        s => Some(s.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(bad)?),
    };
    if post_id.is_empty() || post_id.len() > 64 || scorer_id.is_empty() || scorer_id.len() > 200 {
        return Err(bad());
    }
    Ok(After {
        score,
        post_id,
        scorer_id,
    })
}

async fn page(st: Arc<AppState>, f: OpportunityQuery) -> Result<OpportunityPage, ApiError> {
    let limit = f.limit as u32;
    let after = f.after.map(|(score, post_id, scorer_id)| After {
        score,
        post_id,
        scorer_id,
    });
    let cols = st.db.columns().await?;
    let Some((join, status)) = opportunity_source(&cols) else {
        return Ok(OpportunityPage {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let scored = has_col(&cols, "opportunity_analysis", "final_score");
    if !scored && after.as_ref().is_some_and(|a| a.score.is_some()) {
        return Err(ApiError::invalid(
            "invalid cursor: pass `next_cursor` from the previous page",
        ));
    }
    let mut wh: Vec<String> = Vec::new();
    let mut args: Vec<Param> = Vec::new();
    wh.extend(status.map(String::from));
    if let Some(sub) = &f.subreddit {
        wh.push(if has_col(&cols, "submissions", "subreddit") {
            "lower(s.subreddit) = lower(?)".into()
        } else {
            "(? IS NULL AND false)".into()
        });
        args.push(Param::Text(sub.clone()));
    }
    if let Some(m) = f.min_score {
        wh.push(if scored {
            "o.final_score >= ?".into()
        } else {
            "(? IS NULL AND false)".into()
        });
        args.push(Param::Float(m));
    }
    if let Some(sid) = &f.scorer_id {
        wh.push("o.scorer_id = ?".into());
        args.push(Param::Text(sid.clone()));
    }
    let order = opportunity_order(scored);
    let later = "(o.post_id > ? OR (o.post_id = ? AND o.scorer_id > ?))";
    let later_args = |a: &After| {
        vec![
            Param::Text(a.post_id.clone()),
            Param::Text(a.post_id.clone()),
            Param::Text(a.scorer_id.clone()),
        ]
    };
    // Keyset pages: the rows after the cursor's key. Scored rows come first, by score; a page
    // that runs out of them continues with the unscored ones (NULL, ranked last), so each part
    // is one range of the ranking index (Postgres: `opportunity_analysis_hapi_rank`).
    let mut parts: Vec<(Vec<String>, Vec<Param>)> = Vec::new();
    match &after {
        None => parts.push((wh.clone(), args.clone())),
        Some(a) => match a.score {
            Some(score) => {
                let mut w = wh.clone();
                let mut p = args.clone();
                w.push(format!("o.final_score <= ? AND (o.final_score < ? OR {later})"));
                p.extend([Param::Float(score), Param::Float(score)]);
                p.extend(later_args(a));
                parts.push((w, p));
                if f.min_score.is_none() {
                    let mut w = wh.clone();
                    w.push("o.final_score IS NULL".into());
                    parts.push((w, args.clone()));
                }
            }
            None => {
                let mut w = wh.clone();
                let mut p = args.clone();
                if scored {
                    w.push("o.final_score IS NULL".into());
                }
                w.push(later.into());
                p.extend(later_args(a));
                parts.push((w, p));
            }
        },
    }
    let d = st.db.dialect();
    let want = limit as usize + 1;
    let mut items: Vec<Opportunity> = Vec::new();
    for (w, p) in parts {
        if items.len() >= want {
            break;
        }
        let n = want - items.len();
        let filter = if w.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", w.join(" AND "))
        };
        let sql = match d {
            // The page's row ids first (a top-N over the narrow ranking columns, joined with the
            // posts only when a subreddit filter needs them), then only their wide rows.
            Dialect::DuckDb => {
                let inner_join = if f.subreddit.is_some() { join } else { "" };
                format!(
                    "SELECT {} FROM opportunity_analysis o {join} WHERE o.rowid IN \
                     (SELECT o.rowid FROM opportunity_analysis o {inner_join} {filter} ORDER BY {order} \
                     LIMIT {n}) ORDER BY {order}",
                    opportunity_select(&cols, d),
                )
            }
            // The page from the ranking index first, then its posts: joining before the limit
            // would join every analysis. A subreddit filter needs the post inside.
            Dialect::Postgres if f.subreddit.is_none() => format!(
                "SELECT {} FROM (SELECT o.* FROM opportunity_analysis o {filter} ORDER BY {order} LIMIT {n}) o \
                 {join} ORDER BY {order}",
                opportunity_select(&cols, d),
            ),
            Dialect::Postgres => format!(
                "SELECT {} FROM opportunity_analysis o {join} {filter} ORDER BY {order} LIMIT {n}",
                opportunity_select(&cols, d),
            ),
        };
        for r in st.db.query(sql, p).await?.iter() {
            items.push(opportunity_row(r)?);
        }
    }
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|o| encode_after(o.final_score, &o.post_id, &o.scorer_id))
    } else {
        None
    };
    Ok(OpportunityPage { items, next_cursor })
}
