#!/usr/bin/env python3
"""The peer of `harbor serve` that the users' plan names: a minimal FastAPI + asyncpg app serving
`GET /api/v1/submissions` and `GET /api/v1/opportunities` from the same Postgres database, with the
same SQL statements as harbor's server (given to it by bench/api_load.py, which captures them from
the Postgres log while harbor answers) and the same JSON (items, next_cursor), except the evidence sentences (`reasons`) that harbor writes
from each opportunity's evidence, which the peer leaves out (less work for the peer). Only the filters the
benchmark uses are implemented: `subreddit`, `until`, `min_score`, `limit`. A bearer token is
compared with the one in PEER_TOKEN (harbor looks its tokens up by hash).

  PEER_DSN=postgres://... PEER_TOKEN=... PEER_SQL=statements.json PEER_POOL=16 \
    uvicorn fastapi_peer:app --host 127.0.0.1 --port 8001 --workers 2

Runs in the virtualenv bench/api_load.py makes (fastapi, uvicorn[standard], asyncpg, orjson).
"""
import base64
import json
import os
from datetime import datetime, timezone

import asyncpg
import orjson
from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import Response

DSN = os.environ["PEER_DSN"]
TOKEN = os.environ["PEER_TOKEN"]
POOL = int(os.environ.get("PEER_POOL", "16"))
# {"submissions": "... $1 ... $2 ...", "opportunities": "... $1 ..."}: harbor's statements with
# the LIMIT it sends (limit + 1) left as is; parameter order is the order harbor binds them in.
SQL = json.loads(open(os.environ["PEER_SQL"]).read())

app = FastAPI()
pool = None


@app.on_event("startup")
async def startup():
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=POOL, max_size=POOL)


def check(auth):
    if auth != f"Bearer {TOKEN}":
        raise HTTPException(status_code=401, detail="unauthorized")


def cursor(parts):
    return base64.urlsafe_b64encode("\n".join(parts).encode()).decode().rstrip("=")


def answer(items, next_cursor):
    return Response(orjson.dumps({"items": items, "next_cursor": next_cursor}), media_type="application/json")


def epoch_us(iso):
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(t.replace(tzinfo=t.tzinfo or timezone.utc).timestamp() * 1_000_000)


@app.get("/api/v1/submissions")
async def submissions(subreddit: str, until: str, limit: int = Query(50, ge=1, le=500),
                      authorization: str = Header(None)):
    check(authorization)
    rows = await pool.fetch(SQL["submissions"], subreddit, float(epoch_us(until)))
    items = [
        {"id": r[0], "title": r[1], "selftext": r[2], "subreddit": r[3], "author": r[4], "score": r[5],
         "num_comments": r[6], "created_utc": r[7], "permalink": r[9], "url": r[10], "is_problem": r[11]}
        for r in rows[:limit]
    ]
    nxt = cursor([str(rows[limit - 1][8]), rows[limit - 1][0]]) if len(rows) > limit else None
    return answer(items, nxt)


def js(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.get("/api/v1/opportunities")
async def opportunities(min_score: float = Query(..., ge=0, le=100), limit: int = Query(50, ge=1, le=500),
                        authorization: str = Header(None)):
    check(authorization)
    rows = await pool.fetch(SQL["opportunities"], min_score)
    names = ["post_id", "scorer_id", "final_score", "market_demand", "pain_intensity", "monetization_potential",
             "market_gap", "technical_feasibility", "simplicity", "evidence", "app_name", "problem_description",
             "app_concept", "core_functions", "value_proposition", "target_user", "monetization_model", "model",
             "scored_at", "title", "subreddit", "permalink", "score", "num_comments", "created_utc"]
    items = []
    for r in rows[:limit]:
        item = dict(zip(names, r))
        item["evidence"] = js(item["evidence"])
        item["core_functions"] = js(item["core_functions"])
        items.append(item)
    # harbor's keyset cursor: the last row's score (as Rust prints a double), post and scorer.
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        score = "" if last["final_score"] is None else rust_float(last["final_score"])
        nxt = cursor([score, last["post_id"], last["scorer_id"]])
    return answer(items, nxt)


def rust_float(f):
    """A double as Rust's `to_string` writes it (no `.0` on whole numbers); enough for 0-100."""
    s = repr(float(f))
    return s[:-2] if s.endswith(".0") else s
