//! The page index of `/opportunities`: best first, as
//! `ORDER BY o.final_score DESC NULLS LAST, o.post_id, o.scorer_id`, status `scored` only.

use std::cmp::Ordering;

use axum::body::Bytes;

use super::{Built, DbOrder, PageIndex, Rendered, Slot, Subreddits, after_position, arrange, partition};
use crate::db::{Cell, Columns, Dialect, Row, has_col, has_table};
use crate::error::ApiError;
use crate::routes::opportunities::{
    encode_after, opportunity_order, opportunity_row, opportunity_select, opportunity_source,
};

/// What a page of opportunities asks for (validated by the route).
#[derive(Debug, Clone, Default)]
pub struct OpportunityQuery {
    /// Subreddit of the post, compared case-insensitively.
    pub subreddit: Option<String>,
    /// Final score at least this.
    pub min_score: Option<f64>,
    /// Only this scorer.
    pub scorer_id: Option<String>,
    /// The cursor: rows strictly after this score, post and scorer.
    pub after: Option<(Option<f64>, String, String)>,
    /// Page size.
    pub limit: usize,
}

struct Key {
    score: Option<f64>,
    post_id: Box<str>,
    scorer_id: Box<str>,
    row: u32,
}

/// DuckDB's order of doubles: NaN above every number, -0 equal to 0, NULL last (descending).
fn score_desc(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
        },
    }
}

fn order(a: (Option<f64>, &str, &str), b: (Option<f64>, &str, &str)) -> Ordering {
    score_desc(a.0, b.0)
        .then_with(|| a.1.cmp(b.1))
        .then_with(|| a.2.cmp(b.2))
}

/// `score >= m` as DuckDB compares doubles (NaN is the largest; NULL is never at least anything).
fn at_least(score: Option<f64>, m: f64) -> bool {
    score.is_some_and(|s| s.is_nan() || s >= m)
}

/// Every scored opportunity's listing row, best first.
pub struct OpportunityIndex {
    generation: u64,
    rows: Rendered,
    keys: Vec<Key>,
    subreddits: Subreddits,
    /// Whether the analyses have a `final_score` column.
    scored: bool,
    /// Postgres: the order as the database sorts text.
    order: Option<DbOrder>,
}

/// An [`OpportunityIndex`] being read.
pub(crate) struct OpportunityBuild {
    ix: OpportunityIndex,
    /// Each row's `lower(subreddit)` of its post.
    names: Vec<Option<String>>,
    has_subreddit: bool,
}

/// The key of an analysis in [`DbOrder`]: post and scorer.
fn identity(post_id: &str, scorer_id: &str) -> String {
    format!("{post_id}\u{0}{scorer_id}")
}

impl Built for OpportunityIndex {
    const TABLE: &'static str = "opportunity_analysis";
    type Build = OpportunityBuild;

