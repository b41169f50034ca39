//! Route tests of the API against the same seeded data on DuckDB and Postgres, through the real
//! router (no network).

/// For each `name`, tests `name::duckdb`, `name::postgres` and `name::pgbouncer` that run the async
/// function `name(engine)` of the calling module on that engine.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::harness::Engine;

                #[tokio::test]
                async fn duckdb() {
                    super::$name(Engine::DuckDb).await
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name(Engine::Postgres).await
                }

                #[tokio::test]
                async fn pgbouncer() {
                    super::$name(Engine::PgBouncer).await
                }
            }
        )*
    };
}

mod conformance;
mod data;
mod hardening;
mod harness;
mod limits;
mod openapi;
mod pages;
mod scopes;
mod themes;
