#!/usr/bin/env bash
# Checks the OpenAPI documents of both listeners with tools independent of
# the code that generates them, against a live server:
#   - the office API's, /v1/openapi.json on the public listener;
#   - the admin API's, /v1/admin/openapi.json on the admin listener (users,
#     roles, territories, policy, devices, audit log, API keys, webhooks);
# each with
#   1. openapi-spec-validator: the document is valid OpenAPI 3.1;
#   2. schemathesis: a bounded run of generated requests against the live
#      server; fails on a 5xx, a status code the document does not list for
#      the operation, a Content-Type it does not list, or a body that does
#      not match the documented schema.
# Exits non-zero when any of them finds a problem.
#
# Uses the debug server binary built by scripts/build-for-tests.sh
# (FIELDWORK_SERVER_BIN overrides it); builds nothing. Starts it with a
# temporary data directory and its embedded defaults, on a free loopback
# port and with its admin listener on another (both read from the lines
# it prints at start: `listening on URL`, `admin API on URL`), creates an
# admin user, signs in, and stops the server on exit. Installs
# openapi-spec-validator and schemathesis from PyPI when missing.
#
# The admin run acts as that admin user and may do anything an
# administrator may. It cannot lock itself out, because the server
# refuses that (409 would_lock_out for disabling oneself or giving oneself
# a non-admin role; 422 invalid_policy for a policy under which one's own
# role no longer administers; and generated TOML is not a valid policy
# anyway); the script checks afterwards that the checker is still an
# administrator. No operation is excluded. The
# admin run comes after the office API's run, so its changes (users
# disabled, keys revoked, webhooks made) cannot disturb that one.
#
# Bounds (environment): FW_OPENAPI_MAX_EXAMPLES (default 5 cases per
# operation and phase, office API), FW_OPENAPI_ADMIN_MAX_EXAMPLES (the
# same by default, admin API), FW_OPENAPI_TIMEOUT (default 300 s for each
# schemathesis run). The runs are deterministic (schemathesis's
# --generation-deterministic): the same cases every time for the same
# document. Extra arguments are passed to both `schemathesis run`s (e.g.
# `--continue-on-failure -n 50` to list every mismatch, not the first of
# each operation).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FIELDWORK_SERVER_BIN:-$root/target/debug/fieldwork-server}
max_examples=${FW_OPENAPI_MAX_EXAMPLES:-5}
admin_max_examples=${FW_OPENAPI_ADMIN_MAX_EXAMPLES:-$max_examples}
budget=${FW_OPENAPI_TIMEOUT:-300}

log() { printf '\n== %s\n' "$*"; }

if [ ! -x "$bin" ]; then
  echo "check-openapi: $bin is missing: run scripts/build-for-tests.sh first" >&2
  exit 1
fi

# --- tools --------------------------------------------------------------
# As bindings/scripts/test-foreign.sh installs pytest; a Debian system
# Python refuses (PEP 668) unless told to.
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
}
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  log "installing openapi-spec-validator (PyPI)"
  pip_install openapi-spec-validator
fi
if ! python3 -c 'import schemathesis' 2>/dev/null; then
  log "installing schemathesis (PyPI)"
  pip_install schemathesis
fi

# --- a live server ------------------------------------------------------
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

user=openapi-check
password=$(head -c 18 /dev/urandom | base64)
printf '%s\n' "$password" |
  "$bin" --data "$work/data" user add --name "$user" --role admin --password-stdin >/dev/null

