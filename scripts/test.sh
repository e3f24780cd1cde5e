#!/usr/bin/env bash
# Installs everything the tests need into ./.venv-test and runs the whole suite:
# lint and type checks, then the tests on PostgreSQL + Redis + an arq worker, then on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${ANLAUF_TEST_VENV:-.venv-test}"
PG_URL="${ANLAUF_TEST_PG_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}"
REDIS_URL="${ANLAUF_TEST_REDIS_URL:-redis://127.0.0.1:6379/9}"

step() { printf '\n== %s\n' "$*"; }

step "Python environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The exact versions of requirements/test.lock (pyproject.toml keeps the ranges for users), then
# the project itself without resolving anything again.
"$VENV/bin/python" -m pip install --quiet -r requirements/test.lock
"$VENV/bin/python" -m pip install --quiet -e . --no-deps

step "Chromium for the browser tests"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core >/dev/null
  else
    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium)." >&2
  fi
fi

step "Node packages: the OpenID provider for the sign-on tests, the page auditors"
npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
# frontend/: axe-core, the Nu HTML Checker (vnu-jar) and Lighthouse for the page audits.
npm ci --prefix frontend --no-audit --no-fund --loglevel=error

step "Services: PostgreSQL and Redis on loopback"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 -p 6379 ping

step "Lint, types and import rules"
"$VENV/bin/ruff" check market matching notifications migrations tests benchmarks scripts
"$VENV/bin/ruff" format --check market matching notifications migrations tests benchmarks scripts
"$VENV/bin/mypy" market matching notifications
"$VENV/bin/lint-imports"

# The two runs share nothing (their own database, Redis database, SMTP and web servers), so they
# run side by side; each one's output is shown whole when both have ended. Much of a test's time
# is spent waiting (for a worker, a mail, a browser), so each run is itself split over
# ANLAUF_TEST_WORKERS pytest-xdist workers (default 2; 0 runs in one process), one file at a time
# per worker, each worker with its own database and its own Redis database.
# The tests whose outcome does not depend on the database (those that touch none, and the
# browser tests of tests/e2e) run once, in the SQLite run: the PostgreSQL run leaves them out
# (ANLAUF_TEST_DATABASE_TESTS_ONLY=1, tests/conftest.py says which they are).
WORKERS="${ANLAUF_TEST_WORKERS:-2}"
XDIST=()
if [ "$WORKERS" != 0 ]; then
  XDIST=(-n "$WORKERS" --dist loadfile)
fi
LOGS="$(mktemp -d)"
step "Tests on PostgreSQL (Redis, real arq workers) and on SQLite (jobs in-process), side by side"
ANLAUF_TEST_DATABASE_URL="$PG_URL" ANLAUF_TEST_REDIS_URL="$REDIS_URL" \
  ANLAUF_TEST_DATABASE_TESTS_ONLY=1 ANLAUF_TEST_REDIS_DBS="${ANLAUF_TEST_PG_REDIS_DBS:-9,10,11}" \
  "$VENV/bin/python" -m pytest -q "${XDIST[@]}" "$@" >"$LOGS/postgresql.log" 2>&1 &
PG_PID=$!
ANLAUF_TEST_DATABASE_URL="" ANLAUF_TEST_REDIS_URL="${ANLAUF_TEST_SQLITE_REDIS_URL:-redis://127.0.0.1:6379/8}" \
  ANLAUF_TEST_REDIS_DBS="${ANLAUF_TEST_SQLITE_REDIS_DBS:-8,12,13}" \
  "$VENV/bin/python" -m pytest -q "${XDIST[@]}" "$@" >"$LOGS/sqlite.log" 2>&1 &
SQLITE_PID=$!
PG_RC=0; wait "$PG_PID" || PG_RC=$?
SQLITE_RC=0; wait "$SQLITE_PID" || SQLITE_RC=$?

step "Tests on PostgreSQL, with Redis and a real arq worker (exit $PG_RC)"
cat "$LOGS/postgresql.log"
step "Tests on SQLite, jobs in-process (exit $SQLITE_RC)"
cat "$LOGS/sqlite.log"
rm -rf "$LOGS"
if [ "$PG_RC" != 0 ] || [ "$SQLITE_RC" != 0 ]; then
  exit 1
fi
