#!/usr/bin/env bash
# Fuzzes the Movies API of `pikube demo` (all six services, embedded defaults, seeded) with
# schemathesis, every check on, against the document the services serve: no answer may be a
# server error or fall outside the document. Bounded: a few examples per operation. What a
# valid request may get besides a 2xx, and why, is in schemathesis.toml next to this script.
#
#   tests/schemathesis/run.sh PIKUBE_BINARY
#
# schemathesis lives in a virtualenv in ${PIKUBE_SCHEMATHESIS_CACHE:-/var/cache/pikube-schemathesis},
# created on first use.
set -euo pipefail
pikube=${1:?usage: tests/schemathesis/run.sh PIKUBE_BINARY}
[ -f "$pikube" ] && [ -x "$pikube" ] || { echo "tests/schemathesis/run.sh: $pikube is not an executable" >&2; exit 2; }
pikube=$(realpath "$pikube")
here=$(realpath "$(dirname "$0")")

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
st_pid=
# Ends the demo (and schemathesis) this script started, and only them, however the script
# ends: TERM, a bounded wait for the demo to stop, then KILL.
cleanup() {
  if [ -n "$st_pid" ]; then kill "$st_pid" 2>/dev/null || true; wait "$st_pid" 2>/dev/null || true; fi
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill "$demo_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# An administrator for the fuzzer, so that it reaches the operations behind a token; the
# password stays in this script's environment and is never printed (nor is the demo's log,
# shown on failure, without masking it).
admin_email=fuzzer@example.org
admin_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
show_log() { sed "s/$admin_password/[password]/g" "$work/demo.log" >&2; }
# Port 0: the system picks free loopback ports, so nothing else using 8080 or 8081 (or a
# second run) is in the way, and no port is chosen here only to be taken before the demo
# binds it. The demo prints the Movies address it got once its data is seeded.
MOVIES_ADMIN_EMAIL=$admin_email MOVIES_ADMIN_PASSWORD=$admin_password \
  "$pikube" demo --listen 127.0.0.1:0 --movies-listen 127.0.0.1:0 \
  --data-dir "$work/data" >"$work/demo.log" 2>&1 </dev/null &
demo_pid=$!
for _ in $(seq 120); do
  grep -q '^pikube demo' "$work/demo.log" && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "the demo stopped:" >&2; show_log; exit 1; }
  sleep 0.5
done
grep -q '^pikube demo' "$work/demo.log" || { echo "the demo did not start:" >&2; show_log; exit 1; }
movies=$(sed -n 's|^ *Movies API *http://\([0-9.]*:[0-9]*\)/api/.*|\1|p' "$work/demo.log")
[ -n "$movies" ] || { echo "the demo printed no Movies address:" >&2; show_log; exit 1; }
echo "pikube demo: Movies API at http://$movies/api/"

token=$(jq -n --arg e "$admin_email" --arg p "$admin_password" '{email: $e, password: $p}' |
  curl -fsS -H 'Content-Type: application/json' --data-binary @- "http://$movies/api/auth/token" |
  jq -r .access_token)
[ -n "$token" ] && [ "$token" != null ] || { echo "could not sign in the fuzzer's administrator" >&2; exit 1; }

status=0
# From the scratch directory: schemathesis keeps a cache of the failures it found (in
# ./.schemathesis, and hypothesis its examples in ./.hypothesis) to replay them first next
# time, which is state neither the repository nor the next run should have. The
# configuration (expected statuses, the token's header) and the hooks (what the document
# cannot say) are passed explicitly. Output sanitisation (on by default) masks the
# Authorization header in what it reports. In the background, so that a signal to this
# script ends it at once (bash runs traps only between foreground commands).
(
  cd "$work"
  PIKUBE_SCHEMATHESIS_TOKEN=$token SCHEMATHESIS_HOOKS=$here/hooks.py \
    exec "$venv/bin/st" --config-file "$here/schemathesis.toml" run "http://$movies/api/openapi.json" \
    --checks all \
    --max-examples "${PIKUBE_SCHEMATHESIS_EXAMPLES:-20}" \
    --workers 2 \
    --seed "${PIKUBE_SCHEMATHESIS_SEED:-1}" \
    --request-timeout 30 \
    </dev/null
) &
st_pid=$!
wait "$st_pid" || status=$?
st_pid=
if grep -q 'internal error' "$work/demo.log"; then
  echo "the services logged internal errors:" >&2
  grep 'internal error' "$work/demo.log" | sed "s/$admin_password/[password]/g" >&2
  status=1
fi
exit "$status"
