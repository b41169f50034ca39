#!/usr/bin/env bash
# Runs every test of the project. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/harbor-target}"
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
