#!/usr/bin/env bash
# One database and one role per Movies service, each role owning only its own database.
#
# Run once by the official postgres image's entrypoint (from /docker-entrypoint-initdb.d,
# as the postgres user, against its socket-only start-up server) when the data directory is
# first initialised. The passwords come from the Secret (DB_PASSWORD_<SERVICE>); an empty,
# short or URL-unsafe one stops the initialisation, so no database ever gets a built-in or
# empty password. Each role may log in and owns its database (so it can create the tables
# its migrations need, in that database's public schema); it is no superuser, cannot create
# databases or roles, and no other role may connect to its database (CONNECT is revoked from
# PUBLIC).
#
# Checked against a real PostgreSQL by crates/pikube-movies/tests/manifests.rs.
set -euo pipefail

services="users movies cinemas screenings reservations payments"

for service in $services; do
  variable="DB_PASSWORD_${service^^}"
  password="${!variable:-}"
  if [ "${#password}" -lt 16 ]; then
    echo "init-databases: $variable is empty or shorter than 16 characters; fill in deploy/movies/secrets.env (see secrets.env.example)" >&2
    exit 1
  fi
  if ! [[ $password =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "init-databases: $variable may hold only letters, digits and -._~ (it goes into a URL as it is)" >&2
    exit 1
  fi
done

for service in $services; do
  variable="DB_PASSWORD_${service^^}"
  # The password goes through standard input, never on a command line.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" <<SQL
\\set name $service
\\set password ${!variable}
CREATE ROLE :"name" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL ON DATABASE :"name" TO :"name";
SQL
  echo "init-databases: database and role $service created"
done
