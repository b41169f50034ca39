#!/usr/bin/env python3
"""Destination benchmark (issue 5): Postgres against dlt 1.31, and Parquet write throughput.

One run does everything, on this machine, with nothing cached between the tools:
  1. generates 100,000 submissions (and the 105,000-row file for the 5% incremental run) with
     ../shared/bench/gen_reddit.py, and a `zstd --long=31` dump of the 100,000-row file;
  2. starts one throwaway PostgreSQL cluster (Debian's `initdb`/`pg_ctl`, a free 127.0.0.1 port, fsync
     on, default settings otherwise) with one database per tool;
  3. Postgres: `harbor load` of the 100k file then the 105k file into one pipeline (merge on `id`), and
     dlt 1.31 with its default Postgres loader (`insert_values`) doing the same with the same pipeline
     (../shared/bench/dlt_load.py --destination postgres);
  4. Parquet: `harbor load` of the same two files into `parquet:///dir`, and `harbor ingest` of the plain
     NDJSON file and of the zstd dump into `parquet:///dir`;
  5. writes bench/RESULTS.md (section "Postgres and Parquet destinations (issue 5)").

Wall time and peak RSS are measured from outside each process (GNU time); the Postgres server's own
memory is not in either tool's figure (same server for both). MB/s are megabytes (10^6) of uncompressed
NDJSON input per second of wall time; "written MB" is the size of the Parquet files. Usage:

  python3 bench/pg_bench.py [--rows 100000] [--harbor PATH] [--skip-dlt]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import DATA, SHARED, measure, sh, venv_python, write_section
PG_BIN = Path(os.environ.get("HARBOR_PG_BIN", "/usr/lib/postgresql/15/bin"))
SECTION = "## Postgres and Parquet destinations (issue 5)"


def generate(rows):
    DATA.mkdir(parents=True, exist_ok=True)
    out = {}
    for n in (rows, rows + rows // 20):
        path = DATA / f"submissions_{n}.ndjson"
        if not path.exists():
            sh([sys.executable, str(SHARED / "gen_reddit.py"), "--submissions", str(n), "--comments", "0",
                "--out", str(DATA)], stdout=subprocess.DEVNULL)
        out[n] = path
    dump = DATA / f"RS_bench_{rows}.zst"
    if not dump.exists():
        sh(["zstd", "-q", "-f", "--long=31", "-3", str(out[rows]), "-o", str(dump)])
    out["dump"] = dump
    return out


class Cluster:
    """A throwaway PostgreSQL cluster run as the `postgres` user (the server refuses root)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="harbor-bench-pg-"))
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.as_pg = os.geteuid() == 0
        if self.as_pg:
            sh(["chown", "-R", "postgres:postgres", str(self.dir)])
        self.run(["initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
        self.run(["pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", opts, "-w", "start"])

    def run(self, args):
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_pg:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        sh(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def psql(self, db, sql):
        cmd = [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-h", str(self.dir), "-p", str(self.port),
               "-U", "postgres", "-d", db, "-c", sql]
        if self.as_pg:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    def url(self, db, scheme="postgres"):
        # Trust authentication ignores the password; dlt insists on one.
        return f"{scheme}://postgres:bench@127.0.0.1:{self.port}/{db}"

    def stop(self):
        try:
            self.run(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def harbor(harbor_bin, args, workdir):
    env = dict(os.environ, NO_COLOR="1")
    cmd = [harbor_bin, *args, "--workdir", str(workdir / ".harbor"), "--json"]
    secs, rss, out, _, _ = measure(cmd, env)
    return secs, rss, json.loads(out)


def dir_mb(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*.parquet")) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--harbor", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/harbor-target")) / "debug/harbor"))
    ap.add_argument("--skip-dlt", action="store_true")
    a = ap.parse_args()
    files = generate(a.rows)
    first, second, dump = files[a.rows], files[a.rows + a.rows // 20], files["dump"]
    new_rows = a.rows // 20
    mb_first = first.stat().st_size / 1e6
    py = venv_python()
    runs = DATA / "runs_issue5"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    load_before = os.getloadavg()
    pg = Cluster()
    pg_rows, notes = [], []
    try:
        for db in ("harbor", "dlt"):
            pg.psql("postgres", f"CREATE DATABASE {db}")
        url = pg.url("harbor") + "?sslmode=disable"
        hw = runs / "harbor_pg"
        hw.mkdir()
        h1 = harbor(a.harbor, ["load", str(first), "--table", "submissions", "-d", url], hw)
        h2 = harbor(a.harbor, ["load", str(second), "--table", "submissions", "-d", url], hw)
        hcount = pg.psql("harbor", "SELECT count(*) FROM submissions")
        htables = pg.psql("harbor", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_harbor%'")
        if a.skip_dlt:
            d1 = d2 = None
        else:
            dw = runs / "dlt_pg"
            cmd = [py, str(SHARED / "dlt_load.py"), "", "--table", "submissions", "--destination", "postgres",
                   "--pg", pg.url("dlt", "postgresql"), "--workdir", str(dw)]
            d1 = measure([*cmd[:2], str(first), *cmd[3:]])
            d2 = measure([*cmd[:2], str(second), *cmd[3:]])
            dcount = pg.psql("dlt", "SELECT count(*) FROM reddit.submissions")
            dtables = pg.psql("dlt", "SELECT count(*) FROM pg_tables WHERE schemaname = 'reddit' AND tablename NOT LIKE '\\_dlt%'")
            notes.append(f"- rows in `submissions` after both runs: harbor {hcount}, dlt {dcount}; data tables: harbor {htables}, dlt {dtables}.")
            loader = json.loads(d1[2].strip().splitlines()[-1])["loader_format"]
            notes.append(f"- dlt loader file format: {loader} (dlt's default for Postgres: `insert_values`).")
        pg_rows.append((f"{a.rows:,} submissions -> Postgres", a.rows, h1, d1))
        pg_rows.append((f"+5% submissions (second run, {new_rows:,} new of {a.rows + new_rows:,})", new_rows, h2, d2))
    finally:
        pg.stop()

    pq_rows = []
    lake = runs / "lake"
    pw = runs / "harbor_pq"
    pw.mkdir()
    p1 = harbor(a.harbor, ["load", str(first), "--table", "submissions", "-d", f"parquet://{lake}"], pw)
    w1 = dir_mb(lake)
    p2 = harbor(a.harbor, ["load", str(second), "--table", "submissions", "-d", f"parquet://{lake}"], pw)
    pq_rows.append((f"harbor load {a.rows:,} submissions -> Parquet", a.rows, mb_first, p1, w1))
    pq_rows.append((f"harbor load +5% (second run, {new_rows:,} new)", new_rows, second.stat().st_size / 1e6, p2, dir_mb(lake) - w1))
    for label, src in (("plain NDJSON", first), ("zstd --long=31 dump", dump)):
        out = runs / f"ingest_{src.suffix[1:]}"
        iw = runs / f"ingest_w_{src.suffix[1:]}"
        iw.mkdir()
        cmd = ["ingest", str(src), "-d", f"parquet://{out}", "--progress", "none"]
        r = harbor(a.harbor, cmd, iw)
        pq_rows.append((f"harbor ingest {label} -> Parquet", a.rows, mb_first, r, dir_mb(out)))
    load_after = os.getloadavg()
    write_results(pg_rows, pq_rows, notes, a, mb_first, load_before, load_after)


def write_results(pg_rows, pq_rows, notes, a, mb, before, after):
    lines = [SECTION, "",
             f"Command: `python3 bench/pg_bench.py --rows {a.rows} --harbor {a.harbor}` (one run, same machine, "
             "same files, one throwaway PostgreSQL 15 cluster for both tools; wall time and peak RSS of each whole "
             f"process from GNU time). Input: {mb:,.0f} MB of NDJSON for {a.rows:,} submissions. Load average "
             f"(1/5/15 min) before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, after: "
             f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f}.", "",
             "| Postgres | rows | harbor s | harbor rows/s | harbor peak RSS MB | dlt s | dlt rows/s | dlt peak RSS MB | speed x dlt | RSS / dlt |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, n, h, d in pg_rows:
        if d is None:
            lines.append(f"| {label} | {n:,} | {h[0]:.2f} | {n / h[0]:,.0f} | {h[1]:.0f} | | | | | |")
            continue
        lines.append(f"| {label} | {n:,} | {h[0]:.2f} | {n / h[0]:,.0f} | {h[1]:.0f} | {d[0]:.2f} | {n / d[0]:,.0f} | "
                     f"{d[1]:.0f} | {d[0] / h[0]:.1f}x | {h[1] / d[1]:.2f} |")
    lines += ["", "| Parquet | rows | s | rows/s | input MB/s | written MB | written MB/s | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|"]
    for label, n, in_mb, r, out_mb in pq_rows:
        lines.append(f"| {label} | {n:,} | {r[0]:.2f} | {n / r[0]:,.0f} | {in_mb / r[0]:.1f} | {out_mb:.1f} | "
                     f"{out_mb / r[0]:.1f} | {r[1]:.0f} |")
    lines += ["", *notes, ""]
    write_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
