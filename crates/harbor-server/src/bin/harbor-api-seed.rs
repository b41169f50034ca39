//! `harbor-api-seed DB.duckdb | postgres://...`: adds demo `opportunity_analysis` and `_harbor_runs`
//! rows (shared-table shapes) derived from the submissions already loaded, for API tests, the
//! dashboard and benchmarks. A Postgres URL is seeded in its `?schema=` (default `public`).

fn seed(target: &str) -> Result<(), String> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        let (mut client, cfg) = harbor_postgres::open_client(target).map_err(|e| e.to_string())?;
        let sql = format!(
            "BEGIN; SET LOCAL search_path TO \"{}\"; {} COMMIT;",
            cfg.schema.replace('"', "\"\""),
            harbor_server::seed::SEED_SQL_POSTGRES
        );
        return client.batch_execute(&sql).map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        });
    }
    duckdb::Connection::open(target)
        .and_then(|c| c.execute_batch(harbor_server::seed::SEED_SQL))
        .map_err(|e| e.to_string())
}

fn main() {
    let Some(target) = std::env::args().nth(1) else {
        eprintln!("usage: harbor-api-seed DB.duckdb | postgres://user:pass@host/db?schema=...");
        std::process::exit(2);
    };
    if let Err(e) = seed(&target) {
        eprintln!("error: cannot seed {}: {e}", harbor_postgres::redact(&target));
        eprintln!(
            "hint: load submissions first (`harbor load FILE`) and stop any `harbor serve` on a DuckDB file"
        );
        std::process::exit(1);
    }
}
