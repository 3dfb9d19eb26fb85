#!/bin/sh
# Run once by the postgres image when it initialises its data volume (it runs every file in
# /docker-entrypoint-initdb.d). Creates `authenticator`, the login the data API uses
# (MADBASE_DB_API_USER), with a password, as Supabase's images do: MadBase's migrations create
# it without one, and then leave an existing role as it is. They grant it anon, authenticated
# and service_role.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$AUTHENTICATOR_PASSWORD" <<'SQL'
CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD :'password';
ALTER ROLE authenticator SET statement_timeout = '8s';
SQL
