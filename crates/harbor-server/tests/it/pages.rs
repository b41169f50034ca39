//! The page index answers exactly what SQL answers, on DuckDB and on Postgres (directly and
//! through pgbouncer): the same bytes for every filter, page size and cursor, also on the rows
//! where ordering and filters are subtle (NULL times, scores and flags, equal keys, NaN and NULL
//! final scores, ids whose order under a linguistic collation is not their byte order), and never
//! an answer of old data, also when another process loaded it.

use axum::body::Body;
use axum::http::Request;
use harbor_server::{Scope, ServerConfig};
use tower::ServiceExt;

use crate::harness::{Api, Engine};

on_every_engine!(
    the_index_answers_every_listing_exactly_as_sql_does,
    the_raw_bytes_match_too,
    new_data_is_answered_at_once_and_the_index_follows,
    missing_filter_columns_answer_like_sql,
);

/// Rows that make ordering and filtering hard, added to the seed on both databases.
const EDGES: &str = r#"
INSERT INTO submissions VALUES
  ('e01', 'no time', 'b', 'SaaS', 'u', NULL, 1, NULL, '/e01', NULL, NULL, 'he1'),
  ('e02', 'no time either', 'b', 'saas', 'u', 7, 1, NULL, '/e02', NULL, true, 'he2'),
  ('e03', 'same second a', 'b', 'SAAS', 'u', 70, 1, TIMESTAMP '2025-01-03 00:00:00', '/e03', NULL, NULL, 'he3'),
  ('e04', 'same second b', 'b', 'smallbusiness', NULL, -3, 1, TIMESTAMP '2025-01-03 00:00:00', '/e04', NULL, false, 'he4'),
  ('e05', 'no subreddit', 'b', NULL, 'u', 1000, 1, TIMESTAMP '2025-01-03 00:00:00', '/e05', NULL, true, 'he5'),
  ('e06', 'unicode ünïcödé', 'b', 'Ünï', 'u', 1, 1, TIMESTAMP '2026-01-01 00:00:00', '/e06', NULL, true, 'he6'),
  ('B07', 'case a', 'b', 'SaaS', 'u', 2, 1, TIMESTAMP '2025-01-05 00:00:00', '/B07', NULL, true, 'he7'),
  ('a08', 'case b', 'b', 'SaaS', 'u', 2, 1, TIMESTAMP '2025-01-05 00:00:00', '/a08', NULL, true, 'he8'),
  ('_09', 'case c', 'b', 'SaaS', 'u', 2, 1, TIMESTAMP '2025-01-05 00:00:00', '/_09', NULL, true, 'he9');
INSERT INTO opportunity_analysis (post_id, scorer_id, final_score, evidence, status, scored_at) VALUES
  ('e01', 'heuristic-v1', NULL, '{"matched": []}', 'scored', TIMESTAMP '2025-02-01 00:00:00'),
  ('e02', 'heuristic-v1', 55, '{"matched": ["x"]}', NULL, TIMESTAMP '2025-02-01 00:00:00'),
  ('e02', 'llm-x-v1', 55, NULL, 'scored', NULL),
  ('e03', 'heuristic-v1', 'NaN', NULL, 'scored', NULL),
  ('e04', 'heuristic-v1', -0.0, NULL, 'scored', NULL),
  ('e05', 'heuristic-v1', 0.0, NULL, 'scored', NULL),
  ('zz9', 'heuristic-v1', 41, NULL, 'scored', NULL),
  ('e06', 'heuristic-v1', 99, NULL, 'pending', NULL),
  ('B07', 'heuristic-v1', 33, NULL, 'scored', NULL),
  ('a08', 'heuristic-v1', 33, NULL, 'scored', NULL),
  ('_09', 'Heuristic-v1', 33, NULL, 'scored', NULL),
  ('_09', 'heuristic-v1', 33, NULL, 'scored', NULL);
"#;

/// On Postgres the keys are ordered by ICU's root collation, where `a08` sorts before `B07` and
/// `_09` (byte order puts `B07` and `_09` first): the index must list rows as the database does.
const LINGUISTIC: &str = r#"
ALTER TABLE submissions ALTER COLUMN id TYPE text COLLATE "und-x-icu";
ALTER TABLE opportunity_analysis ALTER COLUMN post_id TYPE text COLLATE "und-x-icu";
ALTER TABLE opportunity_analysis ALTER COLUMN scorer_id TYPE text COLLATE "und-x-icu";
"#;

/// A server answering from SQL only and one with the page index, on the same data.
fn pair(engine: Engine) -> (Api, Api) {
    let sql = Api::with_config_on(
        ServerConfig {
            page_index_bytes: 0,
            ..Default::default()
        },
        engine,
    );
    let indexed = Api::on(engine);
    for api in [&sql, &indexed] {
        api.exec(EDGES);
        if engine != Engine::DuckDb {
            api.exec(LINGUISTIC);
        }
    }
    (sql, indexed)
}

