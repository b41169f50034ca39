#!/usr/bin/env python3
"""Side-by-side load benchmark: `harbor load` against dlt 1.31 on the same generated Reddit data.

One run does everything, on this machine, with nothing cached between the tools:
  1. generates 100,000 submissions and 100,000 comments (and 105,000-row files for the 5% incremental run)
     with ../shared/bench/gen_reddit.py;
  2. for each kind: loads the 100k file with harbor and with dlt (`--loader-format jsonl`, dlt's fastest
     DuckDB path), then the 105k file into the same pipeline (5% new rows, incremental / merge);
  3. loads the 100k file with DuckDB's own `read_ndjson` into a table, as a reference line (no merge, no
     state, nested data kept as STRUCT/LIST);
  4. compares column sets and `edited` values between harbor's and dlt's tables;
  5. writes bench/RESULTS.md (section "Load into DuckDB").

Wall time and peak RSS are measured from outside each process (GNU time). Usage:

  python3 bench/load_bench.py [--rows 100000] [--harbor target/debug/harbor] [--skip-dlt]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchlib import DATA, SHARED, measure, sh, venv_python, write_section


def generate(rows):
    DATA.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind in ("submissions", "comments"):
        for n in (rows, rows + rows // 20):
            path = DATA / f"{kind}_{n}.ndjson"
            if not path.exists():
                args = ["--submissions", str(n), "--comments", "0"] if kind == "submissions" else \
                       ["--submissions", "0", "--comments", str(n)]
                sh([sys.executable, str(SHARED / "gen_reddit.py"), *args, "--out", str(DATA)], stdout=subprocess.DEVNULL)
            out[(kind, n)] = path
    return out


def harbor_run(harbor, workdir, path, table):
    db = workdir / "harbor.duckdb"
    env = dict(os.environ, NO_COLOR="1")
    cmd = [harbor, "load", str(path), "--table", table, "--destination", f"duckdb://{db}",
           "--workdir", str(workdir / ".harbor"), "--json"]
    secs, rss, out, _, _ = measure(cmd, env)
    return secs, rss, json.loads(out)


def dlt_run(py, workdir, path, table):
    cmd = [py, str(SHARED / "dlt_load.py"), str(path), "--table", table, "--workdir", str(workdir),
           "--loader-format", "jsonl", "--schema-out", str(workdir / "schema.json")]
    secs, rss, out, _, _ = measure(cmd)
    return secs, rss, json.loads(out.strip().splitlines()[-1])


def duckdb_reference(py, workdir, path):
    code = ("import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
            "c.execute(\"CREATE TABLE t AS SELECT * FROM read_ndjson(?, maximum_object_size=100000000)\", [sys.argv[2]]); "
            "print(c.execute('select count(*) from t').fetchone()[0])")
    return measure([py, "-c", code, str(workdir / "ref.duckdb"), str(path)])[:3]


def harbor_columns(py, db):
    code = ("import duckdb,sys,json; c=duckdb.connect(sys.argv[1], read_only=True); "
            "print(json.dumps(c.execute(\"select table_name, column_name from information_schema.columns "
            "where table_name not like '\\\\_harbor\\\\_%' escape '\\\\'\").fetchall()))")
    out = subprocess.run([py, "-c", code, str(db)], capture_output=True, text=True, check=True).stdout
    cols = {}
    for t, c in json.loads(out):
        cols.setdefault(t, set()).add(c)
    return cols


def edited_check(py, hdb, ddb, table):
    """Counts rows whose edit time dlt lost (stored as true) and that harbor kept as a timestamp."""
    code = ("import duckdb,sys; h=duckdb.connect(sys.argv[1], read_only=True); d=duckdb.connect(sys.argv[2], read_only=True); "
            f"a=h.execute('select count(*) filter (where edited_at is not null), count(*) filter (where is_edited) from {table}').fetchone(); "
            f"b=d.execute(\"select count(*) filter (where edited) from reddit.{table}\").fetchone(); print(a[0], a[1], b[0])")
    out = subprocess.run([py, "-c", code, str(hdb), str(ddb)], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()[-300:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--harbor", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/harbor-target")) / "debug/harbor"))
    ap.add_argument("--skip-dlt", action="store_true")
    a = ap.parse_args()
    files = generate(a.rows)
    py = venv_python()
    runs = DATA / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    rows_out = []
    notes = []
    for kind in ("submissions", "comments"):
        hw, dw = runs / f"harbor_{kind}", runs / f"dlt_{kind}"
        hw.mkdir(parents=True)
        dw.mkdir(parents=True)
        first, second = files[(kind, a.rows)], files[(kind, a.rows + a.rows // 20)]
        h1 = harbor_run(a.harbor, hw, first, kind)
        h2 = harbor_run(a.harbor, hw, second, kind)
        if not a.skip_dlt:
            d1 = dlt_run(py, dw, first, kind)
            d2 = dlt_run(py, dw, second, kind)
        else:
            d1 = d2 = (float("nan"), float("nan"), {})
        ref = duckdb_reference(py, runs / f"harbor_{kind}", first)
        new_rows = a.rows // 20
        for label, h, d, n in ((f"{a.rows:,} {kind}", h1, d1, a.rows), (f"+5% {kind} (second run, {new_rows:,} new of {a.rows + new_rows:,})", h2, d2, new_rows)):
            rows_out.append((label, n, h, d))
        rows_out.append((f"{a.rows:,} {kind}, DuckDB read_ndjson reference", a.rows, ref, None))
        if not a.skip_dlt:
            hcols = harbor_columns(py, hw / "harbor.duckdb")
            dschema = json.loads((dw / "schema.json").read_text())
            dcols = {t: {c for c, _ in v["columns"] if not c.startswith("_dlt")} for t, v in dschema.items() if not t.startswith("_dlt")}
            mine = hcols.get(kind, set())
            missing = sorted(c for c in dcols.get(kind, set()) if c not in mine and c != "edited")
            notes.append(f"- {kind}: dlt has {len(dcols.get(kind, set()))} columns in `{kind}`, harbor {len(mine)}; "
                         f"dlt columns harbor lacks: {missing or 'none'} (dlt's `edited` is harbor's `is_edited` + `edited_at`); "
                         f"harbor columns dlt lacks: {len(mine - dcols.get(kind, set()))}.")
            notes.append(f"- {kind} `edited`: harbor rows with an edit time / edited, dlt rows edited=true: "
                         f"{edited_check(py, hw / 'harbor.duckdb', dw / 'bench.duckdb', kind)}")
    write_results(rows_out, notes, a)


def write_results(rows_out, notes, a):
    lines = ["## Load into DuckDB (issue 3)", "",
             f"Command: `python3 bench/load_bench.py --rows {a.rows}` (one run, same machine, same files; "
             "wall time and peak RSS of each whole process from GNU time).", "",
             "| case | rows | harbor s | harbor rows/s | harbor peak RSS MB | dlt s | dlt rows/s | dlt peak RSS MB | speed x dlt | RSS / dlt |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, n, h, d in rows_out:
        hs, hr = h[0], h[1]
        if d is None:
            lines.append(f"| {label} | {n:,} | {hs:.2f} | {n / hs:,.0f} | {hr:.0f} | | | | | |")
            continue
        ds, dr = d[0], d[1]
        lines.append(f"| {label} | {n:,} | {hs:.2f} | {n / hs:,.0f} | {hr:.0f} | {ds:.2f} | {n / ds:,.0f} | {dr:.0f} | "
                     f"{ds / hs:.1f}x | {hr / dr:.2f} |")
    lines += ["", *notes, ""]
    write_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
