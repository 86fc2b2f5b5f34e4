#!/bin/sh
# Create Temporal's two databases on the compose PostgreSQL and bring their schemas up to
# the server image's version. Safe to run again: each step skips what is already there.
# The password comes from SQL_PASSWORD.
set -eu

sql() {
  db="$1"
  shift
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
    -u "$POSTGRES_USER" --db "$db" "$@"
}

until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do sleep 1; done
schemas=/etc/temporal/schema/postgresql/v12
sql temporal create || true  # already there on a second run
sql temporal setup-schema -v 0.0 || true
sql temporal update-schema -d "$schemas/temporal/versioned"
sql temporal_visibility create || true
sql temporal_visibility setup-schema -v 0.0 || true
sql temporal_visibility update-schema -d "$schemas/visibility/versioned"
