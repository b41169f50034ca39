//! A seeded database, tokens of every scope, and a request helper.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use harbor_server::{AppState, RunJob, RunLauncher, RunOutcome, Scope, ServerConfig, ServerParts};
use harbor_testkit::postgres::{PgBouncer, PgCluster};
use serde_json::Value;
use tower::ServiceExt;

/// Posts, comments, opportunities and run traces in the shapes the loader, issue 7's scorer and
/// issue 8's traces write (see the shared-table contracts).
pub const SEED: &str = r#"
CREATE TABLE submissions (id VARCHAR, title VARCHAR, selftext VARCHAR, subreddit VARCHAR, author VARCHAR,
  score BIGINT, num_comments BIGINT, created_utc TIMESTAMP, permalink VARCHAR, url VARCHAR,
  is_problem BOOLEAN, _harbor_id VARCHAR);
CREATE TABLE comments (id VARCHAR, link_id VARCHAR, parent_id VARCHAR, author VARCHAR, body VARCHAR,
  score BIGINT, created_utc TIMESTAMP);
CREATE TABLE opportunity_analysis (post_id VARCHAR, scorer_id VARCHAR, market_demand DOUBLE,
  pain_intensity DOUBLE, monetization_potential DOUBLE, market_gap DOUBLE, technical_feasibility DOUBLE,
  simplicity DOUBLE, final_score DOUBLE, evidence JSON, app_name VARCHAR, problem_description VARCHAR,
  app_concept VARCHAR, core_functions JSON, value_proposition VARCHAR, target_user VARCHAR,
  monetization_model VARCHAR, growth_justification VARCHAR, status VARCHAR, failure_reason VARCHAR,
  model VARCHAR, prompt_version VARCHAR, prompt_tokens BIGINT, completion_tokens BIGINT, cost_usd DOUBLE,
  content_hash VARCHAR, scored_at TIMESTAMP);
CREATE TABLE _harbor_runs (run_id VARCHAR PRIMARY KEY, command VARCHAR, pipeline VARCHAR,
  started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, seconds DOUBLE, stages JSON, api_calls JSON,
  api_calls_total BIGINT, http_429 BIGINT, retries BIGINT, rows JSON, rows_total BIGINT, bytes BIGINT,
  rejects BIGINT, error VARCHAR, llm_tokens BIGINT, llm_cost_usd DOUBLE);
CREATE TABLE _harbor_loads (load_id VARCHAR, pipeline VARCHAR, status VARCHAR, inserted_at TIMESTAMP,
  rows BIGINT, schema_version BIGINT, source VARCHAR);
INSERT INTO submissions
SELECT 'p' || lpad(i::VARCHAR, 3, '0'),
       CASE WHEN i % 3 = 0 THEN 'I struggle with invoices ' || i ELSE 'Weekly thread ' || i END,
       'body ' || i,
       CASE WHEN i % 2 = 0 THEN 'SaaS' ELSE 'smallbusiness' END,
       'user' || (i % 7), i * 10, i % 5,
       TIMESTAMP '2025-01-01 00:00:00' + (i * INTERVAL 1 HOUR),
       '/r/x/comments/p' || i, 'https://example.com/' || i, i % 3 = 0, 'h' || i
FROM range(1, 121) t(i);
INSERT INTO submissions VALUES ('q001', 'Why does 100% of my_data''s "export" fail?; DROP TABLE submissions; --',
  'literal wildcards % and _ and \ here', 'SaaS', 'mallory', 5, 0, TIMESTAMP '2024-06-01 12:00:00',
  '/r/SaaS/comments/q001', NULL, false, 'hq');
INSERT INTO comments VALUES
  ('c1', 't3_p003', 't3_p003', 'a', 'top one', 3, TIMESTAMP '2025-01-02 00:00:00'),
  ('c2', 't3_p003', 't1_c1', 'b', 'reply to one', 2, TIMESTAMP '2025-01-02 00:01:00'),
  ('c3', 't3_p003', 't1_c2', 'c', 'deeper', 1, TIMESTAMP '2025-01-02 00:02:00'),
  ('c4', 't3_p003', 't3_p003', 'd', 'top two', 1, TIMESTAMP '2025-01-02 00:03:00'),
  ('c5', 't3_p006', 't3_p006', 'e', 'other post', 1, TIMESTAMP '2025-01-02 00:04:00');
