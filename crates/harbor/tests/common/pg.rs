//! Helpers for the tests on a real Postgres (the testkit's throwaway cluster).

use harbor_testkit::postgres::PgCluster;

/// The database name of a `postgres://.../<db>?...` URL.
pub fn db_name(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned()
}

/// One number from `sql` on database `db`.
pub fn count(pg: &PgCluster, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
