// Fails when openapi.json or src/schema.d.ts no longer match what the server generates:
// run `npm run generate` and commit the result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generated } from "../scripts/generate.mjs";
import { startServer, sdkDir } from "../scripts/server.mjs";

test("generated types are up to date with the server's openapi.json", async () => {
  const server = await startServer({ seed: false });
  try {
    const { json, types } = await generated(server.url);
    const hint = "stale: run `npm run generate` in sdk/typescript and commit the result";
    assert.equal(readFileSync(join(sdkDir, "openapi.json"), "utf8"), json, `openapi.json is ${hint}`);
    assert.equal(readFileSync(join(sdkDir, "src", "schema.d.ts"), "utf8"), types, `src/schema.d.ts is ${hint}`);
  } finally {
    await server.stop();
  }
});
