//! One conformance suite, run against every destination. Postgres tests share one throwaway cluster
//! per test process (each test gets its own database); none is skipped: without Postgres installed
//! they fail.

mod cases;
mod split;
mod support;

macro_rules! conformance {
    ($dest:ident) => {
        mod $dest {
            use crate::cases;
            use crate::split;
            use crate::support;

            #[test]
            fn creates_tables() {
                cases::creates_tables(support::$dest());
            }
            #[test]
            fn adds_a_column() {
                cases::adds_a_column(support::$dest());
            }
            #[test]
            fn variant_column() {
                cases::variant_column(support::$dest());
            }
            #[test]
            fn merges_on_key() {
                cases::merges_on_key(support::$dest());
            }
            #[test]
            fn first_load_with_repeated_keys() {
                cases::first_load_with_repeated_keys(support::$dest());
            }
            #[test]
            fn skips_unchanged_records() {
                cases::skips_unchanged_records(support::$dest());
            }
            #[test]
            fn appends() {
                cases::appends(support::$dest());
            }
            #[test]
            fn appends_after_merge() {
                cases::appends_after_merge(support::$dest());
            }
            #[test]
            fn exactly_once_after_a_kill() {
                cases::exactly_once_after_a_kill(support::$dest);
            }
            #[test]
            fn split_load_matches_one_package() {
                split::split_load_matches_one_package(support::$dest);
            }
            #[test]
            fn split_load_resumes_after_a_kill() {
                split::split_load_resumes_after_a_kill(support::$dest);
            }
            #[test]
            fn replaces() {
                cases::replaces(support::$dest());
            }
            #[test]
            fn exactly_once_replay() {
                cases::exactly_once_replay(support::$dest());
            }
            #[test]
            fn concurrent_processes() {
                cases::concurrent_processes(support::$dest());
            }
            #[test]
            fn wide_records() {
                cases::wide_records(support::$dest());
            }
            #[test]
            fn frozen_schema() {
                cases::frozen_schema(support::$dest());
            }
        }
    };
}

conformance!(duckdb);
conformance!(postgres);
conformance!(parquet);

// Two runs at once in one process (two threads), besides `concurrent_processes` above. DuckDB allows
// one writing process per file, and two handles in one process would share its file locks, so DuckDB
// is tested with processes only.
#[test]
fn postgres_concurrent_runs() {
    cases::concurrent_runs(support::postgres());
}

/// Postgres can be made to refuse one row (a check constraint added by hand), so the refused package
/// of a split load is tested there; what happens around it is the pipeline's, the same everywhere.
#[test]
fn postgres_split_load_stops_at_a_refused_package() {
    split::split_load_stops_at_a_refused_package(
        support::postgres,
        |env| {
            support::psql(
                env,
                "ALTER TABLE submissions ADD CONSTRAINT no_70 CHECK (id <> 'p00070') NOT VALID",
            )
        },
        |env| support::psql(env, "ALTER TABLE submissions DROP CONSTRAINT no_70"),
    );
}

#[test]
fn parquet_concurrent_runs() {
    cases::concurrent_runs(support::parquet());
}

/// The same loads give the same tables (columns, types, rows) in every destination.
#[test]
fn every_destination_gives_identical_tables() {
    let envs = [support::duckdb(), support::postgres(), support::parquet()];
    let mut snapshots = Vec::new();
    for env in &envs {
        let a = env.write("a.ndjson", &support::submissions(0, 60, "a", 0));
        let b = env.write("b.ndjson", &support::submissions(30, 60, "b", 1));
        let c = env.write(
            "c.ndjson",
            "{\"id\":\"p00001\",\"title\":\"v\",\"score\":\"many\",\"extra\":{\"x\":[1,2]}}\n",
        );
        for f in [&a, &b, &c] {
            env.load(f, &support::Run::default()).expect("load");
        }
        let tables: Vec<String> = env.counts().into_iter().map(|(t, _)| t).collect();
        let snap: Vec<_> = tables
            .iter()
            .map(|t| (t.clone(), env.table(t).canonical()))
            .collect();
        snapshots.push(snap);
    }
    assert!(
        snapshots[0].len() >= 5,
        "{:?}",
        snapshots[0].iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    for (i, name) in [(1, "postgres"), (2, "parquet")] {
        assert_eq!(snapshots[i].len(), snapshots[0].len(), "{name}: tables");
        for (x, y) in snapshots[0].iter().zip(&snapshots[i]) {
            assert_eq!(x.0, y.0, "{name}: table names");
            assert_eq!(x.1.0, y.1.0, "{name}: columns of {}", x.0);
            assert_eq!(x.1.1.len(), y.1.1.len(), "{name}: row count of {}", x.0);
            assert_eq!(x.1.1, y.1.1, "{name}: rows of {}", x.0);
        }
    }
}
