//! The page index: the rows of `/submissions` and `/opportunities` rendered once as JSON
//! and kept in the order the routes list them, so that an uncached page is a binary search and a
//! short walk instead of a query.
//!
//! DuckDB stores columns compressed in row groups and reads a handful of wide rows slowly: the top
//! N of a filtered listing costs about a millisecond, but fetching the page's 50 rows with their
//! texts costs 5-30 ms, because every column's row group is decoded for them. Postgres reads those
//! rows from its indexes, but each page costs a connection, a round trip and the database's CPU,
//! which the clients of a busy server queue for.
//!
//! An index belongs to one *generation* of the data (see [`crate::state::AppState::generation`]):
//! on DuckDB the server owns the file and moves the generation on after every write it makes or
//! proxies; on Postgres also when another process's load shows in `_harbor_loads` (see
//! [`crate::db::Db::notice_external_loads`]). An index of the current generation is therefore what
//! a query would read. When the
//! generation moves on, the routes answer from SQL (new data is visible at once) and the first
//! request starts a rebuild in the background: one scan of the listing columns, at most once per
//! ten build times so that a watcher committing every few seconds does not keep the server
//! rebuilding. An index whose rendered rows would pass the byte budget (`[serve] page_index_mb`)
//! is not kept and that table stays on SQL. Requests the index cannot answer exactly (full-text
//! `q`, a non-ASCII subreddit, a filter column whose stored values are not of the type compared)
//! go to SQL as well.
//!
//! Order: DuckDB compares text byte by byte, as Rust does, so its rows are sorted here. Postgres
//! sorts text by the database's collation, so the build reads, from the same snapshot, the rows'
//! keys in the route's order ([`DbOrder`]) and a cursor is found by its row's key.

mod opportunities;
mod submissions;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::db::{Columns, Db, Dialect, Each, Row};
use crate::error::ApiError;
use crate::state::AppState;

pub use opportunities::{OpportunityIndex, OpportunityQuery};
pub use submissions::{SubmissionIndex, SubmissionQuery};

/// Shortest time between two builds of one table's index.
const MIN_REBUILD: Duration = Duration::from_secs(1);
/// A rebuild waits this many times the last build's duration after the last start.
const REBUILD_FACTOR: u32 = 10;

/// The indexes of both listings.
pub struct PageIndex {
    budget: usize,
    answered: AtomicU64,
    submissions: Slot<SubmissionIndex>,
    opportunities: Slot<OpportunityIndex>,
}

/// Rendered rows in one buffer: row `i` is `json[spans[i]]`.
#[derive(Default)]
pub(crate) struct Rendered {
    /// JSON text (serde_json writes only UTF-8).
    json: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Rendered {
    /// Appends one row's JSON; false once the buffer holds more than `budget` bytes.
    pub(crate) fn push<T: serde::Serialize>(&mut self, row: &T, budget: usize) -> Result<bool, ApiError> {
        let start = self.json.len();
        serde_json::to_writer(&mut self.json, row).map_err(|e| ApiError::internal("page index", e))?;
        self.spans.push(start..self.json.len());
        Ok(self.json.len() + self.spans.len() * 64 <= budget)
    }

    /// `{"items":[rows...],"next_cursor":...}`, as the routes serialize their pages.
    pub(crate) fn page(&self, rows: &[usize], next_cursor: Option<&str>) -> Result<Bytes, ApiError> {
        let size: usize = rows.iter().map(|&i| self.spans[i].len() + 1).sum();
        let mut out = Vec::with_capacity(size + 64);
        out.extend_from_slice(b"{\"items\":[");
        for (n, &i) in rows.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.json[self.spans[i].clone()]);
        }
        out.extend_from_slice(b"],\"next_cursor\":");
        serde_json::to_writer(&mut out, &next_cursor).map_err(|e| ApiError::internal("response", e))?;
        out.push(b'}');
        Ok(Bytes::from(out))
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    fn shrink(&mut self) {
        self.json.shrink_to_fit();
        self.spans.shrink_to_fit();
    }
}

