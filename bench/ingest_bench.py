#!/usr/bin/env python3
"""Dump ingestion benchmark: `harbor ingest` on a `zstd --long=31` dump against three baselines.

One run does everything, on this machine, with nothing cached between the tools:
  1. generates N submissions (default 270,000, about 1.05 GB of NDJSON) with ../shared/bench/gen_reddit.py and
     compresses them like the Pushshift / Arctic Shift dumps: `zstd --long=31` -> RS_bench.zst;
  2. `harbor ingest RS_bench.zst` into DuckDB, and into Parquet when that destination is built; also a
     quarter-size dump into DuckDB, to show that peak memory does not grow with the file;
  3. baselines: a straightforward Python reader (zstandard with a 2 GiB window + orjson, writing one NDJSON
     row per record), DuckDB's `read_ndjson` on the decompressed file (DuckDB cannot open `--long=31` files
     itself), and dlt 1.31 loading the decompressed file into DuckDB (`--loader-format jsonl`);
  4. writes bench/RESULTS.md (section "Dump ingestion").

MB/s are megabytes (10^6) of uncompressed NDJSON per second of wall time; wall time and peak RSS are measured
from outside each process (GNU time). Usage:

  python3 bench/ingest_bench.py [--rows 270000] [--harbor PATH] [--data DIR] [--skip-dlt]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchlib import ROOT, SHARED, measure, sh, venv_python, write_section

PY_READER = r"""
import sys, zstandard, orjson
src, dst = sys.argv[1], sys.argv[2]
n = 0
with open(src, "rb") as f, open(dst, "wb") as out:
    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(f, read_size=1 << 20)
    rest = b""
    while True:
        chunk = reader.read(1 << 22)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line.strip():
                out.write(orjson.dumps(orjson.loads(line)) + b"\n")
                n += 1
    if rest.strip():
        out.write(orjson.dumps(orjson.loads(rest)) + b"\n")
        n += 1
