"""RedditHarbor on Apache Airflow: collect and score Reddit, one task per subreddit shard.

Each shard task runs `harbor run --subreddits <shard>` (collect -> load -> score -> trace) in the
harbor project directory, in parallel with the other shards; a final task runs `harbor check`
(the rollback triggers). Failed tasks are retried twice, 5 minutes apart, and a failure callback
records the failure (and can roll the cutover back). Harbor makes parallel workers safe: runs of
one pipeline take its lock (a second run waits), state is per subreddit cursor, and every load is
one exactly-once transaction in the destination. For shards that really run at the same time, give
each shard its own pipeline (HARBOR_PIPELINE_PER_SHARD=1) on a shared Postgres destination.

Configuration (environment of the Airflow workers; see deploy/airflow/README.md):
  HARBOR_BIN                 path of the harbor binary (default: harbor on PATH)
  HARBOR_PROJECT_DIR         directory holding harbor.toml (default: current directory)
  HARBOR_SUBREDDITS          comma-separated subreddits
  HARBOR_SHARDS              number of shards (default 3)
  HARBOR_TASK                command of a shard, {subreddits} and {shard} substituted
                             (default: "run --subreddits {subreddits}")
  HARBOR_PIPELINE_PER_SHARD  1: shard i runs as pipeline <pipeline>_<i>
  HARBOR_SCHEDULE            cron (default "0 2 * * *": daily at 02:00 UTC)
  HARBOR_FAILURE_LOG         file the failure callback appends to (optional)
  HARBOR_ROLLBACK_ON_FAILURE 1: the failure callback runs `harbor check --rollback`
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

DAG_ID = "reddit_opportunity_pipeline"
HARBOR = os.environ.get("HARBOR_BIN", "harbor")
PROJECT = os.environ.get("HARBOR_PROJECT_DIR", os.getcwd())
SUBREDDITS = [
    s.strip()
    for s in os.environ.get(
        "HARBOR_SUBREDDITS", "opensource,SideProject,productivity,freelance,personalfinance"
    ).split(",")
    if s.strip()
]
SHARDS = max(1, int(os.environ.get("HARBOR_SHARDS", "3")))
TASK = os.environ.get("HARBOR_TASK", "run --subreddits {subreddits}")
PER_SHARD = os.environ.get("HARBOR_PIPELINE_PER_SHARD") == "1"
PIPELINE = os.environ.get("HARBOR_PIPELINE", "reddit")


def shard_subreddits(subreddits: list[str], shards: int) -> list[list[str]]:
    """Deals subreddits (sorted, case-insensitive) round-robin into at most `shards` non-empty shards.

    The assignment depends only on the list, so a subreddit stays on its shard from run to run.
    """
    ordered = sorted(set(subreddits), key=str.lower)
    out: list[list[str]] = [[] for _ in range(min(shards, len(ordered)) or 1)]
    for i, s in enumerate(ordered):
        out[i % len(out)].append(s)
    return [s for s in out if s]


def on_failure(context) -> None:
    """Failure callback: records the failed task, and optionally rolls the cutover back."""
    ti = context.get("task_instance")
    record = {
        "dag": DAG_ID,
        "task": getattr(ti, "task_id", None),
        "try": getattr(ti, "try_number", None),
        "run_id": context.get("run_id"),
        "error": str(context.get("exception")) if context.get("exception") else None,
        "at": datetime.utcnow().isoformat() + "Z",
    }
    print(f"harbor task failed: {json.dumps(record)}")
    log = os.environ.get("HARBOR_FAILURE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    if os.environ.get("HARBOR_ROLLBACK_ON_FAILURE") == "1":
        subprocess.run([HARBOR, "check", "--rollback"], cwd=PROJECT, check=False)


def shard_command(i: int, subs: list[str]) -> str:
    task = TASK.replace("{subreddits}", ",".join(subs)).replace("{shard}", str(i))
    pipeline = f" --pipeline {shlex.quote(f'{PIPELINE}_{i}')}" if PER_SHARD else ""
    return f"{shlex.quote(HARBOR)}{pipeline} {task}"


default_args = {
    "owner": "redditharbor",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": on_failure,
}

with DAG(
    dag_id=DAG_ID,
    description="Collect, load and score Reddit with harbor, one task per subreddit shard",
    schedule=os.environ.get("HARBOR_SCHEDULE", "0 2 * * *"),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["redditharbor"],
) as dag:
    shard_tasks = [
        BashOperator(
            task_id=f"harbor_shard_{i}",
            bash_command=shard_command(i, subs),
            cwd=PROJECT,
            env={"NO_COLOR": "1"},
            append_env=True,
        )
        for i, subs in enumerate(shard_subreddits(SUBREDDITS, SHARDS))
    ]
    check = BashOperator(
        task_id="harbor_check",
        bash_command=f"{shlex.quote(HARBOR)} check",
        cwd=PROJECT,
        env={"NO_COLOR": "1"},
        append_env=True,
    )
    shard_tasks >> check
