#!/usr/bin/env python3
"""HTTP API load benchmark: wrk with 200 connections for 30 s against /api/v1/submissions and
/api/v1/opportunities of a live `harbor serve` on loopback over a database of 100,000 submissions
(loaded with `harbor load`, opportunities seeded with `harbor-api-seed`). Bounded and self-stopping.

Reports requests/s, p50/p99 latency, errors (non-2xx and socket errors) and the server's peak RSS
(VmHWM from /proc), and appends a section to bench/RESULTS.md.

  python3 bench/api_load.py [--submissions 100000] [--seconds 30] [--connections 200] [--no-record]

Needs `cargo build --workspace --bins`, wrk (Debian) and `npm ci` in sdk/typescript.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdk" / "typescript"


def parse_wrk(text):
    def dur(s):
        m = re.match(r"([\d.]+)(us|ms|s|m)", s)
        v, u = float(m.group(1)), m.group(2)
        return v * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]

    out = {"raw": text}
    out["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    out["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    out["p50_ms"] = dur(lat["50"])
    out["p99_ms"] = dur(lat["99"])
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return out


def inner(args):
    url, token, pid = os.environ["HARBOR_URL"], os.environ["HARBOR_READ_TOKEN"], os.environ["HARBOR_SERVER_PID"]
    results = {}
    for name, path in [("submissions", "/api/v1/submissions?limit=50"),
                       ("opportunities", "/api/v1/opportunities?limit=50")]:
        cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s", "--latency",
               "-H", f"Authorization: Bearer {token}", url + path]
        p = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=args.seconds + 60)
        results[name] = parse_wrk(p.stdout)
        results[name]["path"] = path
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
    results["server_peak_rss_mb"] = round(hwm / 1024, 1)
    Path(args.out).write_text(json.dumps(results, indent=1))


def record(results, args):
    lines = [
        "",
        "## HTTP API under load (issue 9)",
        "",
        f"`python3 bench/api_load.py` (wrk, {args.connections} connections, 2 threads, {args.seconds} s per endpoint, "
        f"loopback, {args.submissions:,} submissions loaded with `harbor load`, opportunities seeded with "
        "`harbor-api-seed`; dev profile: dependencies at opt-level 3, harbor crates at opt-level 1; "
        "2 shared cores, wrk on the same machine).",
        "",
        "| endpoint | requests/s | p50 | p99 | requests | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name in ["submissions", "opportunities"]:
        r = results[name]
        lines.append(f"| `{r['path']}` | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
                     f"| {r['requests']:,} | {r['errors']} |")
    lines += ["", f"Server peak RSS: {results['server_peak_rss_mb']} MB.", ""]
    with open(ROOT / "bench" / "RESULTS.md", "a") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--submissions", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "target" / "api_load.json"))
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["node", "scripts/with-server.mjs", "--submissions", str(args.submissions), "--",
                    sys.executable, str(Path(__file__).resolve()), "--inner", "--seconds", str(args.seconds),
                    "--connections", str(args.connections), "--out", args.out],
                   cwd=SDK, check=True, timeout=args.seconds * 2 + 600)
    results = json.loads(Path(args.out).read_text())
    for name in ["submissions", "opportunities"]:
        r = results[name]
        print(f"{name}: {r['requests_per_s']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"{r['requests']} requests, {r['errors']} errors")
    print(f"server peak RSS {results['server_peak_rss_mb']} MB")
    if not args.no_record:
        record(results, args)
    if any(results[n]["errors"] for n in ["submissions", "opportunities"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