/// The listing positions of each subreddit's rows (by `lower(subreddit)`).
pub(crate) struct Subreddits {
    /// Whether the posts have a subreddit column (without one a subreddit filter matches nothing).
    present: bool,
    lists: HashMap<String, Vec<u32>>,
}

/// The positions a subreddit filter leaves: all of them, or a list (in listing order).
pub(crate) enum Subset<'a> {
    All(usize),
    Only(&'a [u32]),
}

impl Subset<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Subset::All(n) => *n,
            Subset::Only(l) => l.len(),
        }
    }

    /// The listing position of the subset's `i`th row.
    pub(crate) fn pos(&self, i: usize) -> usize {
        match self {
            Subset::All(_) => i,
            Subset::Only(l) => l[i] as usize,
        }
    }
}

impl Subreddits {
    /// Groups the listing positions: `rows` gives, in listing order, the row number whose
    /// lowercase subreddit is `names[row]`.
    pub(crate) fn group(present: bool, names: &[Option<String>], rows: impl Iterator<Item = u32>) -> Self {
        let mut lists: HashMap<String, Vec<u32>> = HashMap::new();
        for (pos, row) in rows.enumerate() {
            if let Some(Some(name)) = names.get(row as usize) {
                lists.entry(name.clone()).or_default().push(pos as u32);
            }
        }
        Self { present, lists }
    }

    /// The rows of `filter` among `total`, or `None` when SQL must compare it (non-ASCII text).
    pub(crate) fn subset(&self, filter: Option<&str>, total: usize) -> Option<Subset<'_>> {
        Some(match filter {
            None => Subset::All(total),
            Some(_) if !self.present => Subset::Only(&[]),
            Some(s) => Subset::Only(self.lists.get(&ascii_lower(s)?).map_or(&[], Vec::as_slice)),
        })
    }
}

/// A lowercase subreddit name as an ASCII-only filter value, or `None` when the index cannot
/// compare it exactly as DuckDB's `lower()` does (non-ASCII text goes to SQL).
pub(crate) fn ascii_lower(s: &str) -> Option<String> {
    s.is_ascii().then(|| s.to_ascii_lowercase())
}

struct SlotState {
    building: bool,
    last_start: Option<Instant>,
    last_took: Duration,
    /// The generation whose rows did not fit the budget (no rebuild until the data changes).
    refused: Option<u64>,
}

pub(crate) struct Slot<T> {
    current: Mutex<Option<Arc<T>>>,
    state: Mutex<SlotState>,
}

/// An index of one generation.
pub(crate) trait Built: Send + Sync + Sized + 'static {
    /// The table it lists (for logs).
    const TABLE: &'static str;
    /// What collects the rows while the index is read.
    type Build: Send + 'static;
    /// Its place in the [`PageIndex`].
    fn slot(pages: &PageIndex) -> &Slot<Self>;
    fn generation(&self) -> u64;
    /// An empty build of `generation` and the statements whose rows fill it (read from one
    /// snapshot; none when there is nothing to list).
    fn start(generation: u64, cols: &Columns, d: Dialect) -> (Self::Build, Vec<String>);
    /// Takes one row of statement `stmt`; false once the rendered rows pass `budget` bytes.
    fn add(build: &mut Self::Build, stmt: usize, row: Row, budget: usize) -> Result<bool, ApiError>;
    /// The index, its rows in listing order.
    fn finish(build: Self::Build) -> Result<Self, ApiError>;
}

/// The listing order as the database itself sorts (Postgres): text is ordered by the database's
/// collation, which Rust's byte order need not match, so the order is read back from the database
/// (a second statement listing the rows' keys, sorted as the route sorts) and a cursor is found by
/// its row's key instead of by comparing text.
#[derive(Default)]
pub(crate) struct DbOrder {
    /// Row number by key.
    rows: HashMap<Box<str>, u32>,
    /// Listing position by row number.
    rank: Vec<u32>,
    ranked: u32,
}

