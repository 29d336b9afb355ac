#!/usr/bin/env bash
# Fuzzes the Movies API of `pikube demo` (all six services, embedded defaults, seeded) with
# schemathesis, every check on, against the document the services serve: no answer may be a
# server error or fall outside the document. Bounded: a few examples per operation.
#
#   tests/schemathesis/run.sh PIKUBE_BINARY
#
# schemathesis lives in a virtualenv in ${PIKUBE_SCHEMATHESIS_CACHE:-/var/cache/pikube-schemathesis},
# created on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
pikube=${1:?usage: tests/schemathesis/run.sh PIKUBE_BINARY}
[ -x "$pikube" ] || { echo "tests/schemathesis/run.sh: $pikube is not an executable" >&2; exit 2; }

version=4.32.5
cache=${PIKUBE_SCHEMATHESIS_CACHE:-/var/cache/pikube-schemathesis}
venv=$cache/venv-$version
if [ ! -x "$venv/bin/st" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv" </dev/null
  "$venv/bin/pip" install --quiet "schemathesis==$version" </dev/null
fi

work=$(mktemp -d)
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
movies="127.0.0.1:$(free_port)"
# An administrator for the fuzzer, so that it reaches the operations behind a token; the
# password stays in this script's environment and is never printed.
admin_email=fuzzer@example.org
admin_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
MOVIES_ADMIN_EMAIL=$admin_email MOVIES_ADMIN_PASSWORD=$admin_password \
  "$pikube" demo --listen "127.0.0.1:$(free_port)" --movies-listen "$movies" \
  --data-dir "$work/data" >"$work/demo.log" 2>&1 </dev/null &
demo_pid=$!
for _ in $(seq 120); do
  grep -q '^pikube demo' "$work/demo.log" && break
  kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log" >&2; exit 1; }
  sleep 0.5
done
grep -q '^pikube demo' "$work/demo.log" || { echo "the demo did not start:" >&2; cat "$work/demo.log" >&2; exit 1; }

token=$(jq -n --arg e "$admin_email" --arg p "$admin_password" '{email: $e, password: $p}' |
  curl -fsS -H 'Content-Type: application/json' --data-binary @- "http://$movies/api/auth/token" |
  jq -r .access_token)
[ -n "$token" ] && [ "$token" != null ] || { echo "could not sign in the fuzzer's administrator" >&2; exit 1; }

status=0
# Output sanitisation (on by default) masks the Authorization header in what it reports.
"$venv/bin/st" run "http://$movies/api/openapi.json" \
  --checks all \
  --max-examples "${PIKUBE_SCHEMATHESIS_EXAMPLES:-20}" \
  --workers 2 \
  --seed "${PIKUBE_SCHEMATHESIS_SEED:-1}" \
  --request-timeout 30 \
  --header "Authorization: Bearer $token" \
  </dev/null || status=$?
if grep -q 'internal error' "$work/demo.log"; then
  echo "the services logged internal errors:" >&2
  grep 'internal error' "$work/demo.log" >&2
  status=1
fi
exit "$status"
