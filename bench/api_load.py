#!/usr/bin/env python3
"""HTTP API benchmark of uncached answers (issue 15), on both destinations in one run.

On loopback, over 100,000 submissions (../shared/bench/gen_reddit.py) loaded with `harbor load` and
every post scored with `harbor score --all-posts` (100,000 opportunities), each case runs for 30 s
with 200 clients (wrk, 2 threads), and every request has its own filter, so no two requests share
an answer of the response cache:

  submissions    /api/v1/submissions?limit=50&subreddit=<one of 60>&until=<a second of the 3.5 days>
  opportunities  /api/v1/opportunities?limit=50&min_score=<0..40, 6 decimals>

against, side by side:
  harbor-duckdb   `harbor serve` on the DuckDB file;
  harbor-postgres `harbor serve -d postgres://...` on a throwaway PostgreSQL cluster (Debian's
                  server binaries, 127.0.0.1, max_connections 300, defaults otherwise);
  pgbench         `pgbench -c 200 -j 2 -T 30 -f <the SQL>` on the same database: the statement harbor's
                  server sends for the case (captured from the Postgres log while harbor answers), with
                  the same random filters; what the database itself can answer;
  fastapi         bench/fastapi_peer.py (FastAPI + asyncpg, uvicorn, 2 workers, pool 16 each) serving
                  the same statement and the same JSON; its answer is compared with harbor's.

Reports requests/s, p50/p99 latency, errors (non-2xx and socket errors; must be 0) and each server's
peak RSS (VmHWM), and writes the section "HTTP API, uncached, DuckDB and Postgres (issue 15)" of
bench/RESULTS.md. Bounded (wrk -d, pgbench -T, subprocess timeouts) and self-cleaning (servers
stopped, the cluster and --work removed unless --keep).

  python3 bench/api_load.py --harbor /tmp/harbor-h15 [--submissions 100000] [--seconds 30]
      [--connections 200] [--work /tmp/h15-api] [--only duckdb,postgres,pgbench,fastapi] [--no-record]

Needs wrk and PostgreSQL 15 (Debian packages); makes ~/.cache/harbor-fastapi-venv when missing.
Build harbor with `cargo build --profile optimized -p harbor` for numbers worth comparing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchlib import SHARED, sh, write_section
from pg_bench import PG_BIN, Cluster

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SECTION = "## HTTP API, uncached, DuckDB and Postgres (issue 15)"
VENV = Path.home() / ".cache" / "harbor-fastapi-venv"
SUBREDDITS = [f"{w}{k}" for k in ("", "dev", "news", "help") for w in (
    "programming", "rust", "python", "dataengineering", "worldnews", "pics", "gaming",
    "AskReddit", "science", "technology", "movies", "Music", "aww", "funny", "todayilearned")]
START_UTC = 1_700_000_000
SPAN = 300_000  # gen_reddit: created = START + 3 i (+0..2) for i < 100,000

LUA = {
    "submissions": """
