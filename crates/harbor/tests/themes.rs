//! `harbor themes` end to end, on DuckDB and on a real Postgres: the labelled problem posts of
//! `harbor_testkit::problems` loaded with `harbor load`, grouped, stored in `themes`,
//! `theme_members` and `theme_weeks`; a re-run keeps every id, a new week of posts joins the
//! stored themes, and the grouping still agrees with the labels.

#[allow(unused_imports)]
mod common;

use std::collections::HashMap;

use common::pg::{count as psql_count, db_name};
use common::{Harbor, ok};
use harbor_ai::themes::eval::adjusted_rand_index;
use harbor_testkit::postgres::PgCluster;
use harbor_testkit::problems::{LabelledPost, generate};
use serde_json::{Value, json};

const END: f64 = 1_796_601_600.0; // Monday 2026-12-07
const WEEK: f64 = 7.0 * 86_400.0;

fn ndjson(set: &[LabelledPost]) -> String {
    set.iter()
        .map(|p| {
            json!({"id": p.id, "name": format!("t3_{}", p.id), "subreddit": p.subreddit,
                "title": p.title, "selftext": p.body, "author": p.author, "created_utc": p.created_utc,
                "score": 5, "num_comments": 1, "is_problem": p.label.is_some(),
                "permalink": format!("/r/{}/comments/{}/", p.subreddit, p.id)})
            .to_string()
                + "\n"
        })
        .collect()
}

fn harbor(h: &Harbor, dest: Option<&str>, args: &[&str]) -> String {
    let mut env = Vec::new();
    if let Some(d) = dest {
        env.push(("HARBOR_DESTINATION", d));
    }
    let out = h.command(args, &env).output().expect("run harbor");
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(PgCluster::PASSWORD) && !stderr.contains(PgCluster::PASSWORD),
        "the password is printed: {stderr}"
    );
    stdout
}

fn load(h: &Harbor, dest: Option<&str>, name: &str, set: &[LabelledPost]) {
    let f = h.write(name, &ndjson(set));
    harbor(
        h,
        dest,
        &["load", f.to_str().expect("utf-8 path"), "--table", "submissions"],
    );
}

