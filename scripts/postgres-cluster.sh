#!/usr/bin/env bash
# A PostgreSQL cluster of our own for the tests (make test-postgres, CI) and for make run-postgres:
# initdb and pg_ctl as a non-root user (the Debian package's `postgres` when run as root), listening only
# on a Unix socket inside the cluster's folder (no TCP port), C collation, trust authentication (the
# folder is 0700, so only its owner and root reach the socket), and room for the predicate locks of
# billingd's serializable batches (max_pred_locks_per_transaction; docs/OPERATIONS.md).
#
#   scripts/postgres-cluster.sh start DIR   creates the cluster if needed, starts it, creates database
#                                           "billing" (owner "billing") and prints its postgres:// URL
#   scripts/postgres-cluster.sh stop DIR    stops it (fast shutdown)
#   scripts/postgres-cluster.sh crash DIR   stops it as a crash would (immediate: no checkpoint, clients cut off)
#   scripts/postgres-cluster.sh url DIR     prints the URL again
set -euo pipefail
command=${1:?usage: postgres-cluster.sh start|stop|crash|url DIR}
dir=$(realpath -m "${2:?usage: postgres-cluster.sh start|stop|crash|url DIR}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi }
url="postgres://billing@/billing?host=$dir"

case $command in
start)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U billing --auth=trust --locale=C --encoding=UTF8 >"$dir/initdb.log"
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=300 -c max_pred_locks_per_transaction=256" start >/dev/null
  as_owner "$bin/psql" -h "$dir" -U billing -d postgres -qAt \
    -c "SELECT 1 FROM pg_database WHERE datname = 'billing'" | grep -q 1 \
    || as_owner "$bin/createdb" -h "$dir" -U billing --locale=C --template=template0 billing
  echo "$url"
  ;;
stop)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
crash)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
url)
  echo "$url"
  ;;
*)
  echo "usage: postgres-cluster.sh start|stop|crash|url DIR" >&2; exit 64
  ;;
esac
