//! The page index of `/submissions`: newest first, as `ORDER BY k DESC, s.id DESC`.

use axum::body::Bytes;

use super::{Built, PageIndex, Rendered, Slot, Subreddits};
use crate::db::{Cell, Columns, Dialect, has_col, has_table};
use crate::error::ApiError;
use crate::extract::encode_cursor;
use crate::routes::submissions::{submission_columns, submission_row};

/// What a page of submissions asks for (validated by the route).
#[derive(Debug, Clone, Default)]
pub struct SubmissionQuery {
    /// Subreddit, compared case-insensitively.
    pub subreddit: Option<String>,
    /// Sort key (µs) at least this.
    pub since: Option<i64>,
    /// Sort key (µs) below this.
    pub until: Option<i64>,
    /// `COALESCE(is_problem, false)` equals this.
    pub is_problem: Option<bool>,
    /// Score at least this.
    pub min_score: Option<i64>,
    /// The cursor: rows strictly after this key and id.
    pub after: Option<(i64, String)>,
    /// Page size.
    pub limit: usize,
}

struct Key {
    k: i64,
    id: Box<str>,
    score: Option<i64>,
    problem: bool,
    row: u32,
}

/// Every submission's listing row, newest first.
pub struct SubmissionIndex {
    generation: u64,
    rows: Rendered,
    keys: Vec<Key>,
    subreddits: Subreddits,
    /// `Some(exact)`: the column exists, and `exact` when every stored value is an integer or
    /// NULL (so `score >= m` compares integers as SQL does).
    score: Option<bool>,
    is_problem: Option<bool>,
}

impl Built for SubmissionIndex {
    const TABLE: &'static str = "submissions";

    fn slot(pages: &PageIndex) -> &Slot<Self> {
        &pages.submissions
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn build(
        c: &duckdb::Connection,
        generation: u64,
        cols: &Columns,
        budget: usize,
    ) -> Result<Option<Self>, ApiError> {
        let d = Dialect::DuckDb;
        let has = |col: &str| has_col(cols, "submissions", col);
        let mut ix = SubmissionIndex {
            generation,
            rows: Rendered::default(),
            keys: Vec::new(),
            subreddits: Subreddits::group(false, &[], std::iter::empty()),
            score: has("score").then_some(true),
            is_problem: has("is_problem").then_some(true),
        };
        if !has_table(cols, "submissions") {
            return Ok(Some(ix));
        }
        // Typed NULLs for missing columns: a bare NULL has no type the driver reads.
        let raw = |col: &str, ty: &str| {
            if has(col) {
                format!("s.\"{col}\"")
            } else {
                format!("CAST(NULL AS {ty})")
            }
        };
        let sql = format!(
            "SELECT {}, lower({}), {}, {} FROM submissions s",
            submission_columns(cols, d),
            raw("subreddit", "VARCHAR"),
            raw("score", "BIGINT"),
            raw("is_problem", "BOOLEAN"),
        );
        let mut subreddits: Vec<Option<String>> = Vec::new();
        let mut fits = true;
        crate::db::duck_each(c, &sql, &[], |r| {
            let (submission, k) = submission_row(&r)?;
            let score = match r.0.get(13) {
                Some(Cell::Int(v)) => Some(*v),
                Some(Cell::Null) | None => None,
                Some(_) => {
                    ix.score = Some(false);
                    None
                }
            };
            let problem = match r.0.get(14) {
                Some(Cell::Bool(b)) => *b,
                Some(Cell::Null) | None => false,
                Some(_) => {
                    ix.is_problem = Some(false);
                    false
                }
            };
            subreddits.push(r.text(12)?);
            ix.keys.push(Key {
                k,
                id: submission.id.clone().into_boxed_str(),
                score,
                problem,
                row: ix.rows.len() as u32,
            });
            fits = ix.rows.push(&submission, budget)?;
            Ok(fits)
        })?;
        if !fits {
            return Ok(None);
        }
        ix.keys.sort_unstable_by(|a, b| (b.k, &*b.id).cmp(&(a.k, &*a.id)));
        ix.subreddits = Subreddits::group(has("subreddit"), &subreddits, ix.keys.iter().map(|k| k.row));
        ix.rows.shrink();
        Ok(Some(ix))
    }
}

impl SubmissionIndex {
    /// The page's JSON, or `None` when this query needs SQL.
    pub fn page(&self, q: &SubmissionQuery) -> Option<Result<Bytes, ApiError>> {
        let empty = || Some(self.rows.page(&[], None));
        let subset = self.subreddits.subset(q.subreddit.as_deref(), self.keys.len())?;
        match (q.is_problem, self.is_problem) {
            (Some(true), None) => return empty(),
            (Some(_), Some(false)) => return None,
            _ => {}
        }
        match (q.min_score, self.score) {
            (Some(_), None) => return empty(),
            (Some(_), Some(false)) => return None,
            _ => {}
        }
        let len = subset.len();
        let at = |i: usize| -> &Key { &self.keys[subset.pos(i)] };
        // The keys run from the newest down: the first row below `until`, and after the cursor.
        let mut start = 0;
        if let Some(until) = q.until {
            start = start.max(partition(len, |i| at(i).k >= until));
        }
        if let Some((key, id)) = &q.after {
            start = start.max(partition(len, |i| (at(i).k, &*at(i).id) >= (*key, id.as_str())));
        }
        let want = q.limit + 1;
        let mut picked: Vec<&Key> = Vec::with_capacity(want.min(len));
        for i in start..len {
            let key = at(i);
            if q.since.is_some_and(|s| key.k < s) {
                break;
            }
            if q.is_problem.is_some_and(|p| p != key.problem) {
                continue;
            }
            if q.min_score.is_some_and(|m| key.score.is_none_or(|v| v < m)) {
                continue;
            }
            picked.push(key);
            if picked.len() == want {
                break;
            }
        }
        let next = (picked.len() > q.limit).then(|| {
            picked.truncate(q.limit);
            picked
                .last()
                .map(|k| encode_cursor(&[k.k.to_string(), k.id.to_string()]))
        });
        let rows: Vec<usize> = picked.iter().map(|k| k.row as usize).collect();
        Some(self.rows.page(&rows, next.flatten().as_deref()))
    }
}

/// The first `i` in `0..len` for which `before(i)` is false (`before` holds for a prefix).
pub(super) fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}
