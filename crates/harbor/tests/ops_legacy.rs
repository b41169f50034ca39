//! The migration from the legacy collector against a real PostgreSQL (testkit cluster): `harbor
//! import` of both legacy layouts, and `harbor compare` (the parallel test).

#[allow(unused_imports)]
mod common;
mod ops_common;

use std::collections::BTreeSet;

use common::pg::db_name;
use common::reddit::{Fake, command, corpus};
use common::{Harbor, ok};
use harbor_testkit::postgres::PgCluster;
use ops_common::{now, posts};

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A legacy database in the plan's layout holding exactly the things of `ndjson`.
fn plan_db(pg: &PgCluster, ndjson: &str) -> String {
    let url = pg.create_database("legacy_plan").expect("database");
    let mut sql = String::from(
        "CREATE TABLE submissions (id varchar primary key, created_utc bigint, title text, selftext text, \
         subreddit varchar, author varchar, score integer, num_comments integer, url text);\n\
         CREATE TABLE comments (id varchar primary key, submission_id varchar, created_utc bigint, body text, \
         author varchar, score integer);\n",
    );
    for line in ndjson.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("thing");
        let d = &v["data"];
        let s = |k: &str| sql_str(d[k].as_str().unwrap_or_default());
        sql.push_str(&format!(
            "INSERT INTO submissions VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {});\n",
            s("id"),
            d["created_utc"].as_f64().unwrap_or(0.0) as i64,
            s("title"),
            s("selftext"),
            s("subreddit"),
            s("author"),
            d["score"],
            d["num_comments"],
            s("url"),
        ));
    }
    pg.psql(&db_name(&url), &sql).expect("seed plan layout");
    url
}