INSERT INTO opportunity_analysis (post_id, scorer_id, final_score, market_demand, pain_intensity,
  monetization_potential, market_gap, technical_feasibility, simplicity, evidence, app_name, core_functions,
  status, model, scored_at)
SELECT id, 'heuristic-v1', 40 + (CAST(substr(id, 2) AS INTEGER) % 50), 50, 60, 40, 30, 80, 85,
  '{"matched": ["struggle"], "num_comments": 3}', 'InvoiceBot ' || id, '["scan", "remind"]', 'scored',
  NULL, TIMESTAMP '2025-02-01 00:00:00'
FROM submissions WHERE is_problem;
INSERT INTO opportunity_analysis (post_id, scorer_id, status, failure_reason)
  VALUES ('p006', 'llm-x-v1', 'failed', 'schema mismatch');
INSERT INTO _harbor_runs VALUES
  ('run-1', 'collect', 'reddit', TIMESTAMP '2025-01-01 00:00:00', TIMESTAMP '2025-01-01 00:01:00', 'ok', 60,
   '{"extract": 50, "load": 10}', '{"listing": 12, "info": 3}', 15, 1, 2, '{"submissions": 100}', 100, 12345,
   0, NULL, 0, 0),
  ('run-2', 'collect', 'reddit', TIMESTAMP '2025-01-02 00:00:00', TIMESTAMP '2025-01-02 00:00:30', 'failed', 30,
   '{"extract": 30}', '{"listing": 4}', 4, 3, 5, '{}', 0, 0, 0, 'rate limited', 0, 0),
  ('run-3', 'score', 'reddit', TIMESTAMP '2025-01-03 00:00:00', NULL, 'running', NULL,
   NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 1200, 0.01);
INSERT INTO _harbor_loads VALUES ('load-1', 'reddit', 'completed', TIMESTAMP '2025-01-01 00:01:00', 121, 1, 'x');
CREATE TABLE themes (theme_id VARCHAR, name VARCHAR, name_source VARCHAR, terms VARCHAR, posts BIGINT,
  authors BIGINT, subreddits BIGINT, subreddit_counts VARCHAR, posts_last_4w BIGINT, posts_prev_4w BIGINT,
  growth DOUBLE, best_score DOUBLE, recent_weeks VARCHAR, examples VARCHAR, first_seen VARCHAR,
  last_seen VARCHAR, status VARCHAR, _harbor_id VARCHAR);
CREATE TABLE theme_members (post_id VARCHAR, theme_id VARCHAR, similarity DOUBLE, subreddit VARCHAR,
  title VARCHAR, created_at VARCHAR, url VARCHAR, best_score DOUBLE, _harbor_id VARCHAR);
CREATE TABLE theme_weeks (week_id VARCHAR, theme_id VARCHAR, week VARCHAR, subreddit VARCHAR, posts BIGINT,
  authors BIGINT, _harbor_id VARCHAR);
INSERT INTO theme_members
SELECT id, CASE WHEN subreddit = 'SaaS' THEN 'th-00000000000000a1' ELSE 'th-00000000000000b2' END,
  0.5 + (CAST(substr(id, 2) AS INTEGER) % 40) / 100.0, subreddit, title, strftime(created_utc, '%Y-%m-%dT%H:%M:%SZ'),
  'https://www.reddit.com' || permalink, NULL, 'm' || id
FROM submissions WHERE is_problem;
INSERT INTO theme_weeks
SELECT theme_id || '|' || strftime(date_trunc('week', CAST(created_at AS TIMESTAMP)), '%Y-%m-%d') || '|*', theme_id,
  strftime(date_trunc('week', CAST(created_at AS TIMESTAMP)), '%Y-%m-%d'), NULL, count(*), count(*), 'w'
FROM theme_members GROUP BY 1, 2, 3;
INSERT INTO theme_weeks
SELECT theme_id || '|' || strftime(date_trunc('week', CAST(created_at AS TIMESTAMP)), '%Y-%m-%d') || '|' || subreddit,
  theme_id, strftime(date_trunc('week', CAST(created_at AS TIMESTAMP)), '%Y-%m-%d'), subreddit, count(*), count(*), 'w'
