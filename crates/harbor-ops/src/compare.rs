//! `harbor compare`: the parallel test. For a subreddit and a time window, compares the legacy
//! submissions with ours: row counts, ids on one side only, and field differences on the shared
//! columns, with a verdict against a tolerance.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::Result;
use crate::legacy::{self, Layout};
use crate::store::SqlStore;

/// What to compare and how strictly.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Only this subreddit (case-insensitive); `None` compares all.
    pub subreddit: Option<String>,
    /// Window start, epoch seconds (on `created_utc`), inclusive.
    pub since: Option<f64>,
    /// Window end, epoch seconds, exclusive.
    pub until: Option<f64>,
    /// Allowed difference of the row counts, in percent of the legacy count.
    pub tolerance_pct: f64,
    /// Field differences allowed on ids present on both sides.
    pub max_field_diffs: u64,
    /// Fields compared; empty = the stable fields both layouts share (title, selftext, created_utc,
    /// subreddit, plus author and url for the plan layout).
    pub fields: Vec<String>,
    /// How many ids and differences the report lists (the counts are always complete).
    pub show: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            subreddit: None,
            since: None,
            until: None,
            tolerance_pct: 5.0,
            max_field_diffs: 0,
            fields: Vec::new(),
            show: 50,
        }
    }
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// The submission id.
    pub id: String,
    /// The field.
    pub field: String,
    /// The legacy value.
    pub legacy: Json,
    /// Our value.
    pub harbor: Json,
}

/// The result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    /// The legacy layout found.
    pub layout: Layout,
    /// The subreddit compared (all when none).
    pub subreddit: Option<String>,
    /// Fields compared.
    pub fields: Vec<String>,
    /// Rows in the legacy set.
    pub legacy_count: u64,
    /// Rows in our set.
    pub harbor_count: u64,
    /// `|harbor - legacy| / legacy` in percent.
    pub count_diff_pct: f64,
    /// Ids only in the legacy set (count, then the first ones).
    pub only_legacy_count: u64,
    /// The first ids only in the legacy set.
    pub only_legacy: Vec<String>,
    /// Ids only in ours.
    pub only_harbor_count: u64,
    /// The first ids only in ours.
    pub only_harbor: Vec<String>,
    /// Differences on ids in both.
    pub field_diff_count: u64,
    /// The first differences.
    pub field_diffs: Vec<FieldDiff>,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Why it failed (empty on pass).
    pub reasons: Vec<String>,
}

type Rows = BTreeMap<String, Map<String, Json>>;

fn in_window(t: Option<f64>, o: &CompareOptions) -> bool {
    match t {
        Some(t) => o.since.is_none_or(|s| t >= s) && o.until.is_none_or(|u| t < u),
        None => o.since.is_none() && o.until.is_none(),
    }
}

fn clean_text(v: Option<String>) -> Json {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => Json::String(s),
        _ => Json::Null,
    }
}

/// An author, with every spelling of a deleted account as null.
fn clean_author(v: Option<String>) -> Json {
    if legacy::deleted_author(v.as_deref()) {
        Json::Null
    } else {
        clean_text(v)
    }
}

fn clean_number(v: Option<Json>) -> Json {
    v.and_then(|n| n.as_f64())
        .map_or(Json::Null, |f| serde_json::json!(f))
}

/// The legacy submissions in the common shape.
fn legacy_rows(store: &mut dyn SqlStore, layout: Layout, o: &CompareOptions) -> Result<Rows> {
    let sub = o.subreddit.as_deref();
    let mut out = Rows::new();
    let (table, id_col, body_col) = match layout {
        Layout::Original => ("submission", "submission_id", "text"),
        Layout::Plan => ("submissions", "id", "selftext"),
    };
    let created_col = if layout == Layout::Original {
        "created_at"
    } else {
        "created_utc"
    };
    for r in legacy::read_table(store, table, sub)? {
        let created = legacy::epoch(&r, created_col);
        if !in_window(created, o) {
            continue;
        }
        let Some(id) = legacy::text(&r, id_col) else {
            continue;
        };
        let mut m = Map::new();
        m.insert(
            "created_utc".into(),
            created.map_or(Json::Null, |t| serde_json::json!(t.round())),
        );
        m.insert("title".into(), clean_text(legacy::text(&r, "title")));
        m.insert("selftext".into(), clean_text(legacy::text(&r, body_col)));
        m.insert(
            "subreddit".into(),
            clean_text(legacy::text(&r, "subreddit").map(|s| s.to_ascii_lowercase())),
        );
        m.insert("score".into(), clean_number(legacy::number(&r, "score")));
        m.insert(
            "num_comments".into(),
            clean_number(legacy::number(&r, "num_comments")),
        );
        if layout == Layout::Plan {
            m.insert("author".into(), clean_author(legacy::text(&r, "author")));
            m.insert("url".into(), clean_text(legacy::text(&r, "url")));
        } else {
            m.insert("permalink".into(), clean_text(legacy::text(&r, "permalink")));
        }
        out.insert(legacy::bare(&id).to_owned(), m);
    }
    Ok(out)
}

