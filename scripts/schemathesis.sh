#!/usr/bin/env bash
# Property-based API testing: schemathesis generates requests from the live server's /openapi.json
# and checks, with a read token, that no response is a 5xx and every response matches the schema.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/harbor-schemathesis-venv}"
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==4.*"
fi
cd sdk/typescript
exec node scripts/with-server.mjs --submissions 300 -- bash -c '
  "'"$VENV"'/bin/st" run "$HARBOR_URL/openapi.json" \
    --header "Authorization: Bearer $HARBOR_READ_TOKEN" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples 40 --seed 9 --no-color --workers 1'
