//! `harbor import`: reads a legacy RedditHarbor database (either layout, see [`crate::legacy`]) into
//! the pipeline's tables, keeping ids (so later API collection merges with the imported rows) and
//! history (the time series become `submission_history` rows), in ONE load package committed with
//! the new listing cursors: the first incremental collection then starts after the imported posts.

use std::collections::{BTreeMap, BTreeSet};

use harbor_core::WriteDisposition;
use harbor_core::normalize::SourceRef;
use harbor_core::state::PipelineState;
use harbor_pipeline::ExtractOptions;
use harbor_pipeline::extract::extract_records;
use harbor_pipeline::input::RawRecord;
use harbor_pipeline::rejects::RejectSink;
use harbor_pipeline::run::Pipeline;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::error::{Error, Result};
use crate::legacy::{self, Layout, bare, boolean, deleted_author, epoch, fullname, number, series, text};
use crate::store::SqlStore;

mod analyses;

use analyses::{ANALYSIS_TABLE, analyses};

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Only these subreddits (case-insensitive); empty = all.
    pub subreddits: Vec<String>,
    /// Normalization and job files.
    pub extract: ExtractOptions,
    /// Where the rejects file goes.
    pub rejects_dir: std::path::PathBuf,
    /// The lag window of later collection runs (`[collect] lag_window_secs`): every imported post
    /// this close to the newest one goes into the cursor's boundary ids, so the first walk, which
    /// re-reads the window, does not take them for new posts.
    pub lag_window_secs: f64,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The layout found.
    pub layout: Option<Layout>,
    /// Submissions read.
    pub submissions: u64,
    /// Comments read.
    pub comments: u64,
    /// Redditors read.
    pub redditors: u64,
    /// `submission_history` rows made from the time series.
    pub history: u64,
    /// Submissions and comments whose author was deleted (stored as `[deleted]`).
    pub deleted_authors: u64,
    /// Listing cursors set: `reddit/r/{sub}/new` -> newest `created_utc`.
    pub cursors: BTreeMap<String, f64>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// The load id.
    pub load_id: Option<String>,
    /// Records the normalizer rejected.
    pub rejects: u64,
    /// Legacy `opportunity_analysis` rows imported as results of the scorer `imported`.
    pub analyses: u64,
    /// Tables of the legacy database that were not imported, with the reason.
    pub skipped: Vec<String>,
}

fn thing(kind: &str, data: Map<String, Json>) -> Json {
    json!({"kind": kind, "data": Json::Object(data)})
}

fn put(m: &mut Map<String, Json>, k: &str, v: Option<Json>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        m.insert(k.to_owned(), v);
    }
}

/// The legacy data as Reddit things, plus `(created_utc, fullname)` of each subreddit's posts.
#[derive(Default)]
struct Converted {
    things: Vec<Json>,
    posts: BTreeMap<String, Vec<(f64, String)>>,
}

impl Converted {
    fn post(&mut self, sub: &str, created: Option<f64>, id: &str) {
        let Some(t) = created else { return };
        self.posts
            .entry(sub.to_ascii_lowercase())
            .or_default()
            .push((t, fullname("t3_", id)));
    }
}

/// The listing cursor after collecting `posts`, as a walk would leave it: the newest `created_utc`
/// and every post within `lag` seconds of it (merged with the ids of a `stored` cursor that is
/// still inside the window). None without posts.
fn cursor_of(posts: &[(f64, String)], lag: f64, stored: Option<&Json>) -> Option<(f64, Vec<String>)> {
    let max = posts.iter().map(|(t, _)| *t).fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return None;
    }
    let lag = lag.max(0.0);
    let mut ids: BTreeSet<String> = posts
        .iter()
        .filter(|(t, _)| *t >= max - lag)
        .map(|(_, n)| n.clone())
        .collect();
    let stored_max = stored
        .and_then(|v| v.get("max_created_utc"))
        .and_then(Json::as_f64);
    if stored_max.is_some_and(|m| m >= max - lag) {
        let old = stored
            .and_then(|v| v.get("boundary_ids"))
            .and_then(Json::as_array);
        ids.extend(
            old.into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned)),
        );
    }
    Some((max, ids.into_iter().collect()))
}

fn wanted(opts: &ImportOptions, sub: Option<&str>) -> bool {
    opts.subreddits.is_empty()
        || sub.is_some_and(|s| opts.subreddits.iter().any(|w| w.eq_ignore_ascii_case(s)))
}

