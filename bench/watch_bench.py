#!/usr/bin/env python3
"""Issue 17 benchmark: `harbor watch` against a PRAW stream, on 50 live subreddits at 100 calls a minute.

The fake Reddit (`fake-reddit --stream`) makes posts and comments appear at set rates (a Poisson
process per subreddit and kind, seeded) on 50 subreddits: 3 busy ones (several posts and tens of
comments a minute), 7 medium ones, 40 quiet ones (a post an hour or less), and limits every client
to 100 calls per minute with Reddit's X-Ratelimit-* headers. Each run gets a fresh fake with the
same seed and rates, so both clients see the same arrival process:

  1. `harbor watch` (optimized build, --budget 100%, into DuckDB) for --minutes plus a drain
     minute; the delay of an item is from the moment it became visible to the commit of the load
     that stored it (the `at` of the `--json` commit line that names it, printed when the load
     transaction has committed). At the end every appeared item is checked in DuckDB exactly once.
  2. PRAW 7 (bench/praw_stream.py in a virtualenv under /root/.cache): stream.submissions() and
     stream.comments() per subreddit, pause_after=-1, round-robin in one process, PRAW's own rate
     limiting; the delay is to the moment PRAW yields the item (favourable to PRAW: no storage).

Items counted: those that appeared during the first --minutes (the clients run two more minutes, with
the stream still going, so the last ones can be collected). Missed: counted items a client never
delivered by the end. Calls per new item: listing calls the fake served over the client's whole run, divided by
the items that appeared in that time; the bound is one call per 100 new items (a full page).

Usage:
  python3 bench/watch_bench.py --harbor /tmp/h17/harbor --fake /tmp/h17/fake-reddit [--minutes 10]
      [--seed 17] [--only watch|praw] [--work /tmp/h17/watch-bench] [--no-write]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchlib import sh, write_section

PRAW_VENV = Path("/root/.cache/harbor-praw-venv")
DRAIN_SECS = 120
LIMIT = "100/60"


def rates():
    """50 subreddits: (name, class, posts per minute, comments per minute)."""
    subs = [("busy0", "busy", 6.0, 50.0), ("busy1", "busy", 4.0, 35.0), ("busy2", "busy", 3.0, 25.0)]
    subs += [(f"medium{i}", "medium", 0.5, 3.0) for i in range(7)]
    # Half the quiet ones get a post an hour, the other half one every three hours.
    subs += [(f"quiet{i}", "quiet", 1 / 60 if i % 2 == 0 else 1 / 180, 0.1 if i % 2 == 0 else 0.03)
             for i in range(40)]
    return subs


def praw_python():
    py = PRAW_VENV / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(PRAW_VENV)])
    if subprocess.run([str(py), "-c", "import praw, duckdb"], capture_output=True).returncode != 0:
        sh([str(py), "-m", "pip", "install", "-q", "praw>=7,<8", "duckdb"])
    return str(py)


class Fake:
    """A fresh fake-reddit process with the live stream; stopped by stop()."""

    def __init__(self, binary, work, subs, seed):
        work.mkdir(parents=True, exist_ok=True)
        spec = [{"subreddit": n, "posts_per_minute": p, "comments_per_minute": c} for n, _, p, c in subs]
        (work / "rates.json").write_text(json.dumps(spec))
        self.appearances = work / "appearances.jsonl"
        self.appearances.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--subreddits", ",".join(n for n, *_ in subs), "--posts", "10", "--seed", str(seed),
             "--rate-limit", LIMIT, "--stream", str(work / "rates.json"), "--appearances", str(self.appearances)],
            stdout=subprocess.PIPE, text=True)
        self.env = {}
        while len(self.env) < 5:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("fake-reddit exited before printing its address")
            k, v = line.strip().split("=", 1)
            self.env[k] = v
        self.started = time.time()

    def stats(self):
        with urllib.request.urlopen(self.env["HARBOR_REDDIT_API_URL"] + "/_fake/stats") as r:
            return json.load(r)

    def appeared(self):
        time.sleep(0.5)  # the log is written a few times a second
        return [json.loads(l) for l in self.appearances.read_text().splitlines() if l.strip()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def run_watch(harbor, fake, subs, work, seconds, budget):
    db_dir = work / "harbor"
    shutil.rmtree(db_dir, ignore_errors=True)
    db_dir.mkdir(parents=True)
    env = dict(os.environ, NO_COLOR="1", REDDIT_USER_AGENT="bench:harbor-watch:0.1 (by /u/bench)", **fake.env)
    for k in ("REDDIT_USERNAME", "REDDIT_PASSWORD", "REDDIT_REFRESH_TOKEN", "HARBOR_DESTINATION"):
        env.pop(k, None)
    cmd = [harbor, "watch", "--subreddits", ",".join(n for n, *_ in subs), "--budget", budget,
           "--json", "--duration", str(seconds)]
    log = open(work / "watch.stderr", "w")
    p = subprocess.run(cmd, cwd=db_dir, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    if p.returncode != 0:
        raise SystemExit(f"harbor watch failed ({p.returncode}); see {work / 'watch.stderr'}")
    delivered = {}
    for line in p.stdout.splitlines():
        v = json.loads(line)
        for name in v["items"]:
            if name in delivered:
                raise SystemExit(f"{name} committed twice")
            delivered[name] = v["at"]
    return delivered, db_dir / "harbor.duckdb"


def check_stored(db, appeared):
    """Every appeared item is in DuckDB exactly once."""
    code = ("import duckdb,sys,json; c=duckdb.connect(sys.argv[1], read_only=True); "
            "print(json.dumps([r[0] for t,p in (('submissions','t3_'),('comments','t1_')) "
            "for r in c.execute(f\"SELECT '{p}' || id FROM {t}\").fetchall()]))")
    out = subprocess.run([praw_python(), "-c", code, str(db)], capture_output=True, text=True, check=True).stdout
    stored = json.loads(out)
    dups = len(stored) - len(set(stored))
    missing = [a["fullname"] for a in appeared if a["fullname"] not in set(stored)]
    return dups, missing


def run_praw(fake, subs, work, seconds):
    e = fake.env
    cmd = [praw_python(), str(Path(__file__).with_name("praw_stream.py")), e["HARBOR_REDDIT_API_URL"],
           e["REDDIT_CLIENT_ID"], e["REDDIT_CLIENT_SECRET"], str(seconds), *(n for n, *_ in subs)]
    log = open(work / "praw.stderr", "w")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    if p.returncode != 0:
        raise SystemExit(f"the PRAW stream failed ({p.returncode}); see {work / 'praw.stderr'}")
    delivered, version = {}, "?"
    for line in p.stdout.splitlines():
        v = json.loads(line)
        if v.get("event") == "done":
            version = v["praw"]
        else:
            delivered.setdefault(v["fullname"], v["at"])
    return delivered, version


def quantile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * q))]


def figures(name, subs, fake, delivered, window_end):
    appeared = fake.appeared()
    stats = fake.stats()
    cls = {n: c for n, c, *_ in subs}
    counted = [a for a in appeared if a["at"] < window_end]
    rows = {}
    for group in ("busy", "medium", "quiet", "all"):
        items = [a for a in counted if group == "all" or cls[a["subreddit"]] == group]
        delays = [delivered[a["fullname"]] - a["at"] for a in items if a["fullname"] in delivered]
        rows[group] = {"items": len(items), "missed": len(items) - len(delays),
                       "p50": quantile(delays, 0.5), "p99": quantile(delays, 0.99),
                       "max": max(delays, default=float("nan"))}
    per_sub = {}
    for n, *_ in subs:
        d = [delivered[a["fullname"]] - a["at"] for a in counted if a["subreddit"] == n and a["fullname"] in delivered]
        if d:
            per_sub[n] = quantile(d, 0.99)
    listing = stats["counts"].get("listing", 0)
    rows["calls"] = {"listing": listing, "all_api": sum(v for k, v in stats["counts"].items() if k != "token"),
                     "appeared_in_run": len(appeared), "per_item": listing / max(1, len(appeared)),
                     "bound_per_item": 0.01, "rate_limited": stats["rate_limited_sent"]}
    rows["worst_sub_p99"] = max(per_sub.items(), key=lambda kv: kv[1])
    print(f"{name}: {json.dumps(rows)}", flush=True)
    return rows, appeared


def table(results):
    lines = ["| client | class | items | missed | delay p50 (s) | delay p99 (s) | max (s) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, rows in results.items():
        for group in ("busy", "medium", "quiet", "all"):
            r = rows[group]
            lines.append(f"| {name} | {group} | {r['items']} | {r['missed']} | {r['p50']:.1f} | {r['p99']:.1f} "
                         f"| {r['max']:.1f} |")
    lines += ["", "| client | listing calls | items appeared in the run | calls per new item | bound (1 per 100) "
              "| 429s | worst subreddit p99 (s) |", "|---|---:|---:|---:|---:|---:|---|"]
    for name, rows in results.items():
        c = rows["calls"]
        w = rows["worst_sub_p99"]
        lines.append(f"| {name} | {c['listing']} | {c['appeared_in_run']} | {c['per_item']:.3f} | 0.010 "
                     f"| {c['rate_limited']} | {w[0]}: {w[1]:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--harbor", required=True, help="optimized harbor binary (a copy)")
    ap.add_argument("--fake", required=True, help="fake-reddit binary")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--only", choices=["watch", "praw"])
    ap.add_argument("--budget", default="100%", help="harbor watch --budget")
    ap.add_argument("--work", default="/tmp/h17/watch-bench")
    ap.add_argument("--no-write", action="store_true", help="print, do not write bench/RESULTS.md")
    a = ap.parse_args()
    work = Path(a.work)
    subs = rates()
    seconds = a.minutes * 60
    results, praw_version = {}, None
    if a.only in (None, "watch"):
        fake = Fake(a.fake, work, subs, a.seed)
        try:
            delivered, db = run_watch(a.harbor, fake, subs, work, seconds + DRAIN_SECS, a.budget)
            rows, appeared = figures("harbor watch", subs, fake, delivered, fake.started + seconds)
            dups, missing = check_stored(db, [x for x in appeared if x["fullname"] in delivered])
            if dups or missing:
                raise SystemExit(f"DuckDB: {dups} duplicate rows, committed but not stored: {missing[:10]}")
            results["harbor watch"] = rows
        finally:
            fake.stop()
    if a.only in (None, "praw"):
        fake = Fake(a.fake, work, subs, a.seed)
        try:
            delivered, praw_version = run_praw(fake, subs, work, seconds + DRAIN_SECS)
            rows, _ = figures(f"PRAW {praw_version}", subs, fake, delivered, fake.started + seconds)
            results[f"PRAW {praw_version}"] = rows
        finally:
            fake.stop()
    text = table(results)
    print(text)
    if a.no_write:
        return
    busy = sum(1 for s in subs if s[1] == "busy")
    medium = sum(1 for s in subs if s[1] == "medium")
    section = f"""## Real-time watch (issue 17)

{len(subs)} subreddits on the fake Reddit with a live stream (`fake-reddit --stream`, seed {a.seed}): {busy} busy
(6/4/3 posts and 50/35/25 comments a minute), {medium} medium (0.5 posts, 3 comments a minute), {len(subs) - busy - medium}
quiet (a post an hour or every three hours, 0.1 or 0.03 comments a minute); the fake allows {LIMIT.replace('/', ' calls per ')} s
with Reddit's X-Ratelimit-* headers. {a.minutes:g} minutes counted, plus {DRAIN_SECS} s for the last items; a fresh fake
with the same seed per client. `harbor watch`: delay from appearance to the commit of the load that stored it
(DuckDB, checked exactly once); PRAW: delay to the yield (no storage).

```
python3 bench/watch_bench.py --harbor /tmp/h17/harbor --fake /tmp/h17/fake-reddit --minutes {a.minutes:g} --seed {a.seed} --budget {a.budget}
```

{text}
"""
    write_section(section)


if __name__ == "__main__":
    main()
