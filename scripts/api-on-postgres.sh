#!/usr/bin/env bash
# The SDK tests, the dashboard browser test and schemathesis again, with `harbor serve` reading a
# real Postgres server: a throwaway cluster on a loopback port, one schema per server
# (sdk/typescript/scripts/server.mjs adds it to HARBOR_DESTINATION). Used by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "api-on-postgres: PostgreSQL is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/harbor-api-pg.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
stop() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
export HARBOR_DESTINATION="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "api-on-postgres: SDK, dashboard and schemathesis against harbor serve on postgres://127.0.0.1:$port"
(cd sdk/typescript && npm test)
bash scripts/schemathesis.sh
