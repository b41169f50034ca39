//! Themes measured against a labelled set made by `harbor_testkit::problems`: 32 problems, each
//! in differently worded posts, plus unrelated posts. The grouping must reach an adjusted Rand
//! index of 0.7, and a week of new posts must leave existing posts in their themes.

use std::collections::HashMap;

use harbor_ai::themes::eval::{adjusted_rand_index, purity};
use harbor_ai::themes::llm::{MARKER, ThemeReviewer};
use harbor_ai::themes::{ExistingTheme, Grouping, ThemeOptions, ThemePost, apply_review, group};
use harbor_ai::{Limits, PriceTable};
use harbor_testkit::problems::{LabelledPost, generate, problem_count};
use harbor_testkit::{FakeLlm, FakeLlmConfig};
use serde_json::json;

const END: f64 = 1_796_601_600.0; // Monday 2026-12-07

fn posts(set: &[LabelledPost]) -> Vec<ThemePost> {
    set.iter()
        .map(|p| ThemePost {
            id: p.id.clone(),
            subreddit: p.subreddit.clone(),
            author: Some(p.author.clone()),
            created_utc: Some(p.created_utc),
            title: p.title.clone(),
            body: p.body.clone(),
            ..Default::default()
        })
        .collect()
}

/// True and found labels of every post: unrelated posts and unthemed posts are singletons.
fn labels(set: &[LabelledPost], g: &Grouping) -> (Vec<usize>, Vec<usize>) {
    let theme_of: HashMap<&str, usize> = g
        .themes
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.members.iter().map(move |m| (m.post_id.as_str(), i)))
        .collect();
    let n = set.len();
    let truth = set
        .iter()
        .enumerate()
        .map(|(i, p)| p.label.unwrap_or(n + i))
        .collect();
    let found = set
        .iter()
        .enumerate()
        .map(|(i, p)| theme_of.get(p.id.as_str()).copied().unwrap_or(n + i))
        .collect();
    (truth, found)
}

#[test]
fn offline_grouping_reaches_ari_0_7() {
    let set = generate(1, 10, 40, 8, END);
    assert!(problem_count() >= 30);
    let g = group(&posts(&set), &[], ThemeOptions::default());
    let (truth, found) = labels(&set, &g);
    let ari = adjusted_rand_index(&truth, &found);
    let pur = purity(&truth, &found);
    eprintln!(
        "themes eval: {} posts, {} problems, {} themes, {} unthemed, ARI {ari:.3}, purity {pur:.3}, {:.3} s",
        set.len(),
        problem_count(),
        g.themes.len(),
        g.unthemed,
        g.seconds
    );
    assert!(ari >= 0.7, "adjusted Rand index {ari:.3} < 0.7 (purity {pur:.3})");
    assert!(pur >= 0.8, "purity {pur:.3}");
}

#[test]
fn a_new_week_keeps_existing_posts_in_their_themes() {
    let old = generate(2, 10, 40, 8, END - 7.0 * 86_400.0);
    let first = group(&posts(&old), &[], ThemeOptions::default());
    let existing: Vec<ExistingTheme> = first
        .themes
        .iter()
        .map(|t| ExistingTheme {
            id: t.id.clone(),
            members: t.member_ids().iter().map(|s| s.to_string()).collect(),
            name: None,
        })
        .collect();
    let before: HashMap<String, String> = first
        .themes
        .iter()
        .flat_map(|t| t.members.iter().map(move |m| (m.post_id.clone(), t.id.clone())))
        .collect();
    // A week of new posts about the same problems, written with another seed.
    let week = generate(3, 3, 10, 1, END);
    let mut all = old.clone();
    all.extend(week.iter().cloned());
    let second = group(&posts(&all), &existing, ThemeOptions::default());
    let after: HashMap<&str, &str> = second
        .themes
        .iter()
        .flat_map(|t| t.members.iter().map(move |m| (m.post_id.as_str(), t.id.as_str())))
        .collect();
    let kept = before
        .iter()
        .filter(|(p, t)| after.get(p.as_str()) == Some(&t.as_str()))
        .count();
    let share = kept as f64 / before.len() as f64;
    // New posts should mostly land in the theme that holds most of their problem's old posts.
    let mut majority: HashMap<usize, HashMap<&str, usize>> = HashMap::new();
    for p in &old {
        if let (Some(l), Some(t)) = (p.label, before.get(&p.id)) {
            *majority.entry(l).or_default().entry(t.as_str()).or_default() += 1;
        }
    }
    let home = |l: usize| {
        majority
            .get(&l)
            .and_then(|m| m.iter().max_by_key(|(_, n)| **n))
            .map(|(t, _)| *t)
    };
    let labelled: Vec<&LabelledPost> = week.iter().filter(|p| p.label.is_some()).collect();
    let joined = labelled
        .iter()
        .filter(|p| {
            p.label
                .and_then(home)
                .is_some_and(|t| after.get(p.id.as_str()) == Some(&t))
        })
        .count();
    let join_share = joined as f64 / labelled.len() as f64;
    eprintln!(
        "themes stability: {kept}/{} existing posts kept their theme ({share:.3}); {joined}/{} new \
         problem posts joined their problem's theme ({join_share:.3}); themes {} -> {} ({} new)",
        before.len(),
        labelled.len(),
        first.themes.len(),
        second.themes.len(),
        second.new_themes
    );
    assert!(
        share >= 0.95,
        "only {share:.3} of existing posts kept their theme"
    );
    assert!(
        join_share >= 0.6,
        "only {join_share:.3} of new posts joined their problem's theme"
    );
    assert_eq!(second.kept_themes, first.themes.len(), "every theme keeps its id");
}

