// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
// browser download): charts render on canvases with pixels, the top opportunity and the top themes
// (each with a sparkline of its weeks) are on the page.
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

test("dashboard draws its charts and shows the top opportunity and themes", async () => {
  const server = await startServer({ submissions: 120 });
  // Playwright gives the browser a fresh temporary profile of its own.
  const browser = await chromium
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
  try {
    const client = createHarborClient({ baseUrl: server.url, token: server.tokens.read });
    const top = unwrap(await client.GET("/api/v1/opportunities", { params: { query: { limit: 1 } } })).items[0];
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