RUST_LOG=warn "$bin" --data "$work/data" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=
admin=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' "$work/server.out" | head -n 1)
  admin=$(sed -n 's/^admin API on //p' "$work/server.out" | head -n 1)
  [ -n "$url" ] && [ -n "$admin" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "check-openapi: the server did not start:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ] || [ -z "$admin" ]; then
  echo "check-openapi: the server did not say where it listens (public: '$url', admin: '$admin')" >&2
  cat "$work/server.out" >&2
  exit 1
fi
echo "server at $url, admin API at $admin"

login=$(python3 -c 'import json, sys; print(json.dumps({"user": sys.argv[1], "password": sys.argv[2]}))' "$user" "$password")
token=$(curl -sS --fail-with-body -H 'Content-Type: application/json' -d "$login" "$url/v1/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

curl -sS --fail-with-body -H "Authorization: Bearer $token" "$url/v1/openapi.json" >"$work/openapi.json"
curl -sS --fail-with-body "$admin/v1/admin/openapi.json" >"$work/admin-openapi.json"

# A few records, so that lists, gets, history and related answer with
# bodies to check (schemathesis reuses ids it sees in answers).
create() {
  curl -sS --fail-with-body -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "$2" "$url/v1/records/$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
account=$(create account '{"fields": {"name": "Talleres Núñez SL", "phone": "+34 612 345 678", "territory": "north", "city": "Logroño"}}')
create contact "{\"fields\": {\"first_name\": \"Begoña\", \"last_name\": \"Ibáñez\", \"account\": \"$account\", \"mobile\": \"612 345 679\"}}" >/dev/null
create activity "{\"fields\": {\"type\": \"task\", \"subject\": \"Llamar\", \"account\": \"$account\", \"due_at\": \"2027-01-04T09:00:00+01:00\"}}" >/dev/null
create note "{\"fields\": {\"title\": \"Visita\", \"body\": \"Pedido en marzo\", \"account\": \"$account\"}}" >/dev/null

# --- 1. the documents are valid OpenAPI ---------------------------------
validate() {
  log "openapi-spec-validator: $1"
  python3 - "$2" <<'EOF'
import json
import sys

from openapi_spec_validator import validate

with open(sys.argv[1]) as f:
    spec = json.load(f)
try:
    validate(spec)
except Exception as e:  # the validator's errors quote the whole document
    print(f"INVALID OpenAPI document: {type(e).__name__}: {str(e)[:1500]}", file=sys.stderr)
    sys.exit(1)
paths = spec.get("paths", {})
ops = sum(1 for p in paths.values() for m in p if m in ("get", "put", "post", "patch", "delete"))
print(f"valid OpenAPI {spec.get('openapi')}: {len(paths)} paths, {ops} operations")
EOF
}
validate /v1/openapi.json "$work/openapi.json"
validate /v1/admin/openapi.json "$work/admin-openapi.json"

# --- 2. live answers agree with them ------------------------------------
# How much a run exercised: its answers by status.
answers_by_status() {
  python3 - "$1" <<'EOF' || true
import collections
import glob
import json
import sys


def answers(o):
    if isinstance(o, dict):
        if isinstance(o.get("response"), dict) and "status_code" in o["response"] and "request" in o:
            yield o
        for v in o.values():
            yield from answers(v)
    elif isinstance(o, list):
        for v in o:
            yield from answers(v)


by_status = collections.Counter()
for path in glob.glob(sys.argv[1] + "/*.ndjson"):
    with open(path) as f:
        for line in f:
            for a in answers(json.loads(line)):
                by_status[a["response"]["status_code"]] += 1
print("answers by status:", ", ".join(f"{s}: {n}" for s, n in sorted(by_status.items())))
EOF
}

# run NAME DOCUMENT_URL BASE_URL MAX_EXAMPLES [ARGS...]: one bounded,
# deterministic schemathesis run, then its answers by status.
run() {
  local name=$1 doc=$2 base=$3 examples=$4 rc=0
  shift 4
  log "schemathesis ($name): $examples cases per operation and phase against the live server"
  # From the temporary directory: schemathesis and hypothesis keep caches
  # (.schemathesis/, .hypothesis/) in the working directory.
  (cd "$work" && timeout "$budget" python3 -m schemathesis.cli run "$doc" \
    --no-color \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --generation-deterministic \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off \
    --report ndjson --report-dir "$work/report-$name" \
    "$@") || rc=$?
  answers_by_status "$work/report-$name"
  return "$rc"
}

status=0
run office "$url/v1/openapi.json" "$url" "$max_examples" "$@" || status=$?
run admin "$admin/v1/admin/openapi.json" "$admin" "$admin_max_examples" "$@" || status=$?

# The admin run cannot have locked the checker out (see the top).
still=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$admin/v1/admin/users")
if [ "$still" != 200 ]; then
  echo "check-openapi: after the admin run the checker is no longer an administrator ($still)" >&2
  status=1
fi
exit "$status"
