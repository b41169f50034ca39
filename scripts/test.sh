#!/usr/bin/env bash
# Runs every test of the project. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/harbor-target}"
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
# HTTP API: SDK tests and the dashboard browser test against a live server (issue 9), then
# schemathesis against the live /openapi.json.
(cd sdk/typescript && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm test)
bash scripts/schemathesis.sh
# The same against `harbor serve` on a real Postgres server (issue 15).
bash scripts/api-on-postgres.sh