/// A small deterministic generator (the test must not depend on a crate's random stream).
struct Lcg(u64);

impl Lcg {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        from[((self.0 >> 33) as usize) % from.len()]
    }
}

/// The non-empty parts joined as a query string.
fn query_string(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("&")
}

fn submission_query(r: &mut Lcg) -> String {
    let parts = [
        r.pick(&[
            "",
            "subreddit=SaaS",
            "subreddit=saas",
            "subreddit=smallbusiness",
            "subreddit=none",
            "subreddit=%C3%9Cn%C3%AF",
        ]),
        r.pick(&[
            "",
            "since=2025-01-03",
            "since=2025-01-04T05:00:00Z",
            "since=1970-01-01",
        ]),
        r.pick(&[
            "",
            "until=2025-01-05",
            "until=2025-01-03T00:00:00Z",
            "until=2030-01-01",
        ]),
        r.pick(&["", "is_problem=true", "is_problem=false"]),
        r.pick(&["", "min_score=500", "min_score=0", "min_score=-5"]),
        r.pick(&["limit=1", "limit=3", "limit=7", "limit=50"]),
    ];
    query_string(&parts)
}

fn opportunity_query(r: &mut Lcg) -> String {
    let parts = [
        r.pick(&["", "subreddit=SaaS", "subreddit=SMALLBUSINESS", "subreddit=none"]),
        r.pick(&[
            "",
            "min_score=0",
            "min_score=55",
            "min_score=60.5",
            "min_score=100",
        ]),
        r.pick(&["", "scorer_id=heuristic-v1", "scorer_id=llm-x-v1"]),
        r.pick(&["limit=1", "limit=2", "limit=5", "limit=50"]),
    ];
    query_string(&parts)
}

/// Follows a query's pages on both apps and asserts equal answers; returns the pages walked.
async fn walk(sql: &Api, indexed: &Api, path: &str, query: &str) -> usize {
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("{path}?{query}&cursor={c}"),
            None => format!("{path}?{query}"),
        };
        let token = Some(sql.token(Scope::Read));
        let want = sql.call("GET", &uri, token, None).await;
        let got = indexed
            .call("GET", &uri, Some(indexed.token(Scope::Read)), None)
            .await;
        assert_eq!(got, want, "{uri}");
        pages += 1;
        // A NaN score's cursor is refused by both (400: not a finite number).
        match want.1["next_cursor"].as_str() {
            Some(c) if pages < 200 => cursor = Some(c.to_owned()),
            _ => return pages,
        }
    }
}

async fn the_index_answers_every_listing_exactly_as_sql_does(engine: Engine) {
    let (sql, indexed) = pair(engine);
    indexed.state.pages.build_now(&indexed.state).await;
    let mut r = Lcg(16);
    let mut pages = 0;
    for _ in 0..120 {
        pages += walk(&sql, &indexed, "/api/v1/submissions", &submission_query(&mut r)).await;
        pages += walk(
            &sql,
            &indexed,
            "/api/v1/opportunities",
            &opportunity_query(&mut r),
        )
        .await;
    }
    assert_eq!(sql.state.pages.answered(), 0, "no index without a budget");
    let answered = indexed.state.pages.answered();
    assert!(
        answered as f64 > pages as f64 * 0.8,
        "the index answered {answered} of {pages} pages"
    );
}

/// The body of a GET with the read token, as sent.
async fn raw(api: &Api, uri: &str) -> Vec<u8> {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {}", api.token(Scope::Read)))
        .body(Body::empty())
        .expect("request");
    let res = api.app.clone().oneshot(req).await.expect("response");
    axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body")
        .to_vec()
}

async fn the_raw_bytes_match_too(engine: Engine) {
    let (sql, indexed) = pair(engine);
    indexed.state.pages.build_now(&indexed.state).await;
    for uri in [
        "/api/v1/submissions?limit=5&subreddit=saas",
        "/api/v1/opportunities?limit=4",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&raw(&indexed, uri).await),
            String::from_utf8_lossy(&raw(&sql, uri).await),
            "{uri}"
        );
    }
    assert_eq!(indexed.state.pages.answered(), 2);
}

async fn new_data_is_answered_at_once_and_the_index_follows(engine: Engine) {
    let (_, indexed) = pair(engine);
    indexed.state.pages.build_now(&indexed.state).await;
    let uri = "/api/v1/submissions?limit=1";
    let first = indexed.get(uri).await;
    assert_eq!(first["items"][0]["id"], "e06");
    let before = indexed.state.pages.answered();
    indexed.exec(
        "INSERT INTO submissions (id, title, subreddit, created_utc) \
         VALUES ('n01', 'newest', 'SaaS', TIMESTAMP '2027-01-01 00:00:00')",
    );
    // The index is of the old generation: SQL answers, with the new row.
    assert_eq!(indexed.get(uri).await["items"][0]["id"], "n01");
    assert_eq!(indexed.state.pages.answered(), before);
    indexed.state.pages.build_now(&indexed.state).await;
    // (Another URI: the answer above is in the response cache until the data changes.)
    let uri = "/api/v1/submissions?limit=2";
    assert_eq!(indexed.get(uri).await["items"][0]["id"], "n01");
    assert_eq!(indexed.state.pages.answered(), before + 1);
}

