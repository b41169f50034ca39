//! Every command that reads data back (score, opportunities, runs, status, metrics) on a Postgres
//! destination in its own schema, directly and through PgBouncer in transaction mode (the stand-in
//! for Supabase's pooler), after a whole `harbor demo` on Postgres.

#[allow(unused_imports)]
mod common;

use common::pg::{count as psql_count, db_name};
use common::{Harbor, ok};
use harbor_testkit::postgres::PgCluster;
use serde_json::Value;

fn run(h: &Harbor, dest: &str, args: &[&str]) -> String {
    let out = h
        .command(args, &[("HARBOR_DESTINATION", dest)])
        .env_remove("REDDIT_CLIENT_ID")
        .env_remove("HARBOR_REDDIT_API_URL")
        .output()
        .expect("run harbor");
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(PgCluster::PASSWORD) && !stderr.contains(PgCluster::PASSWORD),
        "the password is printed: {stderr}"
    );
    stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_demo_scoring_and_every_reading_command_work_on_postgres_in_a_schema() {
    let pg = PgCluster::shared();
    let url = pg.create_database("commands").expect("database");
    let db = db_name(&url);
    let dest = format!("{url}&schema=reddit");
    let h = Harbor::new();

    // The whole demo: collection, incremental run, scoring, the top opportunities.
    let demo = json(&run(
        &h,
        &dest,
        &["demo", "--posts", "30", "--new-posts", "7", "--json"],
    ));
    let top = demo["top_opportunities"].as_array().expect("top_opportunities");
    assert!(!top.is_empty(), "{demo}");
    let count = |sql: &str| psql_count(pg, &db, sql);
    assert_eq!(count("SELECT count(*) FROM reddit.submissions"), 185);
    let problem = count("SELECT count(*) FROM reddit.submissions WHERE is_problem");
    assert!(problem > 0);
    assert_eq!(
        count("SELECT count(*) FROM reddit.opportunity_analysis WHERE scorer_id LIKE 'heuristic%'"),
        problem,
        "every problem post is scored"
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0,
        "nothing outside the schema the URL names"
    );

    // `harbor score` on the same data: every post is cached, nothing is written twice.
    let before = count("SELECT count(*) FROM reddit.opportunity_analysis");
    run(&h, &dest, &["score"]);
    assert_eq!(count("SELECT count(*) FROM reddit.opportunity_analysis"), before);

    let ranked = json(&run(&h, &dest, &["opportunities", "--top", "5", "--json"]));
    let ranked = ranked.as_array().expect("rows");
    assert_eq!(ranked.len(), 5.min(problem as usize));
    assert!(
        ranked
            .windows(2)
            .all(|w| w[0]["final_score"].as_f64() >= w[1]["final_score"].as_f64())
    );
    assert!(ranked.iter().all(|r| r["title"].is_string()));

    let runs = json(&run(&h, &dest, &["runs", "--json"]));
    let runs = runs.as_array().expect("runs");
    assert!(
        runs.iter()
            .any(|r| r["command"] == "score" && r["status"] == "ok"),
        "{runs:?}"
    );
    assert_eq!(
        count("SELECT count(*) FROM reddit._harbor_runs WHERE command = 'score'"),
        1
    );

    let status = run(&h, &dest, &["status"]);
    assert!(status.contains("submissions"), "{status}");
    let metrics = run(&h, &dest, &["metrics"]);
    assert!(metrics.contains("harbor_runs_total"), "{metrics}");

    // The same through PgBouncer in transaction mode: no session state between statements.
    let bouncer = pg.pgbouncer().expect("pgbouncer");
    let pooled = format!("{}&schema=reddit&pooler=transaction", bouncer.url(&db));
    let through = json(&run(&h, &pooled, &["opportunities", "--top", "5", "--json"]));
    assert_eq!(through.as_array().map(Vec::len), Some(ranked.len()));
    assert_eq!(through[0]["post_id"], ranked[0]["post_id"]);
    run(&h, &pooled, &["score"]);
    assert_eq!(count("SELECT count(*) FROM reddit.opportunity_analysis"), before);
    let runs = json(&run(&h, &pooled, &["runs", "--json"]));
    assert!(
        runs.as_array()
            .is_some_and(|r| r.iter().filter(|r| r["command"] == "score").count() == 2),
        "{runs}"
    );
    let metrics = run(&h, &pooled, &["metrics"]);
    assert!(metrics.contains("harbor_runs_total"), "{metrics}");
}