    fn slot(pages: &PageIndex) -> &Slot<Self> {
        &pages.opportunities
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn start(generation: u64, cols: &Columns, d: Dialect) -> (OpportunityBuild, Vec<String>) {
        let has_subreddit = has_col(cols, "submissions", "subreddit") && has_table(cols, "submissions");
        let scored = has_col(cols, "opportunity_analysis", "final_score");
        let build = OpportunityBuild {
            ix: OpportunityIndex {
                generation,
                rows: Rendered::default(),
                keys: Vec::new(),
                subreddits: Subreddits::group(false, &[], std::iter::empty()),
                scored,
                order: (d == Dialect::Postgres).then(DbOrder::default),
            },
            names: Vec::new(),
            has_subreddit,
        };
        let Some((join, status)) = opportunity_source(cols) else {
            return (build, Vec::new());
        };
        let sub = if has_subreddit {
            "lower(s.subreddit)"
        } else {
            "CAST(NULL AS VARCHAR)"
        };
        let raw = if scored {
            "o.final_score"
        } else {
            "CAST(NULL AS DOUBLE)"
        };
        let filter = status.map(|w| format!("WHERE {w}")).unwrap_or_default();
        let mut stmts = vec![format!(
            "SELECT {}, {sub}, {raw} FROM opportunity_analysis o {join} {filter}",
            opportunity_select(cols, d)
        )];
        if build.ix.order.is_some() {
            stmts.push(format!(
                "SELECT o.post_id, o.scorer_id FROM opportunity_analysis o {filter} ORDER BY {}",
                opportunity_order(scored)
            ));
        }
        (build, stmts)
    }

    fn add(b: &mut OpportunityBuild, stmt: usize, r: Row, budget: usize) -> Result<bool, ApiError> {
        let ix = &mut b.ix;
        if stmt == 1 {
            return DbOrder::next_in(&mut ix.order, &identity(&r.string(0)?, &r.string(1)?));
        }
        let o = opportunity_row(&r)?;
        // The order and the filters compare the stored score, which must be a number for the
        // index to compare it as SQL does.
        let score = match r.0.get(26) {
            Some(Cell::Float(f)) => Some(*f),
            Some(Cell::Int(v)) => Some(*v as f64),
            Some(Cell::Null) | None => None,
            Some(other) => {
                return Err(ApiError::internal(
                    "page index",
                    format!("final_score holds {other:?}, not a number"),
                ));
            }
        };
        b.names.push(r.text(25)?);
        let row = ix.rows.len() as u32;
        if let Some(order) = &mut ix.order {
            order.row(identity(&o.post_id, &o.scorer_id).into_boxed_str(), row)?;
        }
        ix.keys.push(Key {
            score,
            post_id: o.post_id.clone().into_boxed_str(),
            scorer_id: o.scorer_id.clone().into_boxed_str(),
            row,
        });
        ix.rows.push(&o, budget)
    }

    fn finish(b: OpportunityBuild) -> Result<Self, ApiError> {
        let mut ix = b.ix;
        ix.subreddits = arrange(
            &mut ix.keys,
            |k| k.row,
            ix.order.as_ref(),
            |a, b| {
                order(
                    (a.score, &a.post_id, &a.scorer_id),
                    (b.score, &b.post_id, &b.scorer_id),
                )
            },
            b.has_subreddit,
            &b.names,
        )?;
        ix.rows.shrink();
        Ok(ix)
    }
}

impl OpportunityIndex {
    /// The page's JSON, or `None` when this query needs SQL.
    pub fn page(&self, q: &OpportunityQuery) -> Option<Result<Bytes, ApiError>> {
        if !self.scored && q.after.as_ref().is_some_and(|a| a.0.is_some()) {
            // A scored cursor without scores: SQL answers with the error.
            return None;
        }
        let subset = self.subreddits.subset(q.subreddit.as_deref(), self.keys.len())?;
        let len = subset.len();
        let at = |i: usize| -> &Key { &self.keys[subset.pos(i)] };
        let start = match (&q.after, &self.order) {
            (None, _) => 0,
            (Some((score, post, scorer)), None) => partition(len, |i| {
                let k = at(i);
                order((k.score, &k.post_id, &k.scorer_id), (*score, post, scorer)) != Ordering::Greater
            }),
            // The database's text order: the cursor's row is looked up (gone or rescored: SQL).
            (Some((score, post, scorer)), Some(db)) => {
                let pos = db
                    .position(&identity(post, scorer))
                    .filter(|&p| score_desc(self.keys[p].score, *score) == Ordering::Equal)?;
                after_position(&subset, pos)
            }
        };
        let want = q.limit + 1;
        let mut picked: Vec<&Key> = Vec::with_capacity(want.min(len));
        for i in start..len {
            let key = at(i);
            if let Some(m) = q.min_score
                && !at_least(key.score, m)
            {
                // Best first: every later row scores lower (or NULL).
                break;
            }
            if q.scorer_id.as_deref().is_some_and(|s| s != &*key.scorer_id) {
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
                .map(|k| encode_after(k.score, &k.post_id, &k.scorer_id))
        });
        let rows: Vec<usize> = picked.iter().map(|k| k.row as usize).collect();
        Some(self.rows.page(&rows, next.flatten().as_deref()))
    }
}
