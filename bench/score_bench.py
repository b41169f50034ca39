#!/usr/bin/env python3
"""Opportunity scoring benchmark: the heuristic on 10,000 posts and the LLM scorer on 1,000 posts
against the fake LLM (500 ms per answer, 8 requests in flight), then the re-run cost.

Everything goes through the real `harbor` binary and a DuckDB file:
  1. generates synthetic problem posts (deterministic, varied phrasing) and loads them with
     `harbor load`;
  2. `harbor score --all-posts --json` (heuristic): posts/s of the scorer alone and end to end
     (read from DuckDB + score + load the results);
  3. starts `fake-llm --latency-ms 500` (harbor-testkit) and runs
     `harbor score --scorer llm --threshold 0 --concurrency 8 --json` on 1,000 posts: wall time,
     tokens per post, and cost per 1,000 posts at the default price table (OpenRouter's list price
     for anthropic/claude-haiku-4.5: $1 per million input tokens, $5 per million output tokens);
  4. runs the same command again: it must make zero requests and cost $0;
  5. writes the section "Opportunity scoring" of bench/RESULTS.md.

Usage:
  cargo build -p harbor -p harbor-testkit --bins
  python3 bench/score_bench.py [--target-dir DIR] [--posts 10000] [--llm-posts 1000]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import RESULTS, write_section
SECTION = "## Opportunity scoring (issue 7)"

PAINS = ["I hate", "I struggle with", "So frustrated by", "I wish there was a fix for", "Annoying problem:",
         "Can't stand", "Painful:", "Stuck with"]
TASKS = ["invoicing clients", "tracking expenses", "scheduling shifts", "syncing calendars",
         "exporting reports", "managing inventory", "reminding customers", "sorting email"]
BODIES = ["Is there a tool that can automate this? I would pay for it.", "Every single week it is a nightmare.",
          "Excel is clunky and too expensive add-ons exist.", "Our small business wastes hours on it manually.",
          "Any app recommendations? Looking for an alternative to what we use.", "It drives me crazy!!"]
SUBS = ["smallbusiness", "entrepreneur", "freelance", "productivity", "rust", "python"]


def posts(n, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rnd.sample(BODIES, rnd.randint(1, 3)))
        out.append(json.dumps({
            "id": f"b{i:06d}", "name": f"t3_b{i:06d}", "subreddit": rnd.choice(SUBS),
            "title": f"{rnd.choice(PAINS)} {rnd.choice(TASKS)} ({i})", "selftext": body,
            "author": f"user{i % 500}", "created_utc": 1_700_000_000 + i * 60,
            "score": rnd.randint(0, 2000), "num_comments": rnd.randint(0, 300),
            "permalink": f"/r/x/comments/b{i:06d}/",
        }))
    return "\n".join(out) + "\n"


def harbor(exe, cwd, args, env=None):
    t0 = time.perf_counter()
    p = subprocess.run([exe, *args], cwd=cwd, env={**os.environ, **(env or {}), "NO_COLOR": "1"},
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"harbor {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout, wall


def load(exe, cwd, n):
    (cwd / "posts.ndjson").write_text(posts(n))
    harbor(exe, cwd, ["load", "posts.ndjson", "--table", "submissions"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/harbor-target")))
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--llm-posts", type=int, default=1_000)
    ap.add_argument("--latency-ms", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    exe = str(Path(a.target_dir) / "debug" / "harbor")
    fake_exe = str(Path(a.target_dir) / "debug" / "fake-llm")

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        load(exe, d, a.posts)
        out, wall = harbor(exe, d, ["score", "--all-posts", "--json"])
        h = json.loads(out)["heuristic"]
        heur = {"posts": h["scored"], "scorer_s": h["seconds"], "wall_s": wall,
                "scorer_pps": h["scored"] / h["seconds"], "e2e_pps": h["scored"] / wall}
        print("heuristic:", heur)

    fake = subprocess.Popen([fake_exe, "--latency-ms", str(a.latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        url = fake.stdout.readline().strip()
        env = {"HARBOR_LLM_BASE_URL": url, "HARBOR_LLM_API_KEY": "bench"}
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            load(exe, d, a.llm_posts)
            cmd = ["score", "--scorer", "llm", "--threshold", "0", "--concurrency", str(a.concurrency), "--json"]
            out, wall = harbor(exe, d, cmd, env)
            s = json.loads(out)
            llm = s["llm"]
            tokens = llm["prompt_tokens"] + llm["completion_tokens"]
            first = {"posts": llm["scored"], "failed": llm["failed"], "wall_s": wall, "scorer_s": llm["seconds"],
                     "requests": llm["requests"], "prompt_tokens_per_post": llm["prompt_tokens"] / llm["scored"],
                     "completion_tokens_per_post": llm["completion_tokens"] / llm["scored"],
                     "tokens_per_post": tokens / llm["scored"], "cost_usd": llm["cost_usd"],
                     "cost_per_1000": llm["cost_usd"] / llm["scored"] * 1000}
            print("llm first run:", first)
            out, wall2 = harbor(exe, d, cmd, env)
            r = json.loads(out)["llm"]
            rerun = {"requests": r["requests"], "tokens": r["prompt_tokens"] + r["completion_tokens"],
                     "cost_usd": r["cost_usd"], "cached": json.loads(out)["llm_cached"], "wall_s": wall2}
            print("llm re-run:", rerun)
            assert rerun["requests"] == 0 and rerun["cost_usd"] == 0, "a re-run must cost nothing"
    finally:
        fake.kill()

    ideal = a.llm_posts / a.concurrency * a.latency_ms / 1000
    section = f"""{SECTION}

Command: `cargo build -p harbor -p harbor-testkit --bins && python3 bench/score_bench.py`
(debug profile of this repository: dependencies at opt-level 3, our crates at opt-level 1; 2 shared cores).

| what | result |
|---|---|
| heuristic, {heur['posts']:,} posts, scorer alone | {heur['scorer_pps']:,.0f} posts/s ({heur['scorer_s']:.2f} s) |
| heuristic, end to end (`harbor score`: read from DuckDB, score, load results) | {heur['e2e_pps']:,.0f} posts/s ({heur['wall_s']:.2f} s) |
| LLM (fake, {a.latency_ms} ms per answer, concurrency {a.concurrency}), {first['posts']:,} posts | {first['wall_s']:.1f} s wall ({first['scorer_s']:.1f} s scoring; ideal {ideal:.1f} s), {first['requests']} requests, {first['failed']} failed |
| tokens per post | {first['tokens_per_post']:.0f} ({first['prompt_tokens_per_post']:.0f} prompt + {first['completion_tokens_per_post']:.0f} completion, as the fake counts: 4 characters a token) |
| cost per 1,000 posts at anthropic/claude-haiku-4.5 ($1 / $5 per million input / output tokens) | ${first['cost_per_1000']:.2f} |
| re-run over the same posts | {rerun['requests']} requests, {rerun['tokens']} tokens, ${rerun['cost_usd']:.2f} ({rerun['cached']:,} cached, {rerun['wall_s']:.1f} s) |

Price source: OpenRouter lists provider prices unchanged; Anthropic's list price for Claude Haiku 4.5 is
$1 per million input and $5 per million output tokens (e.g. https://hivebook.wiki/wiki/claude-haiku-4-5-anthropic-s-fast-tier,
https://www.aigateway.sh/models/anthropic/claude-haiku-4.5 for the `anthropic/claude-haiku-4.5` id). The
token counts come from the fake's `usage`; a real tokenizer counts English at about the same 4 characters
per token, so the cost line is an estimate of the real bill for these prompts.
"""
    write_section(section)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