fn original(store: &mut dyn SqlStore, opts: &ImportOptions, rep: &mut ImportReport) -> Result<Converted> {
    let mut out = Converted::default();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for r in legacy::read_table(store, "redditor", None)? {
        let Some(id) = text(&r, "redditor_id") else {
            continue;
        };
        let name = text(&r, "name");
        if let Some(n) = name.clone().filter(|n| !deleted_author(Some(n))) {
            names.insert(id.clone(), n);
        }
        rep.redditors += 1;
        let mut d = Map::new();
        d.insert("id".into(), json!(bare(&id)));
        put(&mut d, "name", name.map(Json::String));
        put(&mut d, "created_utc", epoch(&r, "created_at").map(|t| json!(t)));
        match legacy::json(&r, "karma") {
            Some(Json::Object(k)) if k.contains_key("link") || k.contains_key("comment") => {
                put(&mut d, "link_karma", k.get("link").cloned());
                put(&mut d, "comment_karma", k.get("comment").cloned());
            }
            _ => put(&mut d, "total_karma", number(&r, "karma")),
        }
        put(&mut d, "is_gold", boolean(&r, "is_gold").map(Json::Bool));
        put(&mut d, "is_mod", boolean(&r, "is_mod").map(Json::Bool));
        put(&mut d, "legacy_trophy", legacy::json(&r, "trophy"));
        put(&mut d, "legacy_removed", boolean(&r, "removed").map(Json::Bool));
        out.things.push(thing("t2", d));
    }
    let author = |rid: Option<String>, rep: &mut ImportReport| -> (Json, Option<String>) {
        match rid.filter(|r| !deleted_author(Some(r))) {
            Some(r) => match names.get(&r) {
                Some(n) => (json!(n), Some(fullname("t2_", &r))),
                None => (json!("[deleted]"), Some(fullname("t2_", &r))),
            },
            None => {
                rep.deleted_authors += 1;
                (json!("[deleted]"), None)
            }
        }
    };
    let mut post_ids = BTreeSet::new();
    for r in legacy::read_table(store, "submission", None)? {
        let sub = text(&r, "subreddit");
        let Some(id) = text(&r, "submission_id") else {
            continue;
        };
        if !wanted(opts, sub.as_deref()) {
            continue;
        }
        rep.submissions += 1;
        let id = bare(&id).to_owned();
        post_ids.insert(id.clone());
        let created = epoch(&r, "created_at");
        let (a, af) = author(text(&r, "redditor_id"), rep);
        let mut d = Map::new();
        d.insert("id".into(), json!(id));
        d.insert("name".into(), json!(fullname("t3_", &id)));
        d.insert("author".into(), a);
        put(&mut d, "author_fullname", af.map(Json::String));
        put(&mut d, "created_utc", created.map(|t| json!(t)));
        put(&mut d, "title", text(&r, "title").map(Json::String));
        put(&mut d, "selftext", text(&r, "text").map(Json::String));
        put(&mut d, "subreddit", sub.clone().map(Json::String));
        put(&mut d, "permalink", text(&r, "permalink").map(Json::String));
        put(&mut d, "score", number(&r, "score"));
        put(&mut d, "upvote_ratio", number(&r, "upvote_ratio"));
        put(&mut d, "num_comments", number(&r, "num_comments"));
        put(&mut d, "edited", boolean(&r, "edited").map(Json::Bool));
        put(&mut d, "archived", boolean(&r, "archived").map(Json::Bool));
        put(&mut d, "legacy_removed", boolean(&r, "removed").map(Json::Bool));
        for c in ["attachment", "flair", "awards", "poll"] {
            put(&mut d, &format!("legacy_{c}"), legacy::json(&r, c));
        }
        // History: one row per observation time of any of the three series, carrying values forward.
        let mut at: BTreeMap<i64, Map<String, Json>> = BTreeMap::new();
        for col in ["score", "num_comments", "upvote_ratio"] {
            for (t, v) in series(&r, col) {
                at.entry((t * 1e6) as i64).or_default().insert(col.into(), v);
            }
        }
        let mut last = Map::new();
        for (t, vals) in at {
            last.extend(vals);
            let mut h = last.clone();
            h.insert("id".into(), json!(id));
            put(&mut h, "subreddit", sub.clone().map(Json::String));
            h.insert("observed_at".into(), json!(t as f64 / 1e6));
            rep.history += 1;
            out.things.push(thing("submission_history", h));
        }
        if let Some(s) = &sub {
            out.post(s, created, &id);
        }
        out.things.push(thing("t3", d));
    }
    for r in legacy::read_table(store, "comment", None)? {
        let sub = text(&r, "subreddit");
        let Some(id) = text(&r, "comment_id") else {
            continue;
        };
        if !wanted(opts, sub.as_deref()) {
            continue;
        }
        rep.comments += 1;
        let id = bare(&id).to_owned();
        let link = text(&r, "link_id").map(|l| fullname("t3_", &l));
        let parent = text(&r, "parent_id").map(|p| {
            if p.contains('_') || post_ids.contains(&p) || link.as_deref().is_some_and(|l| bare(l) == p) {
                fullname("t3_", &p)
            } else {
                fullname("t1_", &p)
            }
        });
        let (a, af) = author(text(&r, "redditor_id"), rep);
        let mut d = Map::new();
        d.insert("id".into(), json!(id));
        d.insert("name".into(), json!(fullname("t1_", &id)));
        d.insert("author".into(), a);
        put(&mut d, "author_fullname", af.map(Json::String));
        put(&mut d, "link_id", link.map(Json::String));
        put(&mut d, "parent_id", parent.map(Json::String));
        put(&mut d, "subreddit", sub.map(Json::String));
        put(&mut d, "body", text(&r, "body").map(Json::String));
        put(&mut d, "created_utc", epoch(&r, "created_at").map(|t| json!(t)));
        put(&mut d, "score", number(&r, "score"));
        put(&mut d, "edited", boolean(&r, "edited").map(Json::Bool));
        put(&mut d, "legacy_removed", boolean(&r, "removed").map(Json::Bool));
        out.things.push(thing("t1", d));
    }
    Ok(out)
}

