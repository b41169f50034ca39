//! `harbor-api-seed DB.duckdb`: adds demo `opportunity_analysis` and `_harbor_runs` rows (shared-table
//! shapes) derived from the submissions already loaded, for API tests, the dashboard and benchmarks.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: harbor-api-seed DB.duckdb");
        std::process::exit(2);
    };
    let result = duckdb::Connection::open(&path).and_then(|c| c.execute_batch(harbor_server::seed::SEED_SQL));
    if let Err(e) = result {
        eprintln!("error: cannot seed {path}: {e}");
        eprintln!(
            "hint: load submissions first (`harbor load FILE`) and stop any `harbor serve` on this file"
        );
        std::process::exit(1);
    }
}
