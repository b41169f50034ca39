// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
// browser download): charts render on canvases with pixels, and the top opportunity is on the page.
// The screenshot is kept under target/ as a CI artifact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { createHarborClient, unwrap } from "../dist/index.js";
import { startServer, sdkDir } from "../scripts/server.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

test("dashboard draws its charts and shows the top opportunity", async () => {
  const server = await startServer({ submissions: 120 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", `--user-data-dir=${mkdtempSync(join(tmpdir(), "chromium-"))}`],
  });
  try {
    const client = createHarborClient({ baseUrl: server.url, token: server.tokens.read });
    const top = unwrap(await client.GET("/api/v1/opportunities", { params: { query: { limit: 1 } } })).items[0];
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
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
    assert.equal(canvases.length, 5);
    for (const c of canvases) {
      assert.ok(c.width > 0 && c.height > 0, `${c.id} has a size`);
      assert.ok(c.painted > 500, `${c.id} has drawn pixels: ${JSON.stringify(c)}`);
    }
    const text = await page.textContent("#opportunities");
    assert.ok(text.includes(top.title), `top opportunity "${top.title}" on the page`);
    const out = resolve(sdkDir, "..", "..", "target");
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, "dashboard.png"), fullPage: true });
    // The page never puts data into HTML: a title with markup stays text.
    assert.equal(await page.$$eval("#opportunities script, #opportunities img", (e) => e.length), 0);
  } finally {
    await browser.close();
    await server.stop();
  }
});
