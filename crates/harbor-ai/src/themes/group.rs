//! The themes step: problem posts (and the themes already stored) in, ranked themes out.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use super::cluster::{ClusterOptions, cluster};
use super::neighbours::{KnnOptions, knn_edges};
use super::stats::{self, Theme};
use super::vectors::{Corpus, DocText};

/// A problem post as the themes step reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThemePost {
    /// Reddit id (without `t3_`).
    pub id: String,
    /// Subreddit name.
    pub subreddit: String,
    /// Author name (`None` when deleted or unknown).
    pub author: Option<String>,
    /// Creation time, Unix seconds.
    pub created_utc: Option<f64>,
    /// Title.
    pub title: String,
    /// Self text.
    pub body: String,
    /// Top comments' text: they echo the problem and count, at half weight, in its vector.
    pub comments: Vec<String>,
    /// Reddit permalink (`/r/.../comments/...`).
    pub permalink: Option<String>,
    /// The best opportunity score any scorer gave the post.
    pub best_score: Option<f64>,
}

/// A theme already stored: its id and the posts it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExistingTheme {
    /// Theme id.
    pub id: String,
    /// Post ids of its members.
    pub members: Vec<String>,
    /// A name given to it earlier (by the LLM), kept over the offline one.
    pub name: Option<String>,
}

/// Options of the themes step.
#[derive(Debug, Clone, Copy)]
pub struct ThemeOptions {
    /// Cosine similarity of centroids needed to merge two groups (0-1).
    pub threshold: f32,
    /// Posts a new group needs to become a theme.
    pub min_posts: usize,
    /// Example posts kept per theme.
    pub examples: usize,
    /// The reference time of growth (Unix seconds); default: the newest post.
    pub as_of: Option<f64>,
    /// Neighbour search limits.
    pub knn: KnnOptions,
    /// Terms a centroid keeps.
    pub centroid_terms: usize,
}

impl Default for ThemeOptions {
    fn default() -> Self {
        Self {
            threshold: 0.3,
            min_posts: 3,
            examples: 3,
            as_of: None,
            knn: KnnOptions::default(),
            centroid_terms: ClusterOptions::default().centroid_terms,
        }
    }
}

/// What the step found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grouping {
    /// Themes, best first: growth, then posts.
    pub themes: Vec<Theme>,
    /// Posts read.
    pub posts: usize,
    /// Posts in no theme (their group was smaller than `min_posts`).
    pub unthemed: usize,
    /// Themes that existed before this run.
    pub kept_themes: usize,
    /// Themes founded in this run.
    pub new_themes: usize,
    /// Seconds spent grouping.
    pub seconds: f64,
}

/// A new theme's id: a hash of its founding members, so the same posts found the same theme.
fn new_id(members: &[&str], taken: &HashSet<String>) -> String {
    let mut ids: Vec<&str> = members.to_vec();
    ids.sort_unstable();
    let h = xxh3_64(ids.join("\n").as_bytes());
    let mut id = format!("th-{h:016x}");
    let mut n = 2;
    while taken.contains(&id) {
        id = format!("th-{h:016x}-{n}");
        n += 1;
    }
    id
}

/// Groups `posts` into themes. Existing themes keep their id and their members (those still among
/// `posts`); new posts join the closest theme when similar enough, the rest are clustered among
/// themselves, and groups of at least `min_posts` become new themes.
pub fn group(posts: &[ThemePost], existing: &[ExistingTheme], opts: ThemeOptions) -> Grouping {
    let t0 = Instant::now();
    let texts: Vec<DocText<'_>> = posts
        .iter()
        .map(|p| DocText {
            title: &p.title,
            body: &p.body,
            comments: p.comments.iter().map(String::as_str).collect(),
        })
        .collect();
    let corpus = Corpus::build(&texts);
    let index: HashMap<&str, u32> = posts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i as u32))
        .collect();
    // Seeds in id order, so the result does not depend on the order the caller lists them in
    // (centroids are float sums, and a post claimed twice goes to the first).
    let mut existing: Vec<&ExistingTheme> = existing.iter().collect();
    existing.sort_by(|a, b| a.id.cmp(&b.id));
    let mut claimed: HashSet<u32> = HashSet::new();
    let seeds: Vec<Vec<u32>> = existing
        .iter()
        .map(|t| {
            let mut m: Vec<u32> = t
                .members
                .iter()
                .filter_map(|id| index.get(id.as_str()).copied())
                .filter(|d| claimed.insert(*d))
                .collect();
            m.sort_unstable();
            m
        })
        .collect();
    // Two posts of stored themes never merge anything (seeds do not merge), so only the others
    // look for neighbours.
    let is_new = |d: usize| !claimed.contains(&(d as u32));
    let edges = knn_edges(&corpus.vectors, corpus.stems.len(), opts.knn, &is_new);
    let clusters = cluster(
        &corpus.vectors,
        &edges,
        &seeds,
        ClusterOptions {
            threshold: opts.threshold,
            centroid_terms: opts.centroid_terms,
        },
    );
    let as_of = opts
        .as_of
        .or_else(|| posts.iter().filter_map(|p| p.created_utc).reduce(f64::max));
    let mut taken: HashSet<String> = existing.iter().map(|t| t.id.clone()).collect();
    let mut out = Grouping {
        posts: posts.len(),
        ..Default::default()
    };
    for c in clusters {
        let (id, name) = match c.seed {
            Some(s) => (existing[s].id.clone(), existing[s].name.clone()),
            None if c.members.len() >= opts.min_posts.max(2) => {
                let ids: Vec<&str> = c.members.iter().map(|&d| posts[d as usize].id.as_str()).collect();
                let id = new_id(&ids, &taken);
                taken.insert(id.clone());
                (id, None)
            }
            None => {
                out.unthemed += c.members.len();
                continue;
            }
        };
        let theme = stats::theme(id, name, &c, posts, &corpus, as_of, opts.examples);
        if c.seed.is_some() {
            out.kept_themes += 1;
        } else {
            out.new_themes += 1;
        }
        out.themes.push(theme);
    }
    stats::rank(&mut out.themes);
    out.seconds = t0.elapsed().as_secs_f64();
    out
}