fn plan(store: &mut dyn SqlStore, opts: &ImportOptions, rep: &mut ImportReport) -> Result<Converted> {
    let mut out = Converted::default();
    let author = |r: &Map<String, Json>, rep: &mut ImportReport| -> Json {
        match text(r, "author").filter(|a| !deleted_author(Some(a))) {
            Some(a) => json!(a),
            None => {
                rep.deleted_authors += 1;
                json!("[deleted]")
            }
        }
    };
    let mut subs_of: BTreeMap<String, Option<String>> = BTreeMap::new();
    for r in legacy::read_table(store, "submissions", None)? {
        let sub = text(&r, "subreddit");
        let Some(id) = text(&r, "id") else { continue };
        if !wanted(opts, sub.as_deref()) {
            continue;
        }
        rep.submissions += 1;
        let id = bare(&id).to_owned();
        subs_of.insert(id.clone(), sub.clone());
        let created = epoch(&r, "created_utc");
        let mut d = Map::new();
        d.insert("id".into(), json!(id));
        d.insert("name".into(), json!(fullname("t3_", &id)));
        d.insert("author".into(), author(&r, rep));
        put(&mut d, "created_utc", created.map(|t| json!(t)));
        put(&mut d, "title", text(&r, "title").map(Json::String));
        put(&mut d, "selftext", text(&r, "selftext").map(Json::String));
        put(&mut d, "subreddit", sub.clone().map(Json::String));
        put(&mut d, "score", number(&r, "score"));
        put(&mut d, "num_comments", number(&r, "num_comments"));
        put(&mut d, "url", text(&r, "url").map(Json::String));
        if let Some(s) = &sub {
            out.post(s, created, &id);
        }
        out.things.push(thing("t3", d));
    }
    for r in legacy::read_table(store, "comments", None)? {
        let Some(id) = text(&r, "id") else { continue };
        let post = text(&r, "submission_id").map(|p| bare(&p).to_owned());
        let sub = post.as_ref().and_then(|p| subs_of.get(p).cloned().flatten());
        if !opts.subreddits.is_empty() && sub.is_none() {
            continue;
        }
        rep.comments += 1;
        let mut d = Map::new();
        d.insert("id".into(), json!(bare(&id)));
        d.insert("name".into(), json!(fullname("t1_", &id)));
        d.insert("author".into(), author(&r, rep));
        put(&mut d, "link_id", post.map(|p| json!(fullname("t3_", &p))));
        put(&mut d, "subreddit", sub.map(Json::String));
        put(&mut d, "created_utc", epoch(&r, "created_utc").map(|t| json!(t)));
        put(&mut d, "body", text(&r, "body").map(Json::String));
        put(&mut d, "score", number(&r, "score"));
        out.things.push(thing("t1", d));
    }
    if !store.columns(ANALYSIS_TABLE)?.is_empty() {
        analyses(store, opts, &subs_of, rep, &mut out)?;
    }
    Ok(out)
}