FROM theme_members GROUP BY 1, 2, 3, 4;
INSERT INTO themes VALUES
  ('th-00000000000000a1', 'invoices, struggle, track', 'terms', 'invoices, struggle, track',
   (SELECT count(*) FROM theme_members WHERE theme_id = 'th-00000000000000a1'), 7, 1,
   '[{"subreddit": "SaaS", "posts": 20}]', 20, 0, 20.0, 89.0, '[0,0,0,0,0,0,0,0,0,0,0,20]',
   '[{"post_id": "p006", "subreddit": "SaaS", "title": "I struggle with invoices 6", "url": "https://www.reddit.com/r/x/comments/p6", "quote": "I struggle with invoices 6"}]',
   '2025-01-01T06:00:00Z', '2025-01-05T18:00:00Z', 'active', 'ta'),
  ('th-00000000000000b2', 'invoices, weekly', 'terms', 'invoices, weekly',
   (SELECT count(*) FROM theme_members WHERE theme_id = 'th-00000000000000b2'), 7, 1,
   '[{"subreddit": "smallbusiness", "posts": 20}]', 10, 10, 0.0, 87.0, '[0,0,0,0,0,0,0,0,5,5,5,5]', '[]',
   '2025-01-01T03:00:00Z', '2025-01-05T21:00:00Z', 'active', 'tb'),
  ('th-00000000000000c3', 'printer, offline', 'terms', 'printer, offline', 3, 3, 2, '[]', 0, 3, -1.0, NULL,
   '[0,0,0,0,0,0,0,3,0,0,0,0]', '[]', NULL, NULL, 'active', 'tc');
"#;

/// A launcher that "loads" by counting lines, so `POST /runs` can be followed to the end; a line
/// with an `id` also becomes a (newest) submission, so a run can change what the API answers, once
/// the file named by `wait_for` exists if the line has one.
pub struct LineCounter {
    target: Target,
}

enum Target {
    Duck(std::sync::Mutex<duckdb::Connection>),
    Pg(PgTarget),
}

/// A seeded Postgres database (schema `api`), and the pgbouncer in front of it if one is used.
#[derive(Clone)]
pub struct PgTarget {
    pub db: String,
    /// Kept so pgbouncer runs as long as the API reads through it.
    _bouncer: Option<Arc<PgBouncer>>,
}

impl PgTarget {
    fn psql(&self, sql: &str) -> String {
        PgCluster::shared()
            .psql(&self.db, &format!("SET search_path TO api; {sql}"))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }
}