/// On Postgres other processes load while the server runs: once their commit shows in
/// `_harbor_loads` the index is of an old generation, SQL answers with their rows, and the next
/// build has them.
async fn loads_of_other_processes_leave_the_index_at_once(engine: Engine) {
    let (_, indexed) = pair(engine);
    indexed.state.pages.build_now(&indexed.state).await;
    assert_eq!(
        indexed.get("/api/v1/submissions?limit=1").await["items"][0]["id"],
        "e06"
    );
    let before = indexed.state.pages.answered();
    assert!(before > 0, "the index answered");
    // What a `harbor load` in another process commits: its rows and its `_harbor_loads` row
    // (written with psql, so the server is not told).
    indexed.scalar(
        "INSERT INTO submissions (id, title, created_utc) VALUES ('zz_external', 'elsewhere', now() + interval '1 day'); \
         INSERT INTO _harbor_loads (load_id, pipeline, status, inserted_at, rows, schema_version) \
         VALUES ('external-1', 'shard_9', 'loaded', now(), 1, 1)",
    );
    tokio::time::sleep(harbor_server::db::EXTERNAL_CHECK + std::time::Duration::from_millis(50)).await;
    let page = indexed.get("/api/v1/submissions?limit=2").await;
    assert_eq!(page["items"][0]["id"], "zz_external", "{page}");
    assert_eq!(indexed.state.pages.answered(), before, "SQL answered");
    indexed.state.pages.build_now(&indexed.state).await;
    let page = indexed.get("/api/v1/submissions?limit=3").await;
    assert_eq!(page["items"][0]["id"], "zz_external", "{page}");
    assert_eq!(
        indexed.state.pages.answered(),
        before + 1,
        "the new index answered"
    );
}

mod loads_of_other_processes_leave_the_index_at_once {
    use crate::harness::Engine;

    #[tokio::test]
    async fn postgres() {
        super::loads_of_other_processes_leave_the_index_at_once(Engine::Postgres).await
    }

    #[tokio::test]
    async fn pgbouncer() {
        super::loads_of_other_processes_leave_the_index_at_once(Engine::PgBouncer).await
    }
}

#[tokio::test]
async fn rows_past_the_budget_stay_on_sql_and_full_text_never_uses_the_index() {
    let small = Api::with_config(ServerConfig {
        page_index_bytes: 2_000,
        ..Default::default()
    });
    small.state.pages.build_now(&small.state).await;
    let page = small.get("/api/v1/submissions?limit=2").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(small.state.pages.answered(), 0, "over the budget");

    let (sql, indexed) = pair(Engine::DuckDb);
    indexed.state.pages.build_now(&indexed.state).await;
    let uri = "/api/v1/submissions?q=invoices&limit=3";
    assert_eq!(indexed.get(uri).await, sql.get(uri).await);
    assert_eq!(indexed.state.pages.answered(), 0, "q is answered by SQL");
}

async fn missing_filter_columns_answer_like_sql(engine: Engine) {
    let (sql, indexed) = pair(engine);
    for api in [&sql, &indexed] {
        api.exec(
            "ALTER TABLE submissions DROP COLUMN is_problem; ALTER TABLE submissions DROP COLUMN score; \
             ALTER TABLE opportunity_analysis DROP COLUMN final_score",
        );
    }
    indexed.state.pages.build_now(&indexed.state).await;
    let mut r = Lcg(7);
    for _ in 0..30 {
        walk(&sql, &indexed, "/api/v1/submissions", &submission_query(&mut r)).await;
        walk(
            &sql,
            &indexed,
            "/api/v1/opportunities",
            &opportunity_query(&mut r),
        )
        .await;
    }
    assert!(
        indexed.state.pages.answered() > 30,
        "{}",
        indexed.state.pages.answered()
    );
}

#[tokio::test]
async fn invalid_filters_are_refused_before_any_index() {
    let (_, indexed) = pair(Engine::DuckDb);
    indexed.state.pages.build_now(&indexed.state).await;
    for uri in [
        "/api/v1/submissions?cursor=bm90IGEgY3Vyc29y",
        "/api/v1/submissions?since=yesterday",
        "/api/v1/opportunities?min_score=101",
        "/api/v1/opportunities?cursor=%21",
    ] {
        let (status, code) = indexed.error(uri).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (400, "invalid_parameter"),
            "{uri}"
        );
    }
}
