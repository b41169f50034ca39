//! The same requests on every engine give the same answers: status and body of every read route,
//! its filters, pagination and errors on Postgres (directly and through pgbouncer in transaction
//! mode) equal those on DuckDB, on the same seeded data. A route or filter that works on one engine
//! and not on another fails here.

use serde_json::Value;

use crate::harness::{Api, ENGINES, Engine};

/// Requests with the read token; `next_cursor` pages are followed (see [`pages`]).
const REQUESTS: &[&str] = &[
    "/api/v1/subreddits",
    "/api/v1/submissions",
    "/api/v1/submissions?limit=1",
    "/api/v1/submissions?limit=500",
    "/api/v1/submissions?subreddit=saas&limit=7",
    "/api/v1/submissions?since=2025-01-02&until=2025-01-03T12:00:00Z",
    "/api/v1/submissions?is_problem=true&min_score=300",
    "/api/v1/submissions?is_problem=false&limit=3",
    "/api/v1/submissions?q=INVOICES",
    "/api/v1/submissions?q=100%25",
    "/api/v1/submissions?q=my_data",
    "/api/v1/submissions?q=%5C",
    "/api/v1/submissions?q=%27%3B%20DROP%20TABLE%20submissions%3B%20--",
    "/api/v1/submissions?limit=0",
    "/api/v1/submissions?limit=100000",
    "/api/v1/submissions?since=yesterday",
    "/api/v1/submissions?cursor=bm90IGEgY3Vyc29y",
    "/api/v1/submissions?color=red",
    "/api/v1/submissions/p003",
    "/api/v1/submissions/t3_p006",
    "/api/v1/submissions/p001",
    "/api/v1/submissions/q001",
    "/api/v1/submissions/zzzz9",
    "/api/v1/submissions/not%20an%20id",
    "/api/v1/opportunities",
    "/api/v1/opportunities?limit=5",
    "/api/v1/opportunities?min_score=80",
    "/api/v1/opportunities?subreddit=SAAS&min_score=60",
    "/api/v1/opportunities?scorer_id=heuristic-v1&limit=3",
    "/api/v1/opportunities?scorer_id=llm-x-v1",
    "/api/v1/opportunities?min_score=101",
    "/api/v1/opportunities?cursor=%%%",
    "/api/v1/themes",
    "/api/v1/themes?limit=1",
    "/api/v1/themes?subreddit=saas",
    "/api/v1/themes?min_posts=10",
    "/api/v1/themes?min_posts=0",
    "/api/v1/themes/th-00000000000000a1",
    "/api/v1/themes/th-00000000000000ff",
    "/api/v1/themes/not-a-theme",
    "/api/v1/runs",
    "/api/v1/runs?limit=1",
    "/api/v1/runs?status=failed",
    "/api/v1/runs?status=sleeping",
    "/api/v1/runs/run-1",
    "/api/v1/runs/run-3",
    "/api/v1/runs/nope",
    "/api/v1/status",
    "/api/v1/cutover",
    "/api/v1/nothing-here",
    "/openapi.json",
    "/healthz",
];

/// Status and body of `uri` and of every page after it; fields that differ by nature (uptime) are
/// removed.
async fn pages(api: &Api, uri: &str) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    let mut next = Some(uri.to_owned());
    while let Some(u) = next.take() {
        let (status, mut body) = api
            .call("GET", &u, Some(api.token(harbor_server::Scope::Read)), None)
            .await;
        if let Some(obj) = body.as_object_mut() {
            obj.remove("uptime_seconds");
        }
        if let Some(c) = body["next_cursor"].as_str() {
            let sep = if uri.contains('?') { '&' } else { '?' };
            next = Some(format!("{uri}{sep}cursor={c}"));
        }
        out.push((status.as_u16(), body));
        assert!(out.len() < 500, "{uri}: the pages do not end");
    }
    out
}

#[tokio::test]
async fn every_engine_answers_every_request_like_duckdb() {
    let reference = Api::on(Engine::DuckDb);
    let mut expected = Vec::new();
    for uri in REQUESTS {
        expected.push(pages(&reference, uri).await);
    }
    for engine in ENGINES.into_iter().filter(|e| *e != Engine::DuckDb) {
        let api = Api::on(engine);
        for (uri, want) in REQUESTS.iter().zip(&expected) {
            let got = pages(&api, uri).await;
            assert_eq!(got.len(), want.len(), "{engine:?} {uri}: page count");
            for (page, (g, w)) in got.iter().zip(want).enumerate() {
                assert_eq!(g, w, "{engine:?} {uri} page {page}");
            }
        }
    }
}