/// Our submissions in the common shape.
fn harbor_rows(store: &mut dyn SqlStore, o: &CompareOptions) -> Result<Rows> {
    let mut out = Rows::new();
    for r in legacy::read_table(store, "submissions", o.subreddit.as_deref())? {
        let created = legacy::epoch(&r, "created_utc");
        if !in_window(created, o) {
            continue;
        }
        let Some(id) = legacy::text(&r, "id") else {
            continue;
        };
        let mut m = Map::new();
        m.insert(
            "created_utc".into(),
            created.map_or(Json::Null, |t| serde_json::json!(t.round())),
        );
        for f in ["title", "selftext", "url", "permalink"] {
            m.insert(f.into(), clean_text(legacy::text(&r, f)));
        }
        m.insert("author".into(), clean_author(legacy::text(&r, "author")));
        m.insert(
            "subreddit".into(),
            clean_text(legacy::text(&r, "subreddit").map(|s| s.to_ascii_lowercase())),
        );
        m.insert("score".into(), clean_number(legacy::number(&r, "score")));
        m.insert(
            "num_comments".into(),
            clean_number(legacy::number(&r, "num_comments")),
        );
        out.insert(id, m);
    }
    Ok(out)
}

/// Compares the legacy database with ours.
pub fn compare(
    legacy_store: &mut dyn SqlStore,
    ours: &mut dyn SqlStore,
    o: &CompareOptions,
) -> Result<CompareReport> {
    let layout = legacy::detect(legacy_store)?;
    let fields: Vec<String> = if o.fields.is_empty() {
        let mut f = vec!["title", "selftext", "created_utc", "subreddit"];
        if layout == Layout::Plan {
            f.extend(["author", "url"]);
        }
        f.into_iter().map(str::to_owned).collect()
    } else {
        o.fields.clone()
    };
    let old = legacy_rows(legacy_store, layout, o)?;
    let new = harbor_rows(ours, o)?;
    let only_legacy: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let only_harbor: Vec<String> = new.keys().filter(|k| !old.contains_key(*k)).cloned().collect();
    let mut diffs = Vec::new();
    for (id, a) in &old {
        let Some(b) = new.get(id) else { continue };
        for f in &fields {
            let (x, y) = (a.get(f).unwrap_or(&Json::Null), b.get(f).unwrap_or(&Json::Null));
            if x != y {
                diffs.push(FieldDiff {
                    id: id.clone(),
                    field: f.clone(),
                    legacy: x.clone(),
                    harbor: y.clone(),
                });
            }
        }
    }
    let (lc, hc) = (old.len() as u64, new.len() as u64);
    let pct = if lc == 0 {
        if hc == 0 { 0.0 } else { 100.0 }
    } else {
        (hc as f64 - lc as f64).abs() / lc as f64 * 100.0
    };
    let mut reasons = Vec::new();
    if pct > o.tolerance_pct {
        reasons.push(format!(
            "row counts differ by {pct:.1}% (legacy {lc}, harbor {hc}; tolerance {}%)",
            o.tolerance_pct
        ));
    }
    if diffs.len() as u64 > o.max_field_diffs {
        reasons.push(format!(
            "{} field differences on ids present in both (allowed {})",
            diffs.len(),
            o.max_field_diffs
        ));
    }
    Ok(CompareReport {
        layout,
        subreddit: o.subreddit.clone(),
        fields,
        legacy_count: lc,
        harbor_count: hc,
        count_diff_pct: pct,
        only_legacy_count: only_legacy.len() as u64,
        only_legacy: only_legacy.into_iter().take(o.show).collect(),
        only_harbor_count: only_harbor.len() as u64,
        only_harbor: only_harbor.into_iter().take(o.show).collect(),
        field_diff_count: diffs.len() as u64,
        field_diffs: diffs.into_iter().take(o.show).collect(),
        verdict: if reasons.is_empty() { "pass" } else { "fail" }.into(),
        reasons,
    })
}