impl DbOrder {
    /// Notes row `row`'s key (first statement).
    pub(crate) fn row(&mut self, key: Box<str>, row: u32) -> Result<(), ApiError> {
        if self.rows.insert(key, row).is_some() {
            return Err(ApiError::internal("page index", "two rows share a listing key"));
        }
        self.rank.push(u32::MAX);
        Ok(())
    }

    /// Notes the next listing position's key (second statement).
    pub(crate) fn next(&mut self, key: &str) -> Result<(), ApiError> {
        let row = self.rows.get(key).copied();
        match row.and_then(|r| self.rank.get_mut(r as usize)) {
            Some(slot) if *slot == u32::MAX => {
                *slot = self.ranked;
                self.ranked += 1;
                Ok(())
            }
            _ => Err(ApiError::internal(
                "page index",
                "the listing order names an unknown row",
            )),
        }
    }

    /// [`DbOrder::next`] on the order of a build (which has one when it reads a second statement).
    pub(crate) fn next_in(order: &mut Option<DbOrder>, key: &str) -> Result<bool, ApiError> {
        let order = order
            .as_mut()
            .ok_or_else(|| ApiError::internal("page index", "an order statement without an order"))?;
        order.next(key)?;
        Ok(true)
    }

    /// Puts `items` (indexed by row number through `row`) in listing order.
    pub(crate) fn sort<T>(&self, items: &mut [T], row: impl Fn(&T) -> u32) -> Result<(), ApiError> {
        if self.ranked as usize != self.rank.len() {
            return Err(ApiError::internal("page index", "the listing order misses rows"));
        }
        items.sort_unstable_by_key(|it| self.rank[row(it) as usize]);
        Ok(())
    }

    /// The listing position of the row with `key`.
    pub(crate) fn position(&self, key: &str) -> Option<usize> {
        let row = *self.rows.get(key)?;
        Some(self.rank[row as usize] as usize)
    }
}

/// Puts a build's keys in listing order: as the database sorts them (`order`, Postgres) or by
/// `bytes` (DuckDB compares text byte by byte, as Rust does); then groups them by subreddit
/// (`names[row]`, the lowercase subreddit of each row).
pub(crate) fn arrange<K>(
    keys: &mut [K],
    row: impl Fn(&K) -> u32,
    order: Option<&DbOrder>,
    bytes: impl FnMut(&K, &K) -> std::cmp::Ordering,
    has_subreddit: bool,
    names: &[Option<String>],
) -> Result<Subreddits, ApiError> {
    match order {
        Some(order) => order.sort(keys, &row)?,
        None => keys.sort_unstable_by(bytes),
    }
    Ok(Subreddits::group(has_subreddit, names, keys.iter().map(row)))
}

/// The first position of `subset` after listing position `pos`.
pub(crate) fn after_position(subset: &Subset<'_>, pos: usize) -> usize {
    partition(subset.len(), |i| subset.pos(i) <= pos)
}

/// The first `i` in `0..len` for which `before(i)` is false (`before` holds for a prefix).
pub(crate) fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
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

impl<T: Built> Slot<T> {
    fn new() -> Self {
        Self {
            current: Mutex::new(None),
            state: Mutex::new(SlotState {
                building: false,
                last_start: None,
                last_took: Duration::ZERO,
                refused: None,
            }),
        }
    }

    fn get(&self, generation: u64) -> Option<Arc<T>> {
        let current = self.current.lock().ok()?;
        current
            .as_ref()
            .filter(|ix| ix.generation() == generation)
            .cloned()
    }