/// The answer an LLM that knows the labels would give: each theme named after its problem, and
/// `same_as` the biggest theme of the same problem.
fn oracle_answer(set: &[LabelledPost], g: &Grouping) -> serde_json::Value {
    let label: HashMap<&str, Option<usize>> = set.iter().map(|p| (p.id.as_str(), p.label)).collect();
    let majority = |t: &harbor_ai::themes::Theme| {
        let mut n: HashMap<Option<usize>, usize> = HashMap::new();
        for m in &t.members {
            *n.entry(label[m.post_id.as_str()]).or_default() += 1;
        }
        n.into_iter()
            .max_by_key(|(l, c)| (*c, std::cmp::Reverse(*l)))
            .and_then(|(l, _)| l)
    };
    let mut biggest: HashMap<usize, (&str, u64)> = HashMap::new();
    for t in &g.themes {
        if let Some(l) = majority(t) {
            let e = biggest.entry(l).or_insert((t.id.as_str(), t.posts));
            if t.posts > e.1 {
                *e = (t.id.as_str(), t.posts);
            }
        }
    }
    let items: Vec<serde_json::Value> = g
        .themes
        .iter()
        .map(|t| {
            let l = majority(t);
            let same = l
                .and_then(|l| biggest.get(&l))
                .map(|(id, _)| *id)
                .filter(|id| *id != t.id);
            json!({"id": t.id, "name": l.map(|l| format!("Problem number {l}")), "same_as": same})
        })
        .collect();
    json!({ "themes": items })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_step_merges_split_themes_caches_and_respects_the_cap() {
    let set = generate(4, 10, 40, 8, END);
    let posts = posts(&set);
    // A strict threshold splits problems into several themes: the case the LLM step is for.
    let opts = ThemeOptions {
        threshold: 0.5,
        ..ThemeOptions::default()
    };
    let offline = group(&posts, &[], opts);
    let (truth, found) = labels(&set, &offline);
    let ari_offline = adjusted_rand_index(&truth, &found);

    let answer = oracle_answer(&set, &offline).to_string();
    let fake = FakeLlm::start(FakeLlmConfig {
        scripted: vec![(MARKER.to_owned(), answer)],
        ..FakeLlmConfig::default()
    })
    .await
    .expect("fake");
    let reviewer = ThemeReviewer::new(&super::settings(&fake), &PriceTable::default()).expect("reviewer");
    let review = reviewer
        .review(&offline.themes, &HashMap::new(), Limits::default())
        .await;
    assert!(
        review.sent_batches >= 1 && review.failed_batches == 0,
        "{review:?}"
    );
    assert!(review.usage.total() > 0 && fake.request_count() as u64 == review.sent_batches);
    let (merged, pairs) = apply_review(&posts, &offline, &review, opts);
    let (truth, found) = labels(&set, &merged);
    let ari_llm = adjusted_rand_index(&truth, &found);
    eprintln!(
        "themes llm: {} themes offline (threshold 0.5, ARI {ari_offline:.3}) -> {} after the LLM step \
         ({} merged, ARI {ari_llm:.3}), {} tokens",
        offline.themes.len(),
        merged.themes.len(),
        pairs.len(),
        review.usage.total()
    );
    assert!(!pairs.is_empty(), "the scripted answer merges split themes");
    assert!(
        ari_llm > ari_offline,
        "ARI {ari_llm:.3} after the LLM step, {ari_offline:.3} before"
    );
    // Merged-into themes keep their ids, and every theme has the LLM's name.
    let ids: std::collections::HashSet<&str> = offline.themes.iter().map(|t| t.id.as_str()).collect();
    assert!(merged.themes.iter().all(|t| ids.contains(t.id.as_str())));
    let named: Vec<_> = merged
        .themes
        .iter()
        .filter(|t| review.names.contains_key(&t.id))
        .collect();
    assert!(!named.is_empty() && named.iter().all(|t| t.name == review.names[&t.id]));
    // The request holds terms and titles, never author names.
    let body = fake.requests()[0].body.to_string();
    assert!(body.contains(MARKER) && !set.iter().any(|p| body.contains(&format!("\"{}\"", p.author))));

    // A re-run over the same themes is answered from the cache: no request, 0 tokens.
    let sent = fake.request_count();
    let cache: HashMap<String, serde_json::Value> = review.answers.clone().into_iter().collect();
    let again = reviewer.review(&offline.themes, &cache, Limits::default()).await;
    assert_eq!(fake.request_count(), sent);
    assert_eq!((again.usage.total(), again.cost_usd), (0, 0.0));
    assert_eq!(again.cached_batches, review.sent_batches);
    assert_eq!(again.merges, review.merges);

    // A token budget smaller than one batch sends nothing and says why.
    let capped = reviewer
        .review(
            &offline.themes,
            &HashMap::new(),
            Limits {
                max_tokens: Some(10),
                max_cost_usd: None,
            },
        )
        .await;
    assert_eq!(fake.request_count(), sent);
    assert!(capped.stopped.is_some() && capped.merges.is_empty());
}
