"""What the benchmark programs under bench/ share: paths, the dlt virtualenv, timing a process from
outside (GNU time), and writing a section of bench/RESULTS.md."""
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
DATA = ROOT / "bench" / "data"
VENV = ROOT / "bench" / ".venv"
RESULTS = ROOT / "bench" / "RESULTS.md"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def venv_python(venv=VENV):
    """The virtualenv with dlt 1.31 (DuckDB and Postgres), created or completed when needed."""
    py = Path(venv) / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(venv)])
    probe = subprocess.run([str(py), "-c", "import dlt, psycopg2, orjson, psutil, zstandard"], capture_output=True)
    if probe.returncode != 0:
        sh([str(py), "-m", "pip", "install", "-q", "dlt[duckdb,postgres]==1.31.*", "orjson", "psutil", "zstandard"])
    return str(py)


def measure(cmd, env=None, allow_fail=False):
    """Runs cmd under GNU time; returns (seconds, peak_rss_mb, stdout, ok, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, env=env)
    secs = time.perf_counter() - t0
    if p.returncode != 0 and not allow_fail:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return secs, rss_kb / 1024, p.stdout, p.returncode == 0, p.stderr


def write_section(section):
    """Puts `section` (text starting with its `## ` heading) into bench/RESULTS.md: in place of the
    section with the same heading, or at the end."""
    title = section.split("\n", 1)[0]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(title + "\n")
    if start >= 0:
        nxt = text.find("\n## ", start + len(title))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    RESULTS.write_text(text)