    /// Whether a build of `generation` may start now; if so it is marked started.
    fn claim(&self, generation: u64, now: bool) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        if s.building || s.refused == Some(generation) {
            return false;
        }
        let wait = (s.last_took * REBUILD_FACTOR).max(MIN_REBUILD);
        if !now && s.last_start.is_some_and(|at| at.elapsed() < wait) {
            return false;
        }
        s.building = true;
        s.last_start = Some(Instant::now());
        true
    }

    fn finish(&self, generation: u64, built: Result<Option<T>, ApiError>, took: Duration, table: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.building = false;
            s.last_took = took;
            if matches!(built, Ok(None)) {
                s.refused = Some(generation);
            }
        }
        match built {
            Ok(Some(ix)) => {
                if let Ok(mut current) = self.current.lock() {
                    *current = Some(Arc::new(ix));
                }
            }
            Ok(None) => {
                tracing::info!(
                    table,
                    "page index: the rendered rows pass [serve] page_index_mb; pages come from SQL"
                )
            }
            Err(e) => {
                tracing::warn!(table, error = %e.message, "page index build failed; pages come from SQL")
            }
        }
    }
}

impl PageIndex {
    /// Indexes of at most `budget` bytes of rendered rows per table (0: no index).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            answered: AtomicU64::new(0),
            submissions: Slot::new(),
            opportunities: Slot::new(),
        }
    }

    /// A page of submissions from the index of the current generation; `None` when the caller
    /// must answer from SQL (no current index yet, in which case a build may start, or a query
    /// the index cannot answer exactly).
    pub async fn submission_page(
        &self,
        st: &Arc<AppState>,
        q: &SubmissionQuery,
    ) -> Option<Result<Bytes, ApiError>> {
        let page = self.submissions(st).await?.page(q)?;
        self.answered.fetch_add(1, Ordering::Relaxed);
        Some(page)
    }

    /// A page of opportunities (see [`PageIndex::submission_page`]).
    pub async fn opportunity_page(
        &self,
        st: &Arc<AppState>,
        q: &OpportunityQuery,
    ) -> Option<Result<Bytes, ApiError>> {
        let page = self.opportunities(st).await?.page(q)?;
        self.answered.fetch_add(1, Ordering::Relaxed);
        Some(page)
    }

    /// Pages answered from an index since the server started.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    async fn submissions(&self, st: &Arc<AppState>) -> Option<Arc<SubmissionIndex>> {
        self.current(st, false).await
    }

    async fn opportunities(&self, st: &Arc<AppState>) -> Option<Arc<OpportunityIndex>> {
        self.current(st, false).await
    }

    /// Builds both indexes of the current generation now and waits for them (tests, warm-up).
    pub async fn build_now(&self, st: &Arc<AppState>) {
        self.current::<SubmissionIndex>(st, true).await;
        self.current::<OpportunityIndex>(st, true).await;
    }

    async fn current<T: Built>(&self, st: &Arc<AppState>, wait: bool) -> Option<Arc<T>> {
        let slot = T::slot;
        if self.budget == 0 {
            return None;
        }
        let generation = st.generation();
        if let Some(ix) = slot(self).get(generation) {
            return Some(ix);
        }
        if !slot(self).claim(generation, wait) {
            return None;
        }
        let task_state = Arc::clone(st);
        let budget = self.budget;
        let task = async move {
            let started = Instant::now();
            let built = build::<T>(&task_state.db, generation, budget).await;
            slot(&task_state.pages).finish(generation, built, started.elapsed(), T::TABLE);
        };
        if wait {
            task.await;
            slot(self).get(generation)
        } else {
            tokio::spawn(task);
            None
        }
    }
}

/// Reads the index of `generation`: `None` when its rendered rows pass `budget` bytes.
async fn build<T: Built>(db: &Db, generation: u64, budget: usize) -> Result<Option<T>, ApiError> {
    let cols = db.columns().await?;
    let (state, stmts) = T::start(generation, &cols, db.dialect());
    let add: Each<(T::Build, usize)> = |(b, budget), stmt, row| T::add(b, stmt, row, *budget);
    let ((build, _), whole) = db.scan(stmts, (state, budget), add).await?;
    if !whole {
        return Ok(None);
    }
    T::finish(build).map(Some)
}