/// The scorer id of imported results: `harbor score` leaves the posts they cover alone (no LLM
/// money spent twice) unless it is run with `--rescore`.
pub const IMPORTED_SCORER: &str = "imported";

/// Imports the legacy database into the pipeline in one load package (one transaction).
pub fn import(
    legacy_store: &mut dyn SqlStore,
    pipeline: &mut Pipeline,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let perr = |e: harbor_pipeline::Error| Error::Pipeline(Box::new(e));
    let mut rep = ImportReport::default();
    let layout = legacy::detect(legacy_store)?;
    rep.layout = Some(layout);
    let conv = match layout {
        Layout::Original => original(legacy_store, opts, &mut rep)?,
        Layout::Plan => plan(legacy_store, opts, &mut rep)?,
    };
    pipeline.recover().map_err(perr)?;
    let stored = pipeline.state().map_err(perr)?;
    let mut state = PipelineState::default();
    for (sub, posts) in &conv.posts {
        let key = format!("reddit/r/{sub}/new");
        let current = stored.get(&key);
        let Some((max, ids)) = cursor_of(posts, opts.lag_window_secs, current) else {
            continue;
        };
        let current_max = current
            .and_then(|v| v.get("max_created_utc"))
            .and_then(Json::as_f64)
            .unwrap_or(f64::MIN);
        if max > current_max {
            state.set(key.clone(), json!({"max_created_utc": max, "boundary_ids": ids}));
            rep.cursors.insert(key, max);
        }
    }
    let source = format!(
        "legacy import ({layout:?} layout) from {}",
        legacy_store.describe()
    );
    let things = conv.things;
    let rejects_dir = opts.rejects_dir.clone();
    // Imported scores merge on `analysis_id` like `harbor score`'s results.
    let mut extract = opts.extract.clone();
    extract
        .normalize
        .resolve
        .tables
        .entry(ANALYSIS_TABLE.to_owned())
        .or_insert((WriteDisposition::Merge, Some("analysis_id".to_owned())));
    extract
        .normalize
        .flatten
        .primary_keys
        .entry(ANALYSIS_TABLE.to_owned())
        .or_insert_with(|| "analysis_id".to_owned());
    let (package, summary) = pipeline
        .build_package(&source, None, |writer, schema, load_id| {
            let mut rejects = RejectSink::new(rejects_dir.join(format!("{load_id}.ndjson")), Vec::new());
            let read = move |emit: &mut dyn FnMut(RawRecord) -> bool| -> harbor_pipeline::Result<u64> {
                let mut n = 0;
                for (i, t) in things.into_iter().enumerate() {
                    n += 1;
                    if !emit(RawRecord::value(
                        t,
                        SourceRef {
                            file: 0,
                            line: i as u64 + 1,
                        },
                    )) {
                        break;
                    }
                }
                Ok(n)
            };
            let summary = extract_records(read, writer, schema, &extract, load_id, &mut rejects)?;
            rejects.finish();
            Ok((summary, state))
        })
        .map_err(perr)?;
    rep.rejects = summary.rejects;
    let load = pipeline.load_package(package).map_err(perr)?;
    rep.rows = load.rows.into_iter().collect();
    rep.load_id = Some(load.load_id);
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_holds_every_post_inside_the_lag_window() {
        let posts: Vec<(f64, String)> = [(100.0, "a"), (90.0, "b"), (50.0, "c"), (100.0, "d")]
            .iter()
            .map(|(t, n)| (*t, format!("t3_{n}")))
            .collect();
        assert_eq!(
            cursor_of(&posts, 0.0, None),
            Some((100.0, vec!["t3_a".into(), "t3_d".into()]))
        );
        assert_eq!(
            cursor_of(&posts, 10.0, None),
            Some((100.0, vec!["t3_a".into(), "t3_b".into(), "t3_d".into()]))
        );
        // A stored cursor inside the window keeps its ids; one below it does not.
        let near = json!({"max_created_utc": 95.0, "boundary_ids": ["t3_x"]});
        let far = json!({"max_created_utc": 20.0, "boundary_ids": ["t3_y"]});
        assert!(cursor_of(&posts, 10.0, Some(&near)).is_some_and(|(_, ids)| ids.contains(&"t3_x".into())));
        assert!(cursor_of(&posts, 10.0, Some(&far)).is_some_and(|(_, ids)| !ids.contains(&"t3_y".into())));
        assert_eq!(cursor_of(&[], 10.0, None), None);
    }
}
