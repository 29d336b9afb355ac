#!/usr/bin/env bash
# A local PostgreSQL for the Movies tests: installs it when missing (Debian), creates and
# starts a cluster, and makes the test role, which may create and drop databases (each test
# gets fresh ones). Idempotent; prints the admin URL the tests use (MOVIES_TEST_POSTGRES).
#
#   tests/postgres/up.sh            # as root
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ROLE=pikube_test
# A throwaway role on a loopback-only test server: its password guards nothing else.
PASSWORD=pikube_test
PORT=${MOVIES_TEST_POSTGRES_PORT:-5432}

# Callers capture stdout as the URL, so everything else goes to stderr: pg_ctlcluster, for
# one, prints "Removed stale pid file." when a previous server died uncleanly. (A group, not
# a saved descriptor: the server started here would inherit that and hold the pipe open.)
{

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends postgresql </dev/null >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)

if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main --port "$PORT" >/dev/null
fi
conf=/etc/postgresql/$version/main/postgresql.conf
# Several test processes run at once, each with six services and their pools.
if ! grep -q '^max_connections = 400' "$conf"; then
  sed -i 's/^#\?max_connections = .*/max_connections = 400/' "$conf"
  pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  # A server killed a moment ago may still hold its socket lock while its children exit.
  for attempt in 1 2 3 4 5; do
    pg_ctlcluster "$version" main start && break
    [ "$attempt" -eq 5 ] && exit 1
    sleep 2
  done
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')

for _ in $(seq 1 50); do
  runuser -u postgres -- psql -p "$port" -qAtc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done
runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB CREATEROLE PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
SQL
} >&2
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/postgres"