fn compare(h: &Harbor, url: &str) -> (i32, serde_json::Value) {
    let out = h.run(&["compare", "--legacy", url, "--subreddit", "rust", "--json"]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn compare_passes_identical_sets_and_names_missing_rows_and_changed_fields() {
    let pg = PgCluster::shared();
    let t = (now() - 3600.0).floor();
    let data = posts("c", "rust", 100, t, 60.0);
    let url = plan_db(pg, &data);

    let h = Harbor::new();
    let f = h.write("posts.ndjson", &data);
    ok(&h.run(&["load", f.to_str().unwrap_or_default()]));
    let (code, v) = compare(&h, &url);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("pass")), "{v:#}");
    assert_eq!(
        (v["legacy_count"].as_u64(), v["harbor_count"].as_u64()),
        (Some(100), Some(100))
    );
    assert_eq!(v["field_diff_count"], 0);

    // 6% of the rows missing on our side: fail, and the six ids are named.
    let mut s = ops_common::store(&h.db());
    s.execute(
        "DELETE FROM submissions WHERE id IN ('c10', 'c11', 'c12', 'c13', 'c14', 'c15')",
        &[],
        "delete",
    )
    .expect("delete");
    drop(s);
    let (code, v) = compare(&h, &url);
    assert_eq!((code, v["verdict"].as_str()), (3, Some("fail")), "{v:#}");
    assert_eq!(v["only_legacy_count"], 6);
    let missing: Vec<&str> = v["only_legacy"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(missing, ["c10", "c11", "c12", "c13", "c14", "c15"]);
    assert!(
        v["reasons"][0].as_str().unwrap_or_default().contains("6.0%"),
        "{v:#}"
    );

    // 4% missing is within the tolerance.
    let h2 = Harbor::new();
    let f2 = h2.write("posts.ndjson", &data);
    ok(&h2.run(&["load", f2.to_str().unwrap_or_default()]));
    let mut s = ops_common::store(&h2.db());
    s.execute(
        "DELETE FROM submissions WHERE id IN ('c20', 'c21', 'c22', 'c23')",
        &[],
        "delete",
    )
    .expect("delete");
    drop(s);
    let (code, v) = compare(&h2, &url);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("pass")), "{v:#}");

    // One changed field on an id present on both sides: fail, naming the id and the field.
    pg.psql(
        &db_name(&url),
        "UPDATE submissions SET title = 'edited by legacy' WHERE id = 'c42'",
    )
    .expect("update");
    let (code, v) = compare(&h2, &url);
    assert_eq!((code, v["verdict"].as_str()), (3, Some("fail")), "{v:#}");
    assert_eq!(v["field_diff_count"], 1);
    assert_eq!(v["field_diffs"][0]["id"], "c42");
    assert_eq!(v["field_diffs"][0]["field"], "title");
    assert_eq!(v["field_diffs"][0]["legacy"], "edited by legacy");
    assert_eq!(v["field_diffs"][0]["harbor"], "post 42 in rust");

    // The text report says the same.
    let out = h2.run(&["compare", "--legacy", &url, "--subreddit", "rust"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: FAIL") && text.contains("c42 title"),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PgCluster::PASSWORD));
}

/// The original RedditHarbor layout: 2 subreddits x 20 posts, every 5th post by a deleted account,
/// three observations per time series, two comments per post.
fn original_db(pg: &PgCluster, newest: i64) -> String {
    let url = pg.create_database("legacy_original").expect("database");
    let sql = format!(
        "CREATE TABLE redditor (redditor_id varchar primary key, name varchar, created_at timestamptz, karma jsonb, \
           is_gold boolean, is_mod jsonb, trophy jsonb, removed boolean);
         CREATE TABLE submission (submission_id varchar primary key, redditor_id varchar, created_at timestamptz, \
           title text, text text, subreddit varchar, permalink varchar, attachment jsonb, flair jsonb, awards jsonb, \
           score jsonb, upvote_ratio jsonb, num_comments jsonb, edited boolean, archived boolean, removed boolean, poll jsonb);
         CREATE TABLE comment (comment_id varchar primary key, link_id varchar, subreddit varchar, parent_id varchar, \
           redditor_id varchar, created_at timestamptz, body text, score jsonb, edited boolean, removed boolean);
         INSERT INTO redditor SELECT 'u' || i, 'user' || i, to_timestamp(1500000000 + i), \
           jsonb_build_object('link', i * 10, 'comment', i * 100), i = 1, '{{\"2024-01-01T00:00:00\": false}}', NULL, false \
           FROM generate_series(0, 2) i;
         INSERT INTO submission SELECT 'p' || s || i, CASE WHEN i % 5 = 0 THEN NULL ELSE 'u' || (i % 3) END, \
           to_timestamp({newest} - 3600 * i - s * 60), 'legacy post ' || s || i, 'body ' || i, \
           CASE WHEN s = 0 THEN 'rust' ELSE 'golang' END, '/r/x/comments/p' || s || i, NULL, \
           '{{\"text\": \"Help\"}}', '[]', \
           jsonb_build_object('2024-01-01T00:00:00', i, '2024-01-02T00:00:00', i + 1, '2024-01-03T00:00:00', i + 2), \
           jsonb_build_object('2024-01-01T00:00:00', 0.5, '2024-01-02T00:00:00', 0.75, '2024-01-03T00:00:00', 0.9), \
           jsonb_build_object('2024-01-01T00:00:00', 0, '2024-01-02T00:00:00', 1, '2024-01-03T00:00:00', 2), \
           false, false, i = 7, NULL \
           FROM generate_series(0, 1) s, generate_series(0, 19) i;
         INSERT INTO comment SELECT 'k' || s || i || j, 't3_p' || s || i, CASE WHEN s = 0 THEN 'rust' ELSE 'golang' END, \
           CASE WHEN j = 0 THEN 't3_p' || s || i ELSE 't1_k' || s || i || '0' END, \
           CASE WHEN j = 1 THEN NULL ELSE 'u2' END, to_timestamp({newest} - 3600 * i + 10 * j), 'comment ' || j, \
           jsonb_build_object('2024-01-03T00:00:00', j + 3), false, false \
           FROM generate_series(0, 1) s, generate_series(0, 19) i, generate_series(0, 1) j;"
    );
    pg.psql(&db_name(&url), &sql).expect("seed original layout");
    url
}

#[test]
fn import_reads_the_original_layout_with_history_deleted_authors_and_cursors() {
    let pg = PgCluster::shared();
    let newest = now() as i64 - 7200;
    let url = original_db(pg, newest);
    let h = Harbor::new();
    let out = ok(&h.run(&["import", "--from", &url, "--json"]));
    let rep: serde_json::Value = serde_json::from_str(&out).expect("report");
    assert_eq!(rep["layout"], "original");
    assert_eq!(
        (
            rep["submissions"].as_u64(),
            rep["comments"].as_u64(),
            rep["redditors"].as_u64()
        ),
        (Some(40), Some(80), Some(3))
    );
    assert_eq!(rep["history"], 120);
    // 8 posts and 40 comments by deleted accounts.
    assert_eq!(rep["deleted_authors"], 48);

    let ids = h.strings("SELECT id FROM submissions");
    let want: std::collections::BTreeSet<String> = (0..2)
        .flat_map(|s| (0..20).map(move |i| format!("p{s}{i}")))
        .collect();
    assert_eq!(ids, want);
    assert_eq!(h.count("comments"), 80);
    assert_eq!(h.count("redditors"), 3);
    assert_eq!(h.count("submission_history"), 120);
    // The latest value of each series.
    let score: i64 = h.query("SELECT score FROM submissions WHERE id = 'p03'");
    assert_eq!(score, 5);
    let ratio: f64 = h.query("SELECT upvote_ratio FROM submissions WHERE id = 'p03'");
    assert!((ratio - 0.9).abs() < 1e-9);
    let author: String = h.query("SELECT author FROM submissions WHERE id = 'p05'");
    assert_eq!(author, "[deleted]");
    let author: String = h.query("SELECT author FROM submissions WHERE id = 'p04'");
    assert_eq!(author, "user1");
    let parent: String = h.query("SELECT parent_id FROM comments WHERE id = 'k031'");
    assert_eq!(parent, "t1_k030");
    let link: String = h.query("SELECT link_id FROM comments WHERE id = 'k031'");
    assert_eq!(link, "t3_p03");
    let created: i64 = h.query("SELECT CAST(epoch(created_utc) AS BIGINT) FROM submissions WHERE id = 'p00'");
    assert_eq!(created, newest);

    // Cursors start at the newest imported post of each subreddit.
    let cursor: String =
        h.query("SELECT CAST(value AS VARCHAR) FROM _harbor_state WHERE key = 'reddit/r/rust/new'");
    let cursor: serde_json::Value = serde_json::from_str(&cursor).expect("cursor");
    assert_eq!(cursor["max_created_utc"].as_f64(), Some(newest as f64));
    assert_eq!(cursor["boundary_ids"], serde_json::json!(["t3_p00"]));
    let golang: String =
        h.query("SELECT CAST(value AS VARCHAR) FROM _harbor_state WHERE key = 'reddit/r/golang/new'");
    assert!(golang.contains("t3_p10"), "{golang}");

    // `harbor status` shows each subreddit's cursor, rows, last success and route.
    let st: serde_json::Value = serde_json::from_str(&ok(&h.run(&["status", "--json"]))).expect("status");
    let rust = st["subreddits"]
        .as_array()
        .expect("subreddits")
        .iter()
        .find(|s| s["subreddit"] == "rust")
        .cloned()
        .expect("rust");
    assert_eq!(rust["submissions"], 20);
    assert_eq!(rust["route"], "harbor");
    assert!(
        rust["cursor"].as_str().is_some() && rust["last_success"].as_str().is_some(),
        "{rust}"
    );

    // The run is traced; importing again changes nothing (merge on the kept ids).
    let again = h.run(&["import", "--from", &url]);
    ok(&again);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("from the original (submission, comment, redditor tables) layout")
            && !said.contains("Some("),
        "{said}"
    );
    assert_eq!(h.count("submissions"), 40);
    assert_eq!(h.count("comments"), 80);
    let runs = ok(&h.run(&["runs", "--json"]));
    let runs: serde_json::Value = serde_json::from_str(&runs).expect("runs");
    assert_eq!(runs[0]["command"], "import");
    assert_eq!(runs[0]["status"], "ok");
    assert!(!runs.to_string().contains(PgCluster::PASSWORD));
}

