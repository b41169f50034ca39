#!/usr/bin/env bash
# Checks the units with `systemd-analyze verify`, with the harbor binary given as $1 (default: the
# one on PATH) in place of /usr/local/bin/harbor, so the check runs on a machine without an install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(readlink -f "${1:-$(command -v harbor)}")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for unit in "$here"/*.service "$here"/*.timer; do
  sed -e "s|/usr/local/bin/harbor|$bin|" -e 's|^User=.*|User=root|' -e 's|^Group=.*|Group=root|' \
    "$unit" > "$tmp/$(basename "$unit")"
done
systemd-analyze verify "$tmp"/*.service "$tmp"/*.timer
echo "systemd units verified ($bin)"
