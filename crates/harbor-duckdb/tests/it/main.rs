//! DuckDB destination: DDL snapshots and loads of real recorded data.

use harbor_core::Schema;
use harbor_core::normalize::{NormalizeOptions, ResolveStats, SourceRef, resolve};
use harbor_duckdb::create_table_sql;
use harbor_testkit::fixtures::fixtures_dir;

fn schema_of(rel: &str) -> Schema {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join(rel)).expect("fixture")).expect("json");
    let opts = NormalizeOptions::default();
    let chunk = opts.flatten([(v["body"].clone(), SourceRef::default())]);
    let mut schema = Schema::default();
    resolve(
        chunk,
        &mut schema,
        &opts.resolve,
        "L",
        &mut ResolveStats::default(),
    )
    .expect("resolve");
    schema
}

#[test]
fn ddl_of_a_subreddit_listing() {
    let schema = schema_of("api/asyncpraw/listings/r_askreddit_new_2020-07.json");
    let ddl: Vec<String> = schema.tables.values().map(create_table_sql).collect();
    insta::assert_snapshot!(ddl.join(";\n\n"));
}

#[test]
fn ddl_runs_in_duckdb() {
    let schema = schema_of("api/praw/listings/r_popular_hot_2026-04.json");
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    for t in schema.tables.values() {
        conn.execute_batch(&create_table_sql(t))
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    }
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'submissions'",
            [],
            |r| r.get(0),
        )
        .expect("columns");
    assert_eq!(n as usize, schema.tables["submissions"].columns.len());
}