/// The plan Postgres chooses for `sql` when it may not scan whole tables (the test tables are tiny,
/// so without this the planner rightly prefers a scan; what is checked is that the index fits).
fn plan(pg: &PgCluster, db: &str, sql: &str) -> String {
    pg.psql(
        db,
        &format!("SET enable_seqscan = off; SET search_path TO reddit; EXPLAIN {sql}"),
    )
    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

#[test]
fn loads_create_the_indexes_the_api_needs_and_schema_shows_them() {
    let pg = PgCluster::shared();
    let url = pg.create_database("indexes").expect("database");
    let db = db_name(&url);
    let dest = format!("{url}&schema=reddit");
    let h = Harbor::new();
    run(
        &h,
        &dest,
        &["demo", "--posts", "20", "--new-posts", "3", "--json"],
    );
    let count = |sql: &str| psql_count(pg, &db, sql);
    for ix in [
        "submissions_hapi_created",
        "submissions_hapi_subreddit",
        "submissions_hapi_score",
        "submissions_hapi_title_trgm",
        "submissions_hapi_selftext_trgm",
        "comments_hapi_link",
        "opportunity_analysis_hapi_rank",
    ] {
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'reddit' AND indexname = '{ix}'"
            )),
            1,
            "{ix}"
        );
    }
    // Idempotent: another load creates nothing twice and fails on nothing.
    let names = || {
        pg.psql(&db, "SELECT indexname FROM pg_indexes WHERE schemaname = 'reddit' AND indexname LIKE '%hapi%' ORDER BY 1").expect("psql")
    };
    let before = names();
    run(&h, &dest, &["score"]);
    run(
        &h,
        &dest,
        &["demo", "--posts", "20", "--new-posts", "3", "--json"],
    );
    assert_eq!(names(), before);

    // The queries of `harbor serve` (same text as the server's query layer) use them.
    let epoch = "COALESCE(s.created_utc, TIMESTAMPTZ '1970-01-01 00:00:00+00')";
    for (sql, ix) in [
        (
            format!("SELECT s.id FROM submissions s ORDER BY {epoch} DESC, s.id DESC LIMIT 51"),
            "submissions_hapi_created",
        ),
        (
            format!(
                "SELECT s.id FROM submissions s WHERE lower(s.subreddit) = lower('SaaS') \
                 ORDER BY {epoch} DESC, s.id DESC LIMIT 51"
            ),
            "submissions_hapi_subreddit",
        ),
        (
            "SELECT s.id FROM submissions s WHERE s.title ILIKE '%backup%'".to_owned(),
            "submissions_hapi_title_trgm",
        ),
        (
            "SELECT o.post_id FROM opportunity_analysis o WHERE COALESCE(o.status, 'scored') = 'scored' \
             ORDER BY o.final_score DESC NULLS LAST, o.post_id, o.scorer_id LIMIT 51"
                .to_owned(),
            "opportunity_analysis_hapi_rank",
        ),
    ] {
        let p = plan(pg, &db, &sql);
        assert!(p.contains(ix), "{sql} does not use {ix}:\n{p}");
    }

    // `harbor schema` of a pipeline with submissions lists them (the indexes belong to the tables,
    // whichever pipeline loaded them).
    let file = h.write("posts.ndjson", &common::synthetic_submissions(0, 20));
    run(
        &h,
        &dest,
        &["load", &file.to_string_lossy(), "--table", "submissions"],
    );
    let shown = run(&h, &dest, &["schema"]);
    assert!(
        shown.contains("index submissions_hapi_created  (API: newest first"),
        "{shown}"
    );
    assert!(shown.contains("indexes for `harbor serve`"), "{shown}");
    let js = json(&run(&h, &dest, &["schema", "--json", "--table", "submissions"]));
    let names: Vec<&str> = js[0]["indexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&"submissions_hapi_subreddit"), "{js}");
}

/// Shards that each run as their own pipeline (the Airflow DAG's HARBOR_PIPELINE_PER_SHARD) share
/// the tables: a pipeline whose schema has columns the table lacks adds them instead of failing.
#[test]
fn pipelines_sharing_a_table_add_the_columns_it_lacks_on_duckdb_and_postgres() {
    let pg = PgCluster::shared();
    let url = pg.create_database("shared_tables").expect("database");
    let h = Harbor::new();
    let narrow: String = (0..5)
        .map(|i| format!("{{\"id\":\"n{i}\",\"title\":\"t{i}\"}}\n"))
        .collect();
    let narrow = h.write("narrow.ndjson", &narrow);
    let wide = h.write("wide.ndjson", &common::synthetic_submissions(0, 10));
    let duck = format!("duckdb://{}", h.db().display());
    for dest in [duck.as_str(), url.as_str()] {
        for (pipeline, file) in [("shard_1", &narrow), ("shard_2", &wide)] {
            let out = h
                .command(
                    &["load", &file.to_string_lossy(), "--table", "submissions"],
                    &[("HARBOR_DESTINATION", dest), ("HARBOR_PIPELINE", pipeline)],
                )
                .output()
                .expect("harbor");
            ok(&out);
        }
        let counts = json(&run(&h, dest, &["status", "--json"]));
        assert_eq!(counts["tables"]["submissions"], 15, "{dest}: {counts}");
    }
}
