//! Demo rows for the tables other parts of harbor own (`opportunity_analysis` of the scorer,
//! `_harbor_runs` of the run traces), in their shared-table shapes, derived from the submissions a
//! real `harbor load` stored. Used by the SDK tests, the dashboard test and the load benchmark
//! until those writers run in the same test.

/// Creates the two tables if missing and fills them from `submissions`.
pub const SEED_SQL: &str = r#"
CREATE TABLE IF NOT EXISTS opportunity_analysis (post_id VARCHAR, scorer_id VARCHAR, market_demand DOUBLE,
  pain_intensity DOUBLE, monetization_potential DOUBLE, market_gap DOUBLE, technical_feasibility DOUBLE,
  simplicity DOUBLE, final_score DOUBLE, evidence JSON, app_name VARCHAR, problem_description VARCHAR,
  app_concept VARCHAR, core_functions JSON, value_proposition VARCHAR, target_user VARCHAR,
  monetization_model VARCHAR, growth_justification VARCHAR, status VARCHAR, failure_reason VARCHAR,
  model VARCHAR, prompt_version VARCHAR, prompt_tokens BIGINT, completion_tokens BIGINT, cost_usd DOUBLE,
  content_hash VARCHAR, scored_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS _harbor_runs (run_id VARCHAR PRIMARY KEY, command VARCHAR, pipeline VARCHAR,
  started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, seconds DOUBLE, stages JSON, api_calls JSON,
  api_calls_total BIGINT, http_429 BIGINT, retries BIGINT, rows JSON, rows_total BIGINT, bytes BIGINT,
  rejects BIGINT, error VARCHAR, llm_tokens BIGINT, llm_cost_usd DOUBLE);
DELETE FROM opportunity_analysis WHERE scorer_id = 'seed-heuristic-v1';
INSERT INTO opportunity_analysis (post_id, scorer_id, market_demand, pain_intensity, monetization_potential,
  market_gap, technical_feasibility, simplicity, final_score, evidence, app_name, problem_description,
  core_functions, status, model, prompt_version, scored_at)
SELECT id, 'seed-heuristic-v1', md, pi, mp, 50, 80, 85,
  round(0.20 * md + 0.25 * pi + 0.20 * mp + 0.10 * 50 + 0.05 * 80 + 0.20 * 85, 2),
  json_object('matched', ['problem'], 'score', score, 'num_comments', num_comments),
  'App for ' || left(title, 30), left(title, 120), '["track", "remind"]', 'scored', NULL, 'v1',
  TIMESTAMP '2025-01-01 00:00:00'
FROM (
  SELECT id, title, COALESCE(score, 0) AS score, COALESCE(num_comments, 0) AS num_comments,
    least(100, 20 + ln(1 + greatest(COALESCE(score, 0), 0)) * 10) AS md,
    least(100, 30 + length(COALESCE(title, '')) % 60) AS pi,
    least(100, 10 + ln(1 + greatest(COALESCE(num_comments, 0), 0)) * 15) AS mp
  FROM submissions WHERE title IS NOT NULL ORDER BY id LIMIT 5000
);
DELETE FROM _harbor_runs WHERE run_id LIKE 'seed-%';
INSERT INTO _harbor_runs (run_id, command, pipeline, started_at, finished_at, status, seconds, stages,
  api_calls, api_calls_total, http_429, retries, "rows", rows_total, bytes, rejects, error, llm_tokens,
  llm_cost_usd)
SELECT 'seed-' || lpad(i::VARCHAR, 3, '0'), CASE WHEN i % 4 = 0 THEN 'score' ELSE 'collect' END, 'reddit',
  TIMESTAMP '2025-01-01 00:00:00' + i * INTERVAL 6 HOUR,
  TIMESTAMP '2025-01-01 00:00:00' + i * INTERVAL 6 HOUR + (30 + i * 7 % 90) * INTERVAL 1 SECOND,
  CASE WHEN i % 9 = 0 THEN 'failed' ELSE 'ok' END, 30 + i * 7 % 90,
  json_object('extract', 20 + i % 30, 'load', 5 + i % 7),
  json_object('listing', 10 + i % 40, 'info', i % 5, 'comments', i % 13),
  10 + i % 40 + i % 5 + i % 13, i % 3, i % 4,
  json_object('submissions', 100 + i * 13 % 400), 100 + i * 13 % 400, 100000 + i * 977,
  i % 2, CASE WHEN i % 9 = 0 THEN 'rate limit budget exhausted' END, i % 4 * 1500, i % 4 * 0.002
FROM range(1, 25) t(i);
"#;

/// [`SEED_SQL`] in Postgres' dialect: the same rows, for a Postgres destination (run with the
/// destination's schema on the `search_path`).
pub const SEED_SQL_POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS opportunity_analysis (post_id TEXT, scorer_id TEXT, market_demand DOUBLE PRECISION,
  pain_intensity DOUBLE PRECISION, monetization_potential DOUBLE PRECISION, market_gap DOUBLE PRECISION,
  technical_feasibility DOUBLE PRECISION, simplicity DOUBLE PRECISION, final_score DOUBLE PRECISION,
  evidence JSON, app_name TEXT, problem_description TEXT, app_concept TEXT, core_functions JSON,
  value_proposition TEXT, target_user TEXT, monetization_model TEXT, growth_justification TEXT, status TEXT,
  failure_reason TEXT, model TEXT, prompt_version TEXT, prompt_tokens BIGINT, completion_tokens BIGINT,
  cost_usd DOUBLE PRECISION, content_hash TEXT, scored_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS _harbor_runs (run_id TEXT PRIMARY KEY, command TEXT, pipeline TEXT,
  started_at TIMESTAMP, finished_at TIMESTAMP, status TEXT, seconds DOUBLE PRECISION, stages JSON,
  api_calls JSON, api_calls_total BIGINT, http_429 BIGINT, retries BIGINT, "rows" JSON, rows_total BIGINT,
  bytes BIGINT, rejects BIGINT, error TEXT, llm_tokens BIGINT, llm_cost_usd DOUBLE PRECISION);
DELETE FROM opportunity_analysis WHERE scorer_id = 'seed-heuristic-v1';
INSERT INTO opportunity_analysis (post_id, scorer_id, market_demand, pain_intensity, monetization_potential,
  market_gap, technical_feasibility, simplicity, final_score, evidence, app_name, problem_description,
  core_functions, status, model, prompt_version, scored_at)
SELECT id, 'seed-heuristic-v1', md, pi, mp, 50, 80, 85,
  round(CAST(0.20 * md + 0.25 * pi + 0.20 * mp + 0.10 * 50 + 0.05 * 80 + 0.20 * 85 AS NUMERIC), 2),
  json_build_object('matched', json_build_array('problem'), 'score', score, 'num_comments', num_comments),
  'App for ' || left(title, 30), left(title, 120), '["track", "remind"]', 'scored', NULL, 'v1',
  TIMESTAMP '2025-01-01 00:00:00'
FROM (
  SELECT id, title, COALESCE(score, 0) AS score, COALESCE(num_comments, 0) AS num_comments,
    least(100, 20 + ln(1 + greatest(COALESCE(score, 0), 0)) * 10) AS md,
    least(100, 30 + length(COALESCE(title, '')) % 60) AS pi,
    least(100, 10 + ln(1 + greatest(COALESCE(num_comments, 0), 0)) * 15) AS mp
  FROM submissions WHERE title IS NOT NULL ORDER BY id LIMIT 5000
) posts;
DELETE FROM _harbor_runs WHERE run_id LIKE 'seed-%';
INSERT INTO _harbor_runs (run_id, command, pipeline, started_at, finished_at, status, seconds, stages,
  api_calls, api_calls_total, http_429, retries, "rows", rows_total, bytes, rejects, error, llm_tokens,
  llm_cost_usd)
SELECT 'seed-' || lpad(i::TEXT, 3, '0'), CASE WHEN i % 4 = 0 THEN 'score' ELSE 'collect' END, 'reddit',
  TIMESTAMP '2025-01-01 00:00:00' + i * INTERVAL '6 hours',
  TIMESTAMP '2025-01-01 00:00:00' + i * INTERVAL '6 hours' + (30 + i * 7 % 90) * INTERVAL '1 second',
  CASE WHEN i % 9 = 0 THEN 'failed' ELSE 'ok' END, 30 + i * 7 % 90,
  json_build_object('extract', 20 + i % 30, 'load', 5 + i % 7),
  json_build_object('listing', 10 + i % 40, 'info', i % 5, 'comments', i % 13),
  10 + i % 40 + i % 5 + i % 13, i % 3, i % 4,
  json_build_object('submissions', 100 + i * 13 % 400), 100 + i * 13 % 400, 100000 + i * 977,
  i % 2, CASE WHEN i % 9 = 0 THEN 'rate limit budget exhausted' END, i % 4 * 1500, i % 4 * 0.002
FROM generate_series(1, 24) t(i);
"#;
