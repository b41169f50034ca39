// Starts a real `harbor serve` on a free port over a database seeded through `harbor load`
// (synthetic posts plus a comment tree), `harbor-api-seed` (scorer and run-trace rows) and
// `harbor themes` (themes of the problem posts).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
/** Cargo's target directory (where the binaries are, and where test artifacts are kept). */
export const targetDir = resolve(process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "harbor-target"));

/** Path of a workspace binary (`harbor`, `harbor-api-seed`); HARBOR_BIN overrides `harbor`. */
export function bin(name) {
  if (name === "harbor" && process.env.HARBOR_BIN) return process.env.HARBOR_BIN;
  const p = resolve(targetDir, "debug", name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`cargo build --workspace --bins\` first`);
  return p;
}

function run(dir, args, env = process.env) {
  return execFileSync(bin("harbor"), args, { cwd: dir, env: { ...env, NO_COLOR: "1" }, encoding: "utf8" });
}

/**
 * The environment of one server: with HARBOR_DESTINATION set to a Postgres URL (how `scripts/test.sh`
 * runs these tests on Postgres), each server gets a schema of its own in that database.
 */
function serverEnv() {
  const base = process.env.HARBOR_DESTINATION;
  if (!base || !/^postgres(ql)?:\/\//.test(base)) return { ...process.env };
  const schema = `sdk_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  return { ...process.env, HARBOR_DESTINATION: `${base}${base.includes("?") ? "&" : "?"}schema=${schema}` };
}

/** `n` submissions as Reddit `t3` objects, and comments forming a tree under the first one. */
export function corpus(n) {
  const subs = ["SaaS", "smallbusiness", "webdev"];
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({
      kind: "t3",
      data: {
        id: `s${String(i).padStart(5, "0")}`, name: `t3_s${String(i).padStart(5, "0")}`,
        title: i % 3 === 0 ? `I struggle to track invoices (${i})` : `Show and tell ${i}`,
        selftext: i % 2 === 0 ? "It is so annoying, is there a tool?" : "",
        subreddit: subs[i % 3], author: `user${i % 11}`, score: (i * 37) % 500, num_comments: i % 9,
        created_utc: 1735689600 + i * 3600, permalink: `/r/${subs[i % 3]}/comments/s${i}/`,
        url: `https://example.com/${i}`,
      },
    }));
  }
  const comments = [];
  for (let i = 0; i < 6; i++) {
    comments.push(JSON.stringify({
      kind: "t1",
      data: {
        id: `c${i}`, name: `t1_c${i}`, link_id: "t3_s00000", parent_id: i < 2 ? "t3_s00000" : `t1_c${i - 2}`,
        author: `commenter${i}`, body: `comment ${i}`, score: i, created_utc: 1735690000 + i * 60, subreddit: "SaaS",
      },
    }));
  }
  return { submissions: lines.join("\n") + "\n", comments: comments.join("\n") + "\n" };
}

/**
 * Starts a seeded server; resolves to { url, tokens: {read, write, admin}, dir, stop() }.
 * With `posts` (an NDJSON file of submissions), that file is loaded and scored by `harbor score`
 * instead of the built-in corpus and demo rows; with `demo`, the database is what `harbor demo`
 * (against its built-in Reddit stand-in) leaves, as a new user sees it.
 */
export async function startServer({ submissions = 240, seed = true, posts, demo = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "harbor-sdk-"));
  const env = serverEnv();
  const postgres = env.HARBOR_DESTINATION && env.HARBOR_DESTINATION !== process.env.HARBOR_DESTINATION
    ? env.HARBOR_DESTINATION : undefined;
  if (demo) {
    const clean = { ...env };
    delete clean.REDDIT_CLIENT_ID;
    delete clean.HARBOR_REDDIT_API_URL;
    run(dir, ["demo", "--posts", "30", "--new-posts", "7"], clean);
  } else if (posts) {
    run(dir, ["load", resolve(posts)], env);
    run(dir, ["score", "--all-posts"], env);
    run(dir, ["themes", "--all-posts"], env);
  } else if (seed) {
    const { submissions: s, comments: c } = corpus(submissions);
    writeFileSync(join(dir, "posts.ndjson"), s);
    writeFileSync(join(dir, "comments.ndjson"), c);
    run(dir, ["load", "posts.ndjson", "comments.ndjson"], env);
    execFileSync(bin("harbor-api-seed"), [postgres ?? join(dir, "harbor.duckdb")]);
    run(dir, ["themes"], env);
  }
  const tokens = {};
  for (const scope of ["read", "write", "admin"]) {
    tokens[scope] = run(dir, ["token", "create", "--scope", scope, "--name", `sdk-${scope}`], env).trim();
  }
  mkdirSync(join(dir, ".harbor", "inbox"), { recursive: true });
  const child = spawn(bin("harbor"), ["serve", "--bind", "127.0.0.1:0", "--cors-origin", "http://localhost:3000"], {
    cwd: dir, env: { ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolveUrl, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (line) => resolveUrl(line.trim()));
    child.once("exit", (code) => reject(new Error(`harbor serve exited with ${code}`)));
  });
  return {
    url, tokens, dir, pid: child.pid,
    async stop() {
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sdkDir = resolve(here, "..");