local subs = {%(subs)s}
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) math.randomseed(os.time() * 1000 + wrk.thread:get("id")) end
request = function()
  local t = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", %(start)d + math.random(0, %(span)d))
  return wrk.format("GET", "/api/v1/submissions?limit=50&subreddit=" .. subs[math.random(1, #subs)] .. "&until=" .. t)
end
""",
    "opportunities": """
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) math.randomseed(os.time() * 1000 + wrk.thread:get("id")) end
request = function()
  return wrk.format("GET", string.format("/api/v1/opportunities?limit=50&min_score=%%.6f", math.random() * 40))
end
""",
}
CASES = ["submissions", "opportunities"]


def parse_wrk(text):
    def dur(s):
        m = re.match(r"([\d.]+)(us|ms|s|m)", s)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]

    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "p50_ms": dur(lat["50"]),
        "p99_ms": dur(lat["99"]),
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0),
    }


def wrk(url, token, case, a):
    script = a.work / f"{case}.lua"
    subs = ", ".join(f'"{s}"' for s in SUBREDDITS)
    script.write_text(LUA[case] % {"subs": subs, "start": START_UTC, "span": SPAN})
    cmd = ["wrk", "-t2", f"-c{a.connections}", f"-d{a.seconds}s", "--timeout", "10s", "--latency",
           "-H", f"Authorization: Bearer {token}", "-s", str(script), url]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=a.seconds + 60)
    return parse_wrk(p.stdout)


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024, 1)


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


class Harbor:
    """One project directory (workdir, tokens) on one destination."""

    def __init__(self, binary, work, dest):
        self.bin, self.work, self.dest = binary, work, dest
        work.mkdir(parents=True, exist_ok=True)

    def run(self, *args, timeout=1800):
        cmd = [self.bin, *args, "-d", self.dest, "--workdir", str(self.work / ".harbor")]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=self.work, timeout=timeout,
                           env=dict(os.environ, NO_COLOR="1"))
        if p.returncode != 0:
            raise SystemExit(f"harbor {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
        return p.stdout

    def serve(self, **env):
        cmd = [self.bin, "serve", "--bind", "127.0.0.1:0", "-d", self.dest, "--workdir", str(self.work / ".harbor")]
        proc = subprocess.Popen(cmd, cwd=self.work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, NO_COLOR="1", **env))
        url = proc.stdout.readline().decode().strip()
        if not url.startswith("http://"):
            proc.kill()
            raise SystemExit(f"harbor serve printed no URL: {url!r}")
        return proc, url


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def prepare(h, posts):
    t0 = time.perf_counter()
    h.run("load", str(posts))
    h.run("score", "--all-posts")
    token = h.run("token", "create", "--scope", "read", "--name", "bench").strip()
    return token, time.perf_counter() - t0


def without_reasons(page):
    """harbor's page without the evidence sentences (`reasons`), which the FastAPI peer leaves out."""
    for item in page.get("items", []):
        item.pop("reasons", None)
    return page


def capture_sql(pg, url, token):
    """The statements harbor's server sends for one request of each case, from the Postgres log
    (log_min_duration_statement = 0 for the moment of these two requests)."""
    pg.psql("bench", "ALTER SYSTEM SET log_min_duration_statement = 0")
    pg.psql("bench", "SELECT pg_reload_conf()")
    time.sleep(0.5)
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_UTC + SPAN // 2))
    probes = {
        "submissions": f"/api/v1/submissions?limit=50&subreddit=rust&until={until}",
        "opportunities": "/api/v1/opportunities?limit=50&min_score=12.5",
    }
    answers = {case: get(url + path, token) for case, path in probes.items()}
    pg.psql("bench", "ALTER SYSTEM RESET log_min_duration_statement")
    pg.psql("bench", "SELECT pg_reload_conf()")
    log = (pg.dir / "log").read_text(errors="replace")
    sql = {}
    for case, marker in (("submissions", "FROM submissions s WHERE"), ("opportunities", "FROM opportunity_analysis o")):
        found = [m.group(1) for m in re.finditer(r"(?:statement|execute [^:]*): (SELECT .*)$", log, re.M)
                 if marker in m.group(1) and "LIMIT" in m.group(1)]
        if not found:
            raise SystemExit(f"no {case} statement in the Postgres log")
        sql[case] = found[-1]
    return sql, probes, answers


def pgbench_script(case, sql):
    """The captured statement with pgbench variables for its parameters."""
    if case == "submissions":
        subs = ",".join(f"'{s}'" for s in SUBREDDITS)
        head = (f"\\set n random(1, {len(SUBREDDITS)})\n"
                f"\\set t random({START_UTC}, {START_UTC + SPAN})\n"
                "\\set us :t * 1000000\n")
        body = sql.replace("$1", f"(ARRAY[{subs}])[:n]").replace("$2", ":us")
    else:
        head = "\\set m random(0, 40000000)\n"
        body = sql.replace("$1", "(:m / 1000000.0)")
    return head + body + ";\n"


def pgbench(pg, case, sql, a):
    script = a.work / f"{case}.pgbench.sql"
    script.write_text(pgbench_script(case, sql))
    logs = a.work / f"pgbench_{case}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    if pg.as_pg:
        sh(["chown", "-R", "postgres", str(a.work)])
    cmd = [str(PG_BIN / "pgbench"), "-n", "-c", str(a.connections), "-j", "2", "-T", str(a.seconds), "-f", str(script),
           "-l", "--sampling-rate", "0.05", "--log-prefix", str(logs / "log"),
           "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "bench"]
    if pg.as_pg:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.seconds + 120, cwd=logs)
    if p.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{p.stderr[-3000:]}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", p.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", p.stdout)
    lat = []
    for f in logs.glob("log*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]) / 1000.0)
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 100 else [0.0] * 99
    done = int(re.search(r"number of transactions actually processed: (\d+)", p.stdout).group(1))
    return {"rps": tps, "requests": done, "p50_ms": q[49], "p99_ms": q[98],
            "errors": int(failed.group(1)) if failed else 0}


def fastapi_venv():
    py = VENV / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
    if subprocess.run([str(py), "-c", "import fastapi, uvicorn, asyncpg, orjson, uvloop, httptools"],
                      capture_output=True).returncode != 0:
        sh([str(py), "-m", "pip", "install", "-q", "fastapi", "uvicorn", "asyncpg", "orjson", "uvloop", "httptools"])
    return VENV / "bin"


def fastapi_peer(pg, sql, token, a):
    bin_dir = fastapi_venv()
    stmts = a.work / "peer_sql.json"
    stmts.write_text(json.dumps(sql))
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, PEER_DSN=pg.url("bench"), PEER_TOKEN=token, PEER_SQL=str(stmts), PEER_POOL="16")
    proc = subprocess.Popen([str(bin_dir / "uvicorn"), "fastapi_peer:app", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2", "--no-access-log", "--log-level", "warning"],
                            cwd=BENCH, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/docs", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise SystemExit("the FastAPI peer did not start")
    return proc, url


def tree_rss_mb(proc):
    """Peak RSS of a process and its children (uvicorn's workers), summed."""
    pids = [proc.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                        text=True).stdout.split()]
    return round(sum(peak_rss_mb(p) for p in pids), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harbor", required=True, help="the harbor binary (an optimized build)")
    ap.add_argument("--submissions", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--work", type=Path, default=Path("/tmp/h15-api"))
    ap.add_argument("--data", type=Path, help="the generated submissions file to use (default: made in --work)")
    ap.add_argument("--only", default="duckdb,postgres,pgbench,fastapi")
    ap.add_argument("--keep", action="store_true", help="keep --work (data, databases)")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    only = set(a.only.split(","))
    a.work.mkdir(parents=True, exist_ok=True)
    data = a.work / "data"
    posts = a.data or data / f"submissions_{a.submissions}.ndjson"
    if not posts.exists():
        sh([sys.executable, str(SHARED / "gen_reddit.py"), "--submissions", str(a.submissions), "--comments", "0",
            "--out", str(data)], stdout=subprocess.DEVNULL, timeout=900)
    results, rss, notes = {}, {}, []
    load_before = os.getloadavg()
    pg = None
    try:
        if "duckdb" in only:
            h = Harbor(a.harbor, a.work / "duck", f"duckdb://{a.work / 'duck' / 'harbor.duckdb'}")
            token, secs = prepare(h, posts)
            notes.append(f"DuckDB: load + score of {a.submissions:,} posts {secs:.0f} s")
            proc, url = h.serve()
            try:
                for case in CASES:
                    results[("harbor-duckdb", case)] = wrk(url, token, case, a)
                rss["harbor-duckdb"] = peak_rss_mb(proc.pid)
            finally:
                stop(proc)
        if only & {"postgres", "pgbench", "fastapi"}:
            pg = Cluster()
            pg.psql("postgres", "ALTER SYSTEM SET max_connections = 300")
            pg.run(["pg_ctl", "-D", str(pg.dir / "data"), "-l", str(pg.dir / "log"), "-m", "fast", "-w", "restart"])
            pg.psql("postgres", "CREATE DATABASE bench")
            h = Harbor(a.harbor, a.work / "pg", pg.url("bench"))
            token, secs = prepare(h, posts)
            notes.append(f"Postgres: load + score of {a.submissions:,} posts {secs:.0f} s")
            pg.psql("bench", "VACUUM ANALYZE")
            # Without the page index every page is a query: the statements pgbench and the FastAPI
            # peer run are captured from this server, and it is measured too.
            proc, url = h.serve(HARBOR_SERVE__PAGE_INDEX_MB="0")
            try:
                sql, probes, answers = capture_sql(pg, url, token)
                if "postgres" in only:
                    for case in CASES:
                        results[("harbor-postgres-sql", case)] = wrk(url, token, case, a)
                    rss["harbor-postgres-sql"] = peak_rss_mb(proc.pid)
            finally:
                stop(proc)
            if "postgres" in only:
                proc, url = h.serve()
                try:
                    for case, path in probes.items():
                        same = get(url + path, token) == answers[case]
                        notes.append(f"Postgres with the page index: `{path}` {'equals' if same else 'DIFFERS from'} "
                                     "the answer from SQL")
                    for case in CASES:
                        results[("harbor-postgres", case)] = wrk(url, token, case, a)
                    rss["harbor-postgres"] = peak_rss_mb(proc.pid)
                finally:
                    stop(proc)
            (a.work / "captured_sql.json").write_text(json.dumps(sql, indent=1))
            if "pgbench" in only:
                for case in CASES:
                    results[("pgbench", case)] = pgbench(pg, case, sql[case], a)
            if "fastapi" in only:
                peer, peer_url = fastapi_peer(pg, sql, token, a)
                try:
                    for case, path in probes.items():
                        same = get(peer_url + path, token) == without_reasons(answers[case])
                        notes.append(f"FastAPI peer's answer to `{path}` {'equals' if same else 'DIFFERS from'} harbor's")
                    for case in CASES:
                        results[("fastapi", case)] = wrk(peer_url, token, case, a)
                    rss["fastapi"] = tree_rss_mb(peer)
                finally:
                    stop(peer)
    finally:
        if pg is not None:
            pg.stop()
        if not a.keep:
            shutil.rmtree(a.work, ignore_errors=True)
    load_after = os.getloadavg()
    for (who, case), r in results.items():
        print(f"{who:16} {case:14} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"{r['requests']:8} requests  {r['errors']} errors")
    for who, mb in rss.items():
        print(f"peak RSS {who}: {mb} MB")
    for n in notes:
        print(n)
    if not a.no_record:
        record(results, rss, notes, a, load_before, load_after)
    if any(r["errors"] for r in results.values()):
        sys.exit(1)


def record(results, rss, notes, a, before, after):
    lines = [
        SECTION, "",
        f"`python3 bench/api_load.py --harbor <optimized build>` (wrk, {a.connections} connections, 2 threads, "
        f"{a.seconds} s per case, loopback; {a.submissions:,} submissions from `gen_reddit.py`, every one scored: "
        f"{a.submissions:,} opportunities; every request its own filter, so none is answered from the response "
        "cache; pgbench runs the statement harbor's server sends, captured from the Postgres log, with the same "
        "random filters; 2 shared cores for the servers, the database and the load generator). harbor-duckdb and "
        "harbor-postgres answer from the page index (default `[serve] page_index_mb`), harbor-postgres-sql is the "
        "same Postgres server with `HARBOR_SERVE__PAGE_INDEX_MB=0` (every page a query).",
        "",
        "| case | server | requests/s | p50 | p99 | requests | errors | server peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        for who in ("harbor-duckdb", "harbor-postgres", "harbor-postgres-sql", "pgbench", "fastapi"):
            r = results.get((who, case))
            if r is None:
                continue
            mem = f"{rss[who]} MB" if who in rss else "-"
            lines.append(f"| {case} | {who} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
                         f"| {r['requests']:,} | {r['errors']} | {mem} |")
    lines += ["", *[f"- {n}" for n in notes],
              f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in before)}, after: "
              f"{' '.join(f'{x:.2f}' for x in after)}", ""]
    write_section("\n".join(lines))


if __name__ == "__main__":
    main()
