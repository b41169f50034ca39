// The SDK against a live `harbor serve` with a seeded database: every endpoint, auth failures,
// pagination, a background run, the cutover.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarborClient, unwrap, allSubmissions, allOpportunities, allThemes, waitForRun, HarborError } from "../dist/index.js";
import { startServer, corpus } from "../scripts/server.mjs";

let server;
let read, write, admin;

before(async () => {
  server = await startServer({ submissions: 240 });
  const mk = (token) => createHarborClient({ baseUrl: server.url, token });
  read = mk(server.tokens.read);
  write = mk(server.tokens.write);
  admin = mk(server.tokens.admin);
});

after(async () => {
  await server?.stop();
});

test("health and openapi need no token", async () => {
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  assert.equal(doc.info.title, "RedditHarbor API");
});

test("subreddits, submissions and one submission with its comment tree", async () => {
  const subs = unwrap(await read.GET("/api/v1/subreddits"));
  assert.deepEqual(subs.items.map((s) => s.name).sort(), ["SaaS", "smallbusiness", "webdev"]);
  assert.equal(subs.items.reduce((n, s) => n + s.submissions, 0), 240);
  const page = unwrap(await read.GET("/api/v1/submissions", { params: { query: { subreddit: "saas", q: "INVOICES", limit: 5 } } }));
  assert.equal(page.items.length, 5);
  for (const s of page.items) assert.ok(s.subreddit === "SaaS" && s.title.includes("invoices"));
  const detail = unwrap(await read.GET("/api/v1/submissions/{id}", { params: { path: { id: "s00000" } } }));
  assert.equal(detail.comment_count, 6);
  assert.deepEqual(detail.comments.map((c) => c.id), ["c0", "c1"]);
  assert.equal(detail.comments[0].replies[0].id, "c2");
  assert.equal(detail.comments[0].replies[0].replies[0].id, "c4");
});

test("cursor pagination walks every submission once", async () => {
  const ids = [];
  for await (const s of allSubmissions(read, { limit: 37 })) ids.push(s.id);
  assert.equal(ids.length, 240);
  assert.equal(new Set(ids).size, 240);
  const since = unwrap(await read.GET("/api/v1/submissions", { params: { query: { since: "2025-01-10T00:00:00Z", limit: 500 } } }));
  for (const s of since.items) assert.ok(s.created_utc >= "2025-01-10T00:00:00Z");
  assert.equal(since.items.length, 240 - 216);
});

test("opportunities are ranked and paginate", async () => {
  const all = [];
  for await (const o of allOpportunities(read, { limit: 50 })) all.push(o);
  assert.equal(all.length, 240);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].final_score >= all[i].final_score);
  assert.ok(all[0].title && all[0].evidence);
  const top = unwrap(await read.GET("/api/v1/opportunities", { params: { query: { min_score: all[0].final_score } } }));
  assert.ok(top.items.length >= 1 && top.items.every((o) => o.final_score >= all[0].final_score));
});

test("themes are ranked by growth, and one theme has its posts and weeks", async () => {
  const themes = [];
  for await (const t of allThemes(read, { limit: 1 })) themes.push(t);
  assert.ok(themes.length >= 1, "the seeded problem posts form at least one theme");
  for (let i = 1; i < themes.length; i++) assert.ok(themes[i - 1].growth >= themes[i].growth);
  const top = themes[0];
  assert.ok(top.id.startsWith("th-") && top.name && top.terms.length > 0);
  assert.equal(top.recent_weeks.length, 12);
  const detail = unwrap(await read.GET("/api/v1/themes/{id}", { params: { path: { id: top.id } } }));
  assert.equal(detail.members.length, top.posts);
  const overall = detail.weeks.filter((w) => w.subreddit === null).reduce((n, w) => n + w.posts, 0);
  assert.equal(overall, top.posts);
  const missing = await read.GET("/api/v1/themes/{id}", { params: { path: { id: "th-0000000000000000" } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error.error.code, "not_found");
});

test("runs, one run, status and metrics", async () => {
  const runs = unwrap(await read.GET("/api/v1/runs", { params: { query: { limit: 10 } } }));
  assert.equal(runs.items.length, 10);
  assert.ok(runs.next_cursor);
  const failed = unwrap(await read.GET("/api/v1/runs", { params: { query: { status: "failed" } } }));
  assert.ok(failed.items.length > 0 && failed.items.every((r) => r.status === "failed"));
  const one = unwrap(await read.GET("/api/v1/runs/{id}", { params: { path: { id: "seed-001" } } }));
  assert.equal(one.command, "collect");
  const status = unwrap(await read.GET("/api/v1/status"));
  assert.equal(status.tables.submissions, 240);
  const metrics = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.tokens.read}` } });
  assert.match(await metrics.text(), /harbor_server_responses_total/);
});

test("a write token starts a load run that can be followed", async () => {
  const { submissions } = corpus(260);
  writeFileSync(join(server.dir, ".harbor", "inbox", "more.ndjson"), submissions.split("\n").slice(240).join("\n"));
  const started = unwrap(await write.POST("/api/v1/runs", { body: { command: "load", files: ["more.ndjson"] } }));
  const run = await waitForRun(read, started.run_id);
  assert.equal(run.status, "ok", JSON.stringify(run));
  assert.equal(run.rows.submissions, 20);
  const status = unwrap(await read.GET("/api/v1/status"));
  assert.equal(status.tables.submissions, 260);
});

test("cutover: read for everyone, changes for admins", async () => {
  const set = unwrap(await admin.POST("/api/v1/cutover", { body: { action: "set", phase: "50%", reason: "sdk test" } }));
  assert.equal(set.phase, "50%");
  const state = unwrap(await read.GET("/api/v1/cutover"));
  assert.equal(state.audit[0].reason, "sdk test");
  const back = unwrap(await admin.POST("/api/v1/cutover", { body: { action: "rollback" } }));
  assert.equal(back.harbor_share, 0);
});

test("auth failures: no token, bad token, too small a scope", async () => {
  const none = await fetch(`${server.url}/api/v1/submissions`);
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error.code, "unauthorized");
  const bad = createHarborClient({ baseUrl: server.url, token: "hbr_00000000_nope" });
  await assert.rejects(async () => unwrap(await bad.GET("/api/v1/status")), (e) => e instanceof HarborError && e.status === 401);
  const r = await read.POST("/api/v1/runs", { body: { command: "load", files: ["more.ndjson"] } });
  assert.equal(r.response.status, 403);
  assert.equal(r.error.error.code, "forbidden");
  const c = await write.POST("/api/v1/cutover", { body: { action: "rollback" } });
  assert.equal(c.response.status, 403);
});

test("bad input comes back as 400 with a stable code", async () => {
  const r = await read.GET("/api/v1/submissions", { params: { query: { limit: 100000 } } });
  assert.equal(r.response.status, 400);
  assert.equal(r.error.error.code, "invalid_parameter");
  const missing = await read.GET("/api/v1/submissions/{id}", { params: { path: { id: "zzzzzz" } } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error.error.code, "not_found");
});

test("CORS admits the configured web app origin", async () => {
  const res = await fetch(`${server.url}/api/v1/status`, {
    method: "OPTIONS",
    headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
  });
  assert.equal(res.headers.get("access-control-allow-origin"), "http://localhost:3000");
});