impl RunLauncher for LineCounter {
    fn run(&self, job: &RunJob) -> Result<RunOutcome, String> {
        let mut rows = 0u64;
        for f in &job.files {
            let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
            if text.contains("FAIL") {
                return Err("input says FAIL".into());
            }
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
                if let Some(gate) = v["wait_for"].as_str() {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    while !std::path::Path::new(gate).exists() {
                        if std::time::Instant::now() > deadline {
                            return Err(format!("{gate} did not appear"));
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
                if let Some(id) = v["id"].as_str() {
                    match &self.target {
                        Target::Duck(conn) => {
                            let conn = conn.lock().map_err(|e| e.to_string())?;
                            conn.execute(
                                "INSERT INTO submissions (id, title, subreddit, created_utc) \
                                 VALUES (?, 'from a run', 'SaaS', TIMESTAMP '2030-01-01 00:00:00')",
                                [id],
                            )
                            .map_err(|e| e.to_string())?;
                        }
                        Target::Pg(pg) => {
                            pg.psql(&format!(
                                "INSERT INTO submissions (id, title, subreddit, created_utc) \
                                 VALUES ({}, 'from a run', 'SaaS', '2030-01-01 00:00:00+00')",
                                literal(id)
                            ));
                        }
                    }
                }
                rows += 1;
            }
        }
        Ok(RunOutcome {
            rows: BTreeMap::from([("submissions".to_owned(), rows)]),
            ..Default::default()
        })
    }
}

/// Where the API reads: the same seeded data on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default.
    DuckDb,
    /// A real Postgres server, the data in schema `api`.
    Postgres,
    /// The same Postgres through pgbouncer in transaction mode (Supabase's pooler).
    PgBouncer,
}

/// Every engine the server supports.
pub const ENGINES: [Engine; 3] = [Engine::DuckDb, Engine::Postgres, Engine::PgBouncer];

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const SEEDED: &[&str] = &[
    "submissions",
    "comments",
    "opportunity_analysis",
    "_harbor_runs",
    "_harbor_loads",
    "themes",
    "theme_members",
    "theme_weeks",
];

/// Copies the seeded DuckDB tables into a new Postgres database (schema `api`), with the types the
/// Postgres destination and the operations store use (timestamps of data tables as `timestamptz`,
/// of `_harbor_*` tables as `timestamp`, JSON as `json`).
fn seed_postgres(conn: &duckdb::Connection) -> String {
    let pg = PgCluster::shared();
    let url = pg.create_database("api").expect("database");
    let db = url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let mut sql = String::from("CREATE SCHEMA api; SET search_path TO api;\n");
    for table in SEEDED {
        let mut stmt = conn
            .prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_name = ? ORDER BY ordinal_position",
            )
            .expect("columns");
        let cols: Vec<(String, String)> = stmt
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("columns");
        let internal = table.starts_with("_harbor");
        let types: Vec<&str> = cols
            .iter()
            .map(|(_, t)| match t.as_str() {
                "VARCHAR" => "text",
                "BIGINT" => "bigint",
                "DOUBLE" => "double precision",
                "BOOLEAN" => "boolean",
                "TIMESTAMP" if internal => "timestamp",
                "TIMESTAMP" => "timestamptz",
                "JSON" => "json",
                other => panic!("no Postgres type for {other}"),
            })
            .collect();
        let defs: Vec<String> = cols
            .iter()
            .zip(&types)
            .map(|((c, _), t)| format!("\"{c}\" {t}"))
            .collect();
        let pk = if *table == "_harbor_runs" {
            ", PRIMARY KEY (run_id)"
        } else {
            ""
        };
        sql.push_str(&format!("CREATE TABLE \"{table}\" ({}{pk});\n", defs.join(", ")));
        let select: Vec<String> = cols
            .iter()
            .map(|(c, _)| format!("CAST(\"{c}\" AS VARCHAR)"))
            .collect();
        let mut stmt = conn
            .prepare(&format!("SELECT {} FROM \"{table}\"", select.join(", ")))
            .expect("rows");
        let n = cols.len();
        let rows: Vec<Vec<Option<String>>> = stmt
            .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        for row in rows {
            let values: Vec<String> = row
                .iter()
                .zip(&types)
                .map(|(v, t)| match (v, *t) {
                    (None, _) => "NULL".to_owned(),
                    (Some(v), "timestamptz") => literal(&format!("{v}+00")),
                    (Some(v), _) => literal(v),
                })
                .collect();
            sql.push_str(&format!(
                "INSERT INTO \"{table}\" VALUES ({});\n",
                values.join(", ")
            ));
        }
    }
    pg.psql(&db, &sql).expect("seed postgres");
    db
}

/// One app over one seeded database.
pub struct Api {
    pub app: Router,
    /// The seeded DuckDB database (on DuckDB the one the API reads; on Postgres the source of the
    /// copy).
    pub conn: duckdb::Connection,
    pub tokens: BTreeMap<Scope, String>,
    pub dir: tempfile::TempDir,
    pub state: Arc<AppState>,
    pg: Option<PgTarget>,
}

impl Api {
    pub fn new() -> Api {
        Self::on(Engine::DuckDb)
    }

    pub fn on(engine: Engine) -> Api {
        Self::with_config_on(ServerConfig::default(), engine)
    }

    pub fn with_config(config: ServerConfig) -> Api {
        Self::with_config_on(config, Engine::DuckDb)
    }