/// Applies an LLM review to a grouping: merged themes hand their posts to the theme they join
/// (which keeps its id), and names replace the offline ones. Returns the new grouping and the
/// `(theme, into)` pairs that were merged.
pub fn apply_review(
    posts: &[ThemePost],
    grouping: &Grouping,
    review: &super::llm::Review,
    opts: ThemeOptions,
) -> (Grouping, Vec<(String, String)>) {
    let sizes: HashMap<&str, u64> = grouping.themes.iter().map(|t| (t.id.as_str(), t.posts)).collect();
    let targets = super::llm::merge_targets(&review.merges, &sizes);
    let mut seeds: Vec<ExistingTheme> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for t in grouping.themes.iter().filter(|t| !targets.contains_key(&t.id)) {
        at.insert(t.id.as_str(), seeds.len());
        seeds.push(ExistingTheme {
            id: t.id.clone(),
            members: t.member_ids().iter().map(|s| s.to_string()).collect(),
            name: review.names.get(&t.id).cloned().or_else(|| Some(t.name.clone())),
        });
    }
    for t in &grouping.themes {
        if let Some(&i) = targets.get(&t.id).and_then(|into| at.get(into.as_str())) {
            seeds[i]
                .members
                .extend(t.member_ids().iter().map(|s| s.to_string()));
        }
    }
    let mut merged = group(posts, &seeds, opts);
    merged.kept_themes = grouping.kept_themes;
    merged.new_themes = grouping.new_themes.saturating_sub(targets.len());
    merged.seconds += grouping.seconds;
    (merged, targets.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, title: &str) -> ThemePost {
        ThemePost {
            id: id.into(),
            subreddit: "sysadmin".into(),
            title: title.into(),
            created_utc: Some(1_700_000_000.0),
            ..Default::default()
        }
    }

    #[test]
    fn groups_and_keeps_ids() {
        let posts = vec![
            post("a", "nightly backups fail silently"),
            post("b", "backup job failed silently overnight"),
            post("c", "silent backup failures nightly"),
            post("d", "clients pay invoices months late"),
            post("e", "late invoice payments from clients"),
            post("f", "chasing clients for late invoices"),
            post("g", "my cat likes the printer"),
        ];
        let opts = ThemeOptions::default();
        let g = group(&posts, &[], opts);
        assert_eq!(g.themes.len(), 2, "{:?}", g.themes);
        assert_eq!(g.unthemed, 1);
        let backup = g
            .themes
            .iter()
            .find(|t| t.member_ids().contains(&"a"))
            .expect("a theme");
        assert_eq!(backup.member_ids(), ["a", "b", "c"]);
        // A second run with the stored themes and one new post keeps both ids.
        let existing: Vec<ExistingTheme> = g
            .themes
            .iter()
            .map(|t| ExistingTheme {
                id: t.id.clone(),
                members: t.member_ids().iter().map(|s| s.to_string()).collect(),
                name: None,
            })
            .collect();
        let mut more = posts.clone();
        more.push(post("h", "backups failing silently again"));
        let g2 = group(&more, &existing, opts);
        assert_eq!(g2.kept_themes, 2);
        let again = g2.themes.iter().find(|t| t.id == backup.id).expect("same id");
        assert_eq!(again.member_ids(), ["a", "b", "c", "h"]);
    }
}