#[test]
fn import_reads_the_plan_layout() {
    let pg = PgCluster::shared();
    let t = (now() - 600.0).floor();
    let mut data = posts("q", "SideProject", 30, t, 120.0);
    data.push_str(&posts("w", "freelance", 10, t - 30.0, 120.0));
    let url = plan_db(pg, &data);
    pg.psql(
        &db_name(&url),
        "INSERT INTO comments SELECT 'cm' || i, 'q' || i, 1700000000 + i, 'thanks', CASE WHEN i = 0 THEN NULL ELSE 'bob' END, 1 \
         FROM generate_series(0, 9) i; UPDATE submissions SET author = NULL WHERE id = 'q3'",
    )
    .expect("comments");
    let h = Harbor::new();
    let rep: serde_json::Value =
        serde_json::from_str(&ok(&h.run(&["import", "--from", &url, "--json"]))).expect("json");
    assert_eq!(rep["layout"], "plan");
    assert_eq!(
        (rep["submissions"].as_u64(), rep["comments"].as_u64()),
        (Some(40), Some(10))
    );
    assert_eq!(rep["deleted_authors"], 2);
    assert_eq!(h.count("submissions"), 40);
    assert_eq!(h.count("comments"), 10);
    let link: String = h.query("SELECT link_id FROM comments WHERE id = 'cm4'");
    assert_eq!(link, "t3_q4");
    let author: String = h.query("SELECT author FROM submissions WHERE id = 'q3'");
    assert_eq!(author, "[deleted]");
    let cursor: String =
        h.query("SELECT CAST(value AS VARCHAR) FROM _harbor_state WHERE key = 'reddit/r/sideproject/new'");
    assert!(
        cursor.contains(&format!("{}", t as i64)) && cursor.contains("t3_q0"),
        "{cursor}"
    );
    // Compare agrees with what was imported.
    let out = h.run(&["compare", "--legacy", &url, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("compare");
    assert_eq!(v["verdict"], "pass", "{v:#}");
}

/// A legacy database in the original layout holding the fake's posts of `sub` (their real ids and
/// creation times), with `{time: value}` series and every 7th post by a deleted account.
fn original_db_of(pg: &PgCluster, posts: &[serde_json::Value]) -> String {
    let url = pg.create_database("legacy_original_fake").expect("database");
    let mut sql = String::from(
        "CREATE TABLE redditor (redditor_id varchar primary key, name varchar, created_at timestamptz, karma jsonb, \
           is_gold boolean, is_mod jsonb, trophy jsonb, removed boolean);
         CREATE TABLE submission (submission_id varchar primary key, redditor_id varchar, created_at timestamptz, \
           title text, text text, subreddit varchar, permalink varchar, attachment jsonb, flair jsonb, awards jsonb, \
           score jsonb, upvote_ratio jsonb, num_comments jsonb, edited boolean, archived boolean, removed boolean, poll jsonb);
         CREATE TABLE comment (comment_id varchar primary key, link_id varchar, subreddit varchar, parent_id varchar, \
           redditor_id varchar, created_at timestamptz, body text, score jsonb, edited boolean, removed boolean);\n",
    );
    let mut authors = std::collections::BTreeSet::new();
    for (i, d) in posts.iter().enumerate() {
        let s = |k: &str| sql_str(d[k].as_str().unwrap_or_default());
        let author = d["author"].as_str().unwrap_or_default();
        let redditor = if i % 7 == 3 {
            "NULL".to_owned()
        } else {
            authors.insert(author.to_owned());
            sql_str(&format!("id_{author}"))
        };
        sql.push_str(&format!(
            "INSERT INTO submission VALUES ({}, {redditor}, to_timestamp({}), {}, {}, {}, {}, NULL, NULL, '[]', \
             jsonb_build_object('2024-01-01T00:00:00', 1, '2024-01-02T00:00:00', {}), \
             jsonb_build_object('2024-01-02T00:00:00', {}), \
             jsonb_build_object('2024-01-02T00:00:00', {}), false, false, false, NULL);\n",
            s("id"),
            d["created_utc"],
            s("title"),
            s("selftext"),
            s("subreddit"),
            s("permalink"),
            d["score"],
            d["upvote_ratio"],
            d["num_comments"],
        ));
    }
    for a in &authors {
        sql.push_str(&format!(
            "INSERT INTO redditor VALUES ({}, {}, to_timestamp(1500000000), '{{\"link\": 1, \"comment\": 2}}', \
             false, NULL, NULL, false);\n",
            sql_str(&format!("id_{a}")),
            sql_str(a)
        ));
    }
    pg.psql(&db_name(&url), &sql).expect("seed original layout");
    url
}

/// Imports the fake's current posts of `sub` from a legacy database, adds `k` newer posts to the
/// fake, and checks that the first `harbor collect` reads one listing page and loads only those.
/// `lag` is the project's `[collect] lag_window_secs` (posts below the cursor re-read each run).
fn import_then_collect(pg: &PgCluster, fake: &Fake, sub: &str, layout: &str, k: usize, lag: u32) {
    let posts = fake.fake.posts(sub);
    assert!(posts.len() > 100, "the imported posts fill more than a page");
    let url = match layout {
        "original" => original_db_of(pg, &posts),
        _ => {
            let ndjson: String = posts
                .iter()
                .map(|d| serde_json::json!({"kind": "t3", "data": d}).to_string() + "\n")
                .collect();
            let url = plan_db(pg, &ndjson);
            pg.psql(
                &db_name(&url),
                "UPDATE submissions SET author = NULL WHERE random() < 0.1",
            )
            .expect("deleted authors");
            url
        }
    };
    let imported: BTreeSet<String> = posts
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_owned())
        .collect();

    let h = Harbor::new();
    h.write("harbor.toml", &format!("[collect]\nlag_window_secs = {lag}\n"));
    let rep: serde_json::Value =
        serde_json::from_str(&ok(&h.run(&["import", "--from", &url, "--json"]))).expect("report");
    assert_eq!(rep["layout"], layout);
    assert_eq!(rep["submissions"].as_u64(), Some(posts.len() as u64));
    assert_eq!(h.strings("SELECT id FROM submissions"), imported);

    let added: BTreeSet<String> = fake.fake.add_posts(sub, k).into_iter().collect();
    assert!(added.is_disjoint(&imported));
    fake.fake.reset_counts();
    let as_of = fake.as_of();
    let out = command(
        &h,
        fake,
        &[
            "collect",
            sub,
            "--json",
            "--refresh-window",
            "0",
            "--as-of",
            &as_of,
        ],
        &[],
    )
    .output()
    .expect("run harbor");
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).expect("collect report");
    let s = &report["subreddits"][0];
    // k < 100 new posts sit on the first page together with the newest imported one: one call.
    assert_eq!(fake.fake.count("listing"), 1, "{layout}: {report:#}");
    assert_eq!(report["api_calls"]["listing"], 1, "{report:#}");
    assert_eq!(s["new_posts"].as_u64(), Some(k as u64), "{layout}: {report:#}");
    assert_eq!(
        report["rows"]["submissions"].as_u64(),
        Some(k as u64),
        "{layout}: only the new posts are loaded: {report:#}"
    );
    // Comment threads of the new posts only, none of an imported post.
    let threads = added
        .iter()
        .filter(|p| !fake.fake.comment_ids(p).is_empty())
        .count();
    assert_eq!(
        fake.fake.count("comments") as usize,
        threads,
        "{layout}: {report:#}"
    );
    assert_eq!(fake.fake.count("info"), 0);

    let ids = h.strings("SELECT id FROM submissions");
    assert_eq!(ids, imported.union(&added).cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        h.count("submissions") as usize,
        imported.len() + k,
        "no duplicate ids"
    );
    let dup: i64 = h.query("SELECT count(*) - count(DISTINCT id) FROM submissions");
    assert_eq!(dup, 0);
    // The cursor moved to the newest new post.
    let cursor: String = h.query(&format!(
        "SELECT CAST(value AS VARCHAR) FROM _harbor_state WHERE key = 'reddit/r/{sub}/new'"
    ));
    let cursor: serde_json::Value = serde_json::from_str(&cursor).expect("cursor");
    assert_eq!(
        cursor["max_created_utc"].as_f64(),
        Some(fake.fake.newest_created_utc())
    );
}

