#!/usr/bin/env bash
# The whole test suite: starts a throwaway PostgreSQL server for the distributed-HPO tests
# (skipped without one, except under CI, where a server that cannot start fails the run),
# runs pytest with the project's venv on NNOPT_TEST_WORKERS processes (default: 2, pytest-xdist; a
# test module's tests stay in one process, so its module-scoped fixtures run once), prints the
# slowest 15 tests, stops the server.
set -uo pipefail
cd "$(dirname "$0")/.."
if pg_env=$(bash scripts/postgres.sh start); then
  eval "$pg_env"
  trap 'bash scripts/postgres.sh stop "$NNOPT_PG_DIR"' EXIT
elif [ -n "${CI:-}" ]; then
  echo "error: PostgreSQL could not be started; CI runs the PostgreSQL tests" >&2
  exit 1
else
  echo "note: PostgreSQL could not be started; its tests are skipped" >&2
fi
workers=${NNOPT_TEST_WORKERS:-2}
.venv/bin/python -m pytest -n "$workers" --dist loadscope --durations=15 "$@"
