//! Every command that reads data back (score, opportunities, runs, status, metrics) on a Postgres
//! destination in its own schema, directly and through PgBouncer in transaction mode (the stand-in
//! for Supabase's pooler), after a whole `harbor demo` on Postgres.

#[allow(unused_imports)]
mod common;

use common::{Harbor, ok};
use harbor_testkit::postgres::PgCluster;
use serde_json::Value;

fn db_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

fn psql_count(pg: &PgCluster, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

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
