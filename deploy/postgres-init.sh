#!/bin/sh
# leadflow's own role and database, beside the two Temporal's schema service creates. The
# password comes from LEADFLOW_DB_PASSWORD (the postgres image runs this once, on an empty
# data folder), passed to psql as a variable so no shell or SQL quoting can break it.
set -eu

psql -v ON_ERROR_STOP=1 -v password="$LEADFLOW_DB_PASSWORD" \
  --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE leadflow WITH LOGIN PASSWORD :'password';
CREATE DATABASE leadflow OWNER leadflow;
SQL
