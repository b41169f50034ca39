//! The page index of `/submissions`: newest first, as `ORDER BY k DESC, s.id DESC`.

use axum::body::Bytes;

use super::{Built, DbOrder, PageIndex, Rendered, Slot, Subreddits, after_position, arrange, partition};
use crate::db::{Cell, Columns, Dialect, Row, has_col, has_table};
use crate::error::ApiError;
use crate::extract::encode_cursor;
use crate::routes::submissions::{sort_key, submission_columns, submission_row};

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
    /// Postgres: the order as the database sorts text.
    order: Option<DbOrder>,
}

/// A [`SubmissionIndex`] being read.
pub(crate) struct SubmissionBuild {
    ix: SubmissionIndex,
    /// Each row's `lower(subreddit)`.
    names: Vec<Option<String>>,
    has_subreddit: bool,
}

impl Built for SubmissionIndex {
    const TABLE: &'static str = "submissions";
    type Build = SubmissionBuild;

    fn slot(pages: &PageIndex) -> &Slot<Self> {
        &pages.submissions
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn start(generation: u64, cols: &Columns, d: Dialect) -> (SubmissionBuild, Vec<String>) {
        let has = |col: &str| has_col(cols, "submissions", col);
        let build = SubmissionBuild {
            ix: SubmissionIndex {
                generation,
                rows: Rendered::default(),
                keys: Vec::new(),
                subreddits: Subreddits::group(false, &[], std::iter::empty()),
                score: has("score").then_some(true),
                is_problem: has("is_problem").then_some(true),
                order: (d == Dialect::Postgres).then(DbOrder::default),
            },
            names: Vec::new(),
            has_subreddit: has("subreddit"),
        };
        if !has_table(cols, "submissions") {
            return (build, Vec::new());
        }
        // Typed NULLs for missing columns: a bare NULL has no type the driver reads.
        let raw = |col: &str, ty: &str| {
            if has(col) {
                format!("s.\"{col}\"")
            } else {
                format!("CAST(NULL AS {ty})")
            }
        };
        let mut stmts = vec![format!(
            "SELECT {}, lower({}), {}, {} FROM submissions s",
            submission_columns(cols, d),
            raw("subreddit", "VARCHAR"),
            raw("score", "BIGINT"),
            raw("is_problem", "BOOLEAN"),
        )];
        if build.ix.order.is_some() {
            stmts.push(format!(
                "SELECT s.id FROM submissions s ORDER BY {} DESC, s.id DESC",
                sort_key(cols, d)
            ));
        }
        (build, stmts)
    }

    fn add(b: &mut SubmissionBuild, stmt: usize, r: Row, budget: usize) -> Result<bool, ApiError> {
        let ix = &mut b.ix;
        if stmt == 1 {
            return DbOrder::next_in(&mut ix.order, &r.string(0)?);
        }
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
        b.names.push(r.text(12)?);
        let row = ix.rows.len() as u32;
        let id: Box<str> = submission.id.clone().into_boxed_str();
        if let Some(order) = &mut ix.order {
            order.row(id.clone(), row)?;
        }
        ix.keys.push(Key {
            k,
            id,
            score,
            problem,
            row,
        });
        ix.rows.push(&submission, budget)
    }

    fn finish(b: SubmissionBuild) -> Result<Self, ApiError> {
        let mut ix = b.ix;
        ix.subreddits = arrange(
            &mut ix.keys,
            |k| k.row,
            ix.order.as_ref(),
            |a, b| (b.k, &*b.id).cmp(&(a.k, &*a.id)),
            b.has_subreddit,
            &b.names,
        )?;
        ix.rows.shrink();
        Ok(ix)
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
        match (&q.after, &self.order) {
            (None, _) => {}
            (Some((key, id)), None) => {
                start = start.max(partition(len, |i| (at(i).k, &*at(i).id) >= (*key, id.as_str())));
            }
            // The database's text order: the cursor's row is looked up (gone or moved: SQL).
            (Some((key, id)), Some(order)) => {
                let pos = order.position(id).filter(|&p| self.keys[p].k == *key)?;
                start = start.max(after_position(&subset, pos));
            }
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