    pub fn with_config_on(config: ServerConfig, engine: Engine) -> Api {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = duckdb::Connection::open(dir.path().join("h.duckdb")).expect("open");
        conn.execute_batch(SEED).expect("seed");
        std::fs::create_dir_all(dir.path().join("inbox")).expect("inbox");
        let (db, target, pg) = match engine {
            Engine::DuckDb => (
                harbor_server::db::Db::new(&conn, config.pool_size).expect("pool"),
                Target::Duck(std::sync::Mutex::new(conn.try_clone().expect("clone"))),
                None,
            ),
            Engine::Postgres | Engine::PgBouncer => {
                let cluster = PgCluster::shared();
                let name = seed_postgres(&conn);
                let (url, bouncer) = if engine == Engine::PgBouncer {
                    let b = cluster.pgbouncer().expect("pgbouncer");
                    (
                        format!("{}&schema=api&pooler=transaction", b.url(&name)),
                        Some(Arc::new(b)),
                    )
                } else {
                    (format!("{}&schema=api", cluster.url(&name)), None)
                };
                let target = PgTarget {
                    db: name,
                    _bouncer: bouncer,
                };
                (
                    harbor_server::db::Db::postgres(&url, config.pool_size).expect("pool"),
                    Target::Pg(target.clone()),
                    Some(target),
                )
            }
        };
        let state = AppState::new(
            db,
            ServerParts {
                config,
                tokens: dir.path().join("tokens.json"),
                launcher: Some(Arc::new(LineCounter { target })),
                inbox: dir.path().join("inbox"),
                pipeline: "reddit".into(),
                destination: "test".into(),
                metrics: None,
            },
        )
        .expect("state");
        let mut tokens = BTreeMap::new();
        for scope in [Scope::Read, Scope::Write, Scope::Admin] {
            let (_, t) = state.tokens.create(scope, scope.as_str()).expect("token");
            tokens.insert(scope, t);
        }
        Api {
            app: harbor_server::router(state.clone()),
            conn,
            tokens,
            dir,
            state,
            pg,
        }
    }

    pub fn token(&self, s: Scope) -> &str {
        &self.tokens[&s]
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(text) => b
                .header("content-type", "application/json")
                .body(Body::from(text.to_owned())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
            .await
            .expect("body");
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    /// A GET with the read token: the body and the `x-harbor-cache` header (`hit`, `miss` or empty).
    pub async fn get_cached(&self, uri: &str) -> (Value, String) {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token(Scope::Read)))
            .body(Body::empty())
            .expect("request");
        let res = self.app.clone().oneshot(req).await.expect("response");
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        let cache = res
            .headers()
            .get("x-harbor-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
            .await
            .expect("body");
        (serde_json::from_slice(&bytes).expect("json"), cache)
    }

    pub async fn get(&self, uri: &str) -> Value {
        let (s, v) = self.call("GET", uri, Some(self.token(Scope::Read)), None).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
        v
    }

    pub async fn error(&self, uri: &str) -> (StatusCode, String) {
        let (s, v) = self.call("GET", uri, Some(self.token(Scope::Read)), None).await;
        assert_error_shape(&v);
        (s, v["error"]["code"].as_str().unwrap_or("").to_owned())
    }

    /// One number from the database the API reads.
    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(sql)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a statement that changes the data the API reads (and forgets cached answers, as a
    /// load would).
    pub fn exec(&self, sql: &str) {
        match &self.pg {
            Some(pg) => {
                pg.psql(sql);
            }
            None => self.conn.execute_batch(sql).expect(sql),
        }
        self.state.db.invalidate();
    }

    /// One value, as text, from the database the API reads.
    pub fn scalar(&self, sql: &str) -> String {
        match &self.pg {
            Some(pg) => pg.psql(sql).trim().to_owned(),
            None => self
                .conn
                .query_row(&format!("SELECT CAST(({sql}) AS VARCHAR)"), [], |r| r.get(0))
                .expect(sql),
        }
    }
}

/// Every error body is `{"error": {"code", "message"}}` and nothing else.
pub fn assert_error_shape(v: &Value) {
    let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(obj.len(), 1, "{v}");
    let e = v["error"].as_object().unwrap_or_else(|| panic!("no error: {v}"));
    assert!(e["code"].is_string() && e["message"].is_string(), "{v}");
    assert_eq!(e.len(), 2, "{v}");
}