print(n)
"""

DUCKDB_READ = ("import duckdb,sys; c=duckdb.connect(sys.argv[1]); c.execute(\"SET enable_progress_bar=false\"); "
               "c.execute(\"CREATE TABLE t AS SELECT * FROM read_ndjson(?, maximum_object_size=100000000)\", [sys.argv[2]]); "
               "print(c.execute('select count(*) from t').fetchone()[0])")


def generate(data, rows):
    data.mkdir(parents=True, exist_ok=True)
    plain = data / f"submissions_{rows}.ndjson"
    if not plain.exists():
        sh([sys.executable, str(SHARED / "gen_reddit.py"), "--submissions", str(rows), "--comments", "0",
            "--out", str(data)], stdout=subprocess.DEVNULL)
    dump = data / f"RS_bench_{rows}.zst"
    if not dump.exists():
        sh(["zstd", "-q", "-f", "--long=31", "-T0", str(plain), "-o", str(dump)])
    quarter = data / f"RS_bench_{rows}_quarter.zst"
    if not quarter.exists():
        with open(plain, "rb") as f, open(data / "quarter.ndjson", "wb") as out:
            for i, line in enumerate(f):
                if i >= rows // 4:
                    break
                out.write(line)
        sh(["zstd", "-q", "-f", "--long=31", "-T0", str(data / "quarter.ndjson"), "-o", str(quarter)])
        (data / "quarter.ndjson").unlink()
    return plain, dump, quarter


def harbor_ingest(harbor, workdir, dump, destination):
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, NO_COLOR="1")
    cmd = [harbor, "ingest", str(dump), "--destination", destination, "--workdir", str(workdir / ".harbor"),
           "--progress", "none", "--json"]
    secs, rss, out, ok, err = measure(cmd, env, allow_fail=True)
    if not ok:
        msg = [l for l in err.splitlines() if l.startswith("error:")] or err.strip().splitlines()[:1] or ["failed"]
        return None, msg
    return (secs, rss, json.loads(out)), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=270_000)
    ap.add_argument("--harbor", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/harbor-target")) / "debug/harbor"),
                    help="build it with CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build -p harbor (our crates optimized too)")
    ap.add_argument("--data", default=str(ROOT / "bench" / "data"))
    ap.add_argument("--venv", default=str(ROOT / "bench" / ".venv"))
    ap.add_argument("--skip-dlt", action="store_true")
    a = ap.parse_args()
    data = Path(a.data)
    plain, dump, quarter = generate(data, a.rows)
    mb = plain.stat().st_size / 1e6
    py = venv_python(Path(a.venv))
    runs = data / "ingest_runs"
    shutil.rmtree(runs, ignore_errors=True)
    rows = []  # (label, records, secs, rss, note)
    notes = []

    h, err = harbor_ingest(a.harbor, runs / "duckdb", dump, f"duckdb://{runs / 'duckdb' / 'harbor.duckdb'}")
    if h is None:
        raise SystemExit(f"harbor ingest into DuckDB failed: {err}")
    kept = h[2]["kept"]
    rows.append(("harbor ingest RS.zst -> DuckDB", kept, h[0], h[1], f"{h[2]['packages']} packages"))
    p, err = harbor_ingest(a.harbor, runs / "parquet", dump, f"parquet://{runs / 'parquet' / 'out'}")
    if p is None:
        notes.append(f"- Parquet: not measured, the destination is not on main yet (`{' '.join(err)}`).")
    else:
        rows.append(("harbor ingest RS.zst -> Parquet", p[2]["kept"], p[0], p[1], f"{p[2]['packages']} packages"))
    q, _ = harbor_ingest(a.harbor, runs / "quarter", quarter, f"duckdb://{runs / 'quarter' / 'harbor.duckdb'}")
    if q is not None:
        rows.append(("harbor ingest, quarter-size dump -> DuckDB (memory check)", q[2]["kept"], q[0], q[1],
                     f"{q[2]['bytes'] / 1e6:.0f} MB"))
    secs, rss, out, _, _ = measure([py, "-c", PY_READER, str(dump), str(runs / "py_rows.ndjson")])
    rows.append(("Python zstandard + orjson reader, writes NDJSON rows", int(out.strip().splitlines()[-1]), secs, rss, ""))
    (runs / "py_rows.ndjson").unlink(missing_ok=True)
    secs, rss, out, _, _ = measure([py, "-c", DUCKDB_READ, str(runs / "ref.duckdb"), str(plain)])
    rows.append(("DuckDB read_ndjson on the decompressed file -> table", int(out.strip().splitlines()[-1]), secs, rss, "no merge, no state"))
    fail = measure([py, "-c", "import duckdb,sys; duckdb.sql(\"select count(*) from read_ndjson(?)\", params=[sys.argv[1]]).fetchall()",
                    str(dump)], allow_fail=True)
    if not fail[3]:
        msg = next((l for l in fail[4].splitlines() if "Frame" in l or "Error" in l), "failed")
        notes.append(f"- DuckDB on the `--long=31` file itself: `{msg.strip()[:160]}`.")
    if not a.skip_dlt:
        dw = runs / "dlt"
        cmd = [py, str(SHARED / "dlt_load.py"), str(plain), "--table", "submissions", "--workdir", str(dw),
               "--loader-format", "jsonl"]
        secs, rss, out, _, _ = measure(cmd)
        res = json.loads(out.strip().splitlines()[-1])
        rows.append(("dlt 1.31 on the decompressed file -> DuckDB (jsonl loader)", res["rows_loaded"], secs, rss, "merge on id"))
    write_results(rows, notes, a, mb, dump, kept)


def write_results(rows, notes, a, mb, dump, kept):
    lines = ["## Dump ingestion (issue 6)", "",
             f"Command: `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build -p harbor && python3 bench/ingest_bench.py --rows {a.rows}` "
             "(dev profile with every crate at opt-level 3: a release build would recompile DuckDB; one run, same machine, same files). Input: {a.rows:,} generated submissions, {mb:,.0f} MB of NDJSON, "
             f"{dump.stat().st_size / 1e6:,.0f} MB as `zstd --long=31`. MB/s = uncompressed MB per second of wall time; "
             "wall time and peak RSS of each whole process from GNU time.", "",
             "| case | records | s | MB/s | rows/s | peak RSS MB | note |", "|---|---|---|---|---|---|---|"]
    dlt_rate = None
    for label, n, secs, rss, note in rows:
        size = mb if "quarter" not in label else mb / 4
        lines.append(f"| {label} | {n:,} | {secs:.1f} | {size / secs:.0f} | {n / secs:,.0f} | {rss:.0f} | {note} |")
        if label.startswith("dlt"):
            dlt_rate = n / secs
    if dlt_rate:
        for label, n, secs, _, _ in rows:
            if label.startswith("harbor ingest RS.zst"):
                notes.append(f"- {label}: {n / secs / dlt_rate:.1f}x dlt's rows/s.")
    lines += ["", *notes, ""]
    write_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
