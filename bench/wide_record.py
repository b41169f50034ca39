#!/usr/bin/env python3
"""Peak memory of `harbor load` for one very wide record (issue 18).

Writes two one-record files: 20,000 top-level keys, and an object keyed by 20,000 ids. Loads each
into a fresh destination of every kind given and reports wall time and peak RSS (GNU time).

    python3 bench/wide_record.py --harbor target/bench/harbor [--postgres postgres://...]
"""

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path


def records(keys):
    wide = {"id": "w1", "title": "wide"}
    wide.update({f"field_{i:05}": f"value-{i}" for i in range(keys)})
    ids = {"id": "w2", "title": "ids", "votes": {f"t3_{i:x}z": {"up": i} for i in range(keys)}}
    return {"top-level keys": wide, "id-keyed object": ids}


def measure(harbor, file, dest, workdir):
    cmd = ["/usr/bin/time", "-v", harbor, "load", "-t", "submissions", str(file), "-d", dest,
           "--workdir", str(workdir)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", out.stderr).group(1)
    return rss / 1024, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--harbor", required=True, help="the harbor binary (an optimized build)")
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--postgres", help="an empty Postgres database URL to include Postgres")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"| record | destination | wall | peak RSS |\n|---|---|---|---|")
        for n, (what, rec) in enumerate(records(args.keys).items()):
            file = tmp / f"r{n}.ndjson"
            file.write_text(json.dumps(rec) + "\n")
            dests = {"duckdb": f"duckdb://{tmp}/r{n}.duckdb", "parquet": f"parquet://{tmp}/lake{n}"}
            if args.postgres:
                sep = "&" if "?" in args.postgres else "?"
                dests["postgres"] = f"{args.postgres}{sep}schema=wide{n}"
            for kind, dest in dests.items():
                rss, wall = measure(args.harbor, file, dest, tmp / f"work-{kind}-{n}")
                print(f"| {args.keys:,} {what} | {kind} | {wall} | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