#[test]
fn after_import_of_either_layout_the_first_collect_fetches_only_newer_posts() {
    let pg = PgCluster::shared();
    let fake = Fake::start(corpus(&["oldschool", "planned", "lagged"], 130));
    import_then_collect(pg, &fake, "oldschool", "original", 37, 0);
    import_then_collect(pg, &fake, "planned", "plan", 99, 0);
    // With a lag window the walk re-reads the imported posts below the cursor: they must be known.
    import_then_collect(pg, &fake, "lagged", "original", 20, 900);
}

/// The legacy `opportunity_analysis` rows come over as results of the scorer `imported`: ranked
/// by `harbor opportunities`, left alone by `harbor score`, scored again with `--rescore`.
#[test]
fn import_keeps_the_legacy_opportunity_scores_until_a_rescore() {
    let pg = PgCluster::shared();
    let newest = now() - 3600.0;
    let things: String = (0..6)
        .map(|i| {
            serde_json::json!({"kind": "t3", "data": {
                "id": format!("op{i}"), "subreddit": "smallbusiness", "author": "owner",
                "title": format!("I hate doing invoices by hand every month, is there a tool {i}"),
                "selftext": "It is so frustrating and takes hours", "created_utc": newest - 60.0 * i as f64,
                "score": 10 + i, "num_comments": 0, "url": "https://example.invalid/",
            }})
            .to_string()
                + "\n"
        })
        .collect();
    let url = plan_db(pg, &things);
    pg.psql(
        &db_name(&url),
        "CREATE TABLE opportunity_analysis (post_id varchar primary key, app_concept text, \
           core_functions text[], growth_justification text, market_demand integer, pain_intensity integer, \
           monetization_score integer, generated_at timestamp, ai_model varchar);
         INSERT INTO opportunity_analysis VALUES \
           ('op0', 'Invoice autopilot', ARRAY['track hours', 'send \"smart\" invoices'], 'every freelancer', 80, 90, 70, \
            '2025-01-02 03:04:05', 'gpt-4o-mini'), \
           ('op1', 'Reminder bot', ARRAY['remind'], NULL, 40, 50, 30, '2025-01-03 00:00:00', 'gpt-4o-mini');",
    )
    .expect("legacy scores");
    let h = Harbor::new();
    let rep: serde_json::Value =
        serde_json::from_str(&ok(&h.run(&["import", "--from", &url, "--json"]))).expect("report");
    assert_eq!(rep["analyses"], 2, "{rep}");
    let out = h.run(&["import", "--from", &url]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("2 opportunity scores kept") && text.contains("harbor score --rescore"),
        "{text}"
    );
    assert_eq!(
        h.count("opportunity_analysis"),
        2,
        "imported once, merged on analysis_id"
    );
    // Mapped to our columns: the legacy formula over the dimensions the row has, renormalised;
    // simplicity from the number of core functions (2 -> 85).
    let op0: String = h.query(
        "SELECT scorer_id || '|' || status || '|' || monetization_potential || '|' || simplicity || '|' || \
         final_score || '|' || model || '|' || CAST(core_functions AS VARCHAR) || '|' || CAST(scored_at AS VARCHAR) \
         FROM opportunity_analysis WHERE post_id = 'op0'",
    );
    let expected_final =
        ((80.0 * 0.20 + 90.0 * 0.25 + 70.0 * 0.20 + 85.0 * 0.20) / 0.85 * 100.0_f64).round() / 100.0;
    assert_eq!(
        op0,
        format!(
            "imported|scored|70.0|85.0|{expected_final}|gpt-4o-mini|[\"track hours\",\"send \\\"smart\\\" invoices\"]|2025-01-02 03:04:05"
        )
    );

    // `harbor score` scores the four posts without a legacy score and leaves the two alone.
    ok(&h.run(&["score"]));
    let heuristic =
        |h: &Harbor| h.strings("SELECT post_id FROM opportunity_analysis WHERE scorer_id LIKE 'heuristic%'");
    let scored = heuristic(&h);
    assert_eq!(scored.len(), 4, "{scored:?}");
    assert!(!scored.contains("op0") && !scored.contains("op1"));
    let top: serde_json::Value =
        serde_json::from_str(&ok(&h.run(&["opportunities", "--json"]))).expect("ranking");
    let ids: BTreeSet<String> = top
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["post_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 6, "imported and new scores are ranked together: {top}");
    ok(&h.run(&["score", "--rescore"]));
    assert_eq!(heuristic(&h).len(), 6, "--rescore scores the imported posts too");
}