fn themes_json(h: &Harbor, dest: Option<&str>) -> Value {
    let text = harbor(h, dest, &["themes", "--json", "--top", "1000"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Reads `(post id, theme id)` of every member through SQL.
type Members = HashMap<String, String>;

/// Counts of `themes` agree with the member rows and the weekly rows.
fn consistent(count: &dyn Fn(&str) -> i64) {
    assert_eq!(
        count(
            "SELECT count(*) FROM themes t WHERE t.posts <> (SELECT count(*) FROM theme_members m \
             WHERE m.theme_id = t.theme_id)"
        ),
        0,
        "posts = member rows"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM themes t WHERE t.posts <> (SELECT COALESCE(sum(w.posts), 0) FROM theme_weeks w \
             WHERE w.theme_id = t.theme_id AND w.subreddit IS NULL)"
        ),
        0,
        "posts = weekly rows"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM themes t WHERE t.posts <> (SELECT COALESCE(sum(w.posts), 0) FROM theme_weeks w \
             WHERE w.theme_id = t.theme_id AND w.subreddit IS NOT NULL)"
        ),
        0,
        "posts = weekly rows per subreddit"
    );
}

/// The whole scenario against one destination; `count` and `members` read it back with SQL.
fn scenario(h: &Harbor, dest: Option<&str>, count: &dyn Fn(&str) -> i64, members: &dyn Fn() -> Members) {
    let old = generate(11, 9, 30, 8, END - WEEK);
    load(h, dest, "old.ndjson", &old);
    let first = themes_json(h, dest);
    let problems = old.iter().filter(|p| p.label.is_some()).count() as u64;
    assert_eq!(
        first["posts"], problems,
        "only problem posts are grouped: {first}"
    );
    let n_themes = first["themes"].as_u64().expect("themes");
    assert!((25..=60).contains(&n_themes), "{n_themes} themes for 32 problems");
    assert_eq!(count("SELECT count(*) FROM themes") as u64, n_themes);
    let stored = members();
    assert_eq!(
        stored.len() as u64,
        problems - first["unthemed"].as_u64().expect("unthemed"),
        "every themed post has one member row"
    );
    consistent(count);
    assert!(count("SELECT count(*) FROM themes WHERE subreddits >= 2") > 0);
    // The grouping agrees with the labels.
    let n = old.len();
    let truth: Vec<usize> = old
        .iter()
        .enumerate()
        .map(|(i, p)| p.label.unwrap_or(n + i))
        .collect();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let found: Vec<usize> = old
        .iter()
        .enumerate()
        .map(|(i, p)| match stored.get(&p.id) {
            Some(t) => {
                let next = ids.len();
                *ids.entry(t.as_str()).or_insert(next)
            }
            None => n + i,
        })
        .collect();
    let ari = adjusted_rand_index(&truth, &found);
    assert!(ari >= 0.7, "ARI {ari:.3}");
    let list = first["top"].as_array().expect("themes_list");
    assert!(
        list.iter()
            .all(|t| t["examples"].as_array().is_some_and(|e| !e.is_empty()))
    );
    assert!(
        list.windows(2)
            .all(|w| w[0]["growth"].as_f64() >= w[1]["growth"].as_f64()),
        "ranked by growth"
    );

    // A re-run over the same posts changes nothing.
    let again = themes_json(h, dest);
    assert_eq!(again["themes"], first["themes"]);
    assert_eq!(again["new_themes"], 0);
    assert_eq!(members(), stored);
    consistent(count);

    // A new week: existing posts keep their theme, new posts join.
    let week = generate(12, 3, 5, 1, END);
    load(h, dest, "week.ndjson", &week);
    let third = themes_json(h, dest);
    assert_eq!(third["kept_themes"].as_u64(), Some(n_themes), "{third}");
    let after = members();
    let kept = stored.iter().filter(|(p, t)| after.get(*p) == Some(t)).count();
    assert!(
        kept as f64 >= 0.95 * stored.len() as f64,
        "{kept} of {} kept",
        stored.len()
    );
    let joined = week
        .iter()
        .filter(|p| p.label.is_some() && after.contains_key(&p.id))
        .count();
    assert!(joined >= 60, "{joined} of 96 new problem posts are in a theme");
    assert!(count("SELECT count(*) FROM themes WHERE posts_last_4w > 0") > 0);
    consistent(count);
}

#[test]
fn themes_on_duckdb() {
    let h = Harbor::new();
    let count = |sql: &str| h.query::<i64>(sql);
    let members = || -> Members {
        h.strings("SELECT post_id || '=' || theme_id FROM theme_members")
            .into_iter()
            .filter_map(|s| s.split_once('=').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .collect()
    };
    scenario(&h, None, &count, &members);
    // A filtered run is printed, never written over the stored themes.
    let stored = members();
    let weeks = h.count("theme_weeks");
    let text = harbor(&h, None, &["themes", "--json", "--subreddit", "sysadmin"]);
    let filtered: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(filtered["preview"], true);
    assert!(filtered["load_id"].is_null() && filtered["posts"].as_u64() > Some(0));
    assert_eq!(members(), stored);
    assert_eq!(h.count("theme_weeks"), weeks);
    let refused = h.run(&["themes", "--llm", "--since", "2026-01-01"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // The table in the terminal.
    let out = h.run(&["themes", "--top", "5"]);
    let table = ok(&out);
    let header = table.lines().next().unwrap_or_default();
    for col in ["rank", "name", "posts", "authors", "subs", "growth"] {
        assert!(header.contains(col), "{header}");
    }
    assert_eq!(table.lines().count(), 6, "{table}");
}

#[test]
fn themes_on_postgres() {
    let pg = PgCluster::shared();
    let url = pg.create_database("themes").expect("database");
    let db = db_name(&url);
    let dest = format!("{url}&schema=reddit");
    let h = Harbor::new();
    let count = |sql: &str| {
        let sql = sql
            .replace("FROM themes", "FROM reddit.themes")
            .replace("FROM theme_members", "FROM reddit.theme_members")
            .replace("FROM theme_weeks", "FROM reddit.theme_weeks");
        psql_count(pg, &db, &sql)
    };
    let members = || -> Members {
        pg.psql(&db, "SELECT post_id || '=' || theme_id FROM reddit.theme_members")
            .expect("members")
            .lines()
            .filter_map(|s| {
                s.trim()
                    .split_once('=')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
            })
            .collect()
    };
    scenario(&h, Some(&dest), &count, &members);
}

/// `harbor themes --llm` against the fake LLM, scripted with the answer of a model that knows the
/// labels: split themes are merged (the bigger keeps its id, the other is kept as `merged`), names
/// are the model's, and a re-run over the same posts sends nothing.
#[test]
fn themes_with_the_llm_step_on_duckdb() {
    use harbor_ai::themes::llm::MARKER;
    use harbor_testkit::FakeLlmConfig;

    let h = Harbor::new();
    let set = generate(21, 9, 20, 8, END);
    load(&h, None, "posts.ndjson", &set);
    // Offline with a strict threshold: problems split into several themes.
    let text = harbor(&h, None, &["themes", "--json", "--threshold", "0.5"]);
    let offline: Value = serde_json::from_str(&text).expect("json");
    let members: HashMap<String, String> = h
        .strings("SELECT post_id || '=' || theme_id FROM theme_members")
        .into_iter()
        .filter_map(|s| s.split_once('=').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect();
    // The scripted answer: every theme named after its majority problem, same_as the biggest
    // theme of that problem.
    let label: HashMap<&str, Option<usize>> = set.iter().map(|p| (p.id.as_str(), p.label)).collect();
    let mut votes: HashMap<&str, HashMap<usize, usize>> = HashMap::new();
    let mut size: HashMap<&str, usize> = HashMap::new();
    for (p, t) in &members {
        *size.entry(t.as_str()).or_default() += 1;
        if let Some(l) = label[p.as_str()] {
            *votes.entry(t.as_str()).or_default().entry(l).or_default() += 1;
        }
    }
    let problem = |t: &str| {
        votes
            .get(t)
            .and_then(|v| v.iter().max_by_key(|(l, n)| (**n, std::cmp::Reverse(**l))))
            .map(|(l, _)| *l)
    };
    let mut biggest: HashMap<usize, &str> = HashMap::new();
    let mut themes: Vec<&str> = size.keys().copied().collect();
    themes.sort_by_key(|t| (std::cmp::Reverse(size[t]), *t));
    for t in &themes {
        if let Some(l) = problem(t) {
            biggest.entry(l).or_insert(t);
        }
    }
    let items: Vec<Value> = themes
        .iter()
        .map(|t| {
            let l = problem(t);
            let same = l.and_then(|l| biggest.get(&l)).filter(|b| *b != t);
            json!({"id": t, "name": l.map(|l| format!("Problem number {l}")), "same_as": same})
        })
        .collect();
    let expected_merges = items.iter().filter(|i| i["same_as"].is_string()).count();
    assert!(
        expected_merges > 0,
        "the strict threshold splits some problem: {offline}"
    );
    let (_rt, fake) = common::reddit::fake_llm(FakeLlmConfig {
        scripted: vec![(MARKER.to_owned(), json!({ "themes": items }).to_string())],
        ..FakeLlmConfig::default()
    });
    h.write(
        "harbor.toml",
        &format!(
            "[score.llm]\nbase_url = \"{}\"\nmin_delay_ms = 1\nmax_delay_ms = 5\n",
            fake.base_url()
        ),
    );
    let text = harbor(&h, None, &["themes", "--json", "--threshold", "0.5", "--llm"]);
    let with_llm: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        with_llm["merged"].as_array().map(Vec::len),
        Some(expected_merges),
        "{with_llm}"
    );
    assert!(with_llm["llm"]["usage"]["prompt_tokens"].as_u64() > Some(0));
    let sent = fake.request_count();
    assert!(sent > 0);
    assert_eq!(
        h.query::<i64>("SELECT count(*) FROM themes WHERE status = 'merged' AND merged_into IS NOT NULL"),
        expected_merges as i64
    );
    // Posts of a merged theme now belong to the theme it joined.
    assert_eq!(
        h.query::<i64>(
            "SELECT count(*) FROM theme_members WHERE theme_id IN (SELECT theme_id FROM themes WHERE status = 'merged')"
        ),
        0
    );
    assert!(
        h.query::<i64>(
            "SELECT count(*) FROM themes WHERE name_source = 'llm' AND name LIKE 'Problem number %'"
        ) > 0
    );
    // The API hides merged themes; the run trace counts the tokens.
    assert!(
        h.query::<i64>("SELECT count(*) FROM _harbor_runs WHERE command = 'themes' AND llm_tokens > 0") == 1
    );

    // A re-run over the same posts: answered from the cache, 0 tokens, same themes.
    let text = harbor(&h, None, &["themes", "--json", "--threshold", "0.5", "--llm"]);
    let again: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(fake.request_count(), sent, "no request on a re-run: {again}");
    assert_eq!(again["llm"]["sent_batches"], 0);
    assert_eq!(again["llm"]["usage"]["prompt_tokens"], 0);
    assert_eq!(again["themes"], with_llm["themes"]);
    assert!(
        h.query::<i64>("SELECT count(*) FROM themes WHERE name_source = 'llm' AND status = 'active'") > 0
    );
}
