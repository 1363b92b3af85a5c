#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for nnopt's distributed-HPO tests (and for trying `nnopt tune
# --storage postgresql://...` by hand).
#
#   eval "$(bash scripts/postgres.sh start)"   # exports NNOPT_TEST_POSTGRES_URL and NNOPT_PG_DIR
#   bash scripts/postgres.sh stop "$NNOPT_PG_DIR"
#
# start: initdb in a fresh temporary directory (owned by the `postgres` user when run as root,
# else by the caller), listen on 127.0.0.1 at a free port (Unix socket in the data directory),
# trust authentication, create role and database `nnopt`, print the export lines.
# stop DIR: stop that cluster and delete its directory.
# Installs the Debian `postgresql` package when the server binaries are missing and we are root.
set -euo pipefail

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null; then dir=$(dirname "$(command -v pg_ctl)"); fi
  echo "$dir"
}

ensure_server() {
  if [ -n "$(find_bin)" ]; then return; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: PostgreSQL server binaries not found; install the Debian package 'postgresql'" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
}

# as_owner CMD...: run as the cluster owner (postgres when we are root; initdb refuses root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  ensure_server
  local bin dir port
  bin=$(find_bin)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nnopt-pg.XXXXXX")
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U nnopt --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; exit 1; }
  port=$(free_port)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" start >/dev/null || {
    cat "$dir/server.log" >&2; exit 1; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U nnopt nnopt
  echo "export NNOPT_TEST_POSTGRES_URL=postgresql://nnopt@127.0.0.1:$port/nnopt"
  echo "export NNOPT_PG_DIR=$dir"
}

stop() {
  local dir=${1:-${NNOPT_PG_DIR:-}}
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
    echo "usage: $0 stop DIR (the NNOPT_PG_DIR that start printed)" >&2
    exit 2
  fi
  as_owner "$(find_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
