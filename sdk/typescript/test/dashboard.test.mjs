// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
// browser download): charts render on canvases with pixels, the top opportunity and the top themes
// (each with a sparkline of its weeks) are on the page; after `harbor demo` every chart has data.
// The screenshot is kept under $CARGO_TARGET_DIR/dashboard/ as a CI artifact. Every asset comes
// from the server itself (embedded in the binary; Chart.js is the npm package's file, unchanged).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { createHarborClient, unwrap } from "../dist/index.js";
import { startServer, sdkDir, targetDir } from "../scripts/server.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Headless Chromium (Playwright gives it a fresh temporary profile); stops `server` if it fails. */
async function launch(server) {
  return chromium
    .launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    })
    .catch(async (e) => {
      await server.stop();
      throw e;
    });
}

/** Opens the dashboard with the read token and waits until it has loaded its data. */
async function openDashboard(browser, server) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  await page.goto(`${server.url}/#token=${server.tokens.read}`);
  await page.waitForSelector("body[data-loaded]", { timeout: 30000 });
  assert.equal(await page.getAttribute("body", "data-loaded"), "true", await page.textContent("#message"));
  return page;
}

test("dashboard draws its charts and shows the top opportunity and themes", async () => {
  const server = await startServer({ submissions: 120 });
  const browser = await launch(server);
  try {
    const client = createHarborClient({ baseUrl: server.url, token: server.tokens.read });
    const top = unwrap(await client.GET("/api/v1/opportunities", { params: { query: { limit: 1 } } })).items[0];
    // A route, so the cutover chart has a ring to draw.
    const routed = await fetch(`${server.url}/api/v1/cutover`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.tokens.admin}`, "Content-Type": "application/json" },
      body: JSON.stringify({ action: "set", subreddits: ["SaaS"], reason: "dashboard test" }),
    });
    assert.equal(routed.status, 200, await routed.text());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
    const requested = [];
    page.on("request", (r) => requested.push(r.url()));
    await page.goto(`${server.url}/#token=${server.tokens.read}`);
    await page.waitForSelector("body[data-loaded]", { timeout: 30000 });
    assert.equal(await page.getAttribute("body", "data-loaded"), "true", await page.textContent("#message"));
    const canvases = await page.$$eval("canvas", (cs) => cs.map((c) => {
      const ctx = c.getContext("2d");
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
      return { id: c.id, width: c.width, height: c.height, painted };
    }));
    const themes = unwrap(await client.GET("/api/v1/themes", { params: { query: { limit: 10 } } })).items;
    assert.ok(themes.length >= 1, "the seeded posts have themes");
    const sparks = canvases.filter((c) => c.id.startsWith("theme-spark-"));
    assert.equal(sparks.length, themes.length, "one sparkline per theme");
    assert.equal(canvases.length - sparks.length, 5);
    for (const c of canvases.filter((c) => !c.id.startsWith("theme-spark-"))) {
      assert.ok(c.width > 0 && c.height > 0, `${c.id} has a size`);
      assert.ok(c.painted > 500, `${c.id} has drawn pixels: ${JSON.stringify(c)}`);
    }
    for (const c of sparks) assert.ok(c.painted > 50, `${c.id} has a drawn line: ${JSON.stringify(c)}`);
    const themeText = await page.textContent("#themes");
    assert.ok(themeText.includes(themes[0].name), `top theme "${themes[0].name}" on the page`);
    const text = await page.textContent("#opportunities");
    assert.ok(text.includes(top.title), `top opportunity "${top.title}" on the page`);
    const out = join(targetDir, "dashboard");
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, "dashboard.png"), fullPage: true });
    console.log(`# screenshot: ${join(out, "dashboard.png")}`);
    // No CDN: every request went to the server, and its Chart.js is the npm package's file.
    const foreign = requested.filter((u) => !u.startsWith(server.url));
    assert.deepEqual(foreign, [], "requests to other origins");
    assert.ok(requested.some((u) => u.endsWith("/assets/chart.umd.min.js")));
    const served = Buffer.from(await (await fetch(`${server.url}/assets/chart.umd.min.js`)).arrayBuffer());
    const npm = readFileSync(resolve(sdkDir, "node_modules", "chart.js", "dist", "chart.umd.min.js"));
    assert.ok(served.equals(npm), "the embedded Chart.js is node_modules/chart.js/dist/chart.umd.min.js");
    // The page never puts data into HTML: a title with markup stays text.
    assert.equal(await page.$$eval("#opportunities script, #opportunities img", (e) => e.length), 0);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("after `harbor demo` every chart has data, evidence reads as sentences, no cutover ring", async () => {
  const server = await startServer({ demo: true });
  const browser = await launch(server);
  try {
    const page = await openDashboard(browser, server);
    // What each chart was given (Chart.js keeps it on the instance), and what its canvas shows.
    const charts = await page.$$eval("canvas", (cs) => cs.map((c) => {
      const chart = Chart.getChart(c);
      const values = chart ? chart.data.datasets.flatMap((d) => d.data).filter((v) => typeof v === "number") : [];
      const { data } = c.getContext("2d").getImageData(0, 0, c.width, c.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
      return { id: c.id, labels: chart ? chart.data.labels.length : 0, positive: values.filter((v) => v > 0).length, painted };
    }));
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    for (const id of ["runs-chart", "budget-chart", "subreddit-chart", "opportunity-chart"]) {
      const c = byId[id];
      assert.ok(c, `${id} is on the page`);
      assert.ok(c.labels > 0 && c.positive > 0, `${id} has data after the demo: ${JSON.stringify(c)}`);
      assert.ok(c.painted > 500, `${id} has drawn pixels: ${JSON.stringify(c)}`);
    }
    // The demo's two traced runs are the runs chart's points.
    assert.equal(byId["runs-chart"].labels, 2, JSON.stringify(byId["runs-chart"]));
    // Nothing is routed after a demo: the caption says so and no ring is drawn.
    const cutover = byId["cutover-chart"];
    assert.deepEqual([cutover.labels, cutover.painted], [0, 0], `no cutover ring: ${JSON.stringify(cutover)}`);
    assert.match(await page.textContent("#cutover-phase"), /no subreddit routed/);
    // Evidence: a sentence per dimension; the stored JSON only behind its toggle.
    const first = await page.$("#opportunities tr");
    const sentences = await first.$$eval(".reasons li", (li) => li.map((e) => e.textContent));
    assert.ok(sentences.length >= 5, JSON.stringify(sentences));
    assert.match(sentences[0], /^market demand: \d+ points?, \d+ comments?; /);
    const raw = await first.$("details");
    assert.equal(await raw.evaluate((d) => d.open), false, "raw JSON is folded");
    assert.equal(await (await raw.$("pre")).isVisible(), false);
    await (await raw.$("summary")).click();
    assert.match(await (await raw.$("pre")).textContent(), /"pain_phrases"/);
  } finally {
    await browser.close();
    await server.stop();
  }
});
