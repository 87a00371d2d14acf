#!/usr/bin/env bash
# Install and start what the tests need: a PostgreSQL server and Debian's Chromium.
# As root (CI, a fresh dev machine) it installs missing Debian packages; otherwise it uses
# what is there and says plainly which tests will be skipped. It writes the connection
# details to test-artifacts/services.env, which tests/conftest.py reads.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
envfile=test-artifacts/services.env
: > "$envfile"

say() { echo "test-services: $*"; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_updated=0
apt_install() {
  is_root || return 1
  if [ $apt_updated = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

# ---- PostgreSQL -------------------------------------------------------------
pg_ok=0
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing postgresql from Debian's packages"
  apt_install postgresql || say "could not install postgresql"
fi
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null; then
  if is_root; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    if ! pg_lsclusters -h | grep -q .; then
      pg_createcluster "$ver" main >/dev/null 2>&1 || true
    fi
    read -r cver cname cport cstatus _ < <(pg_lsclusters -h | head -n1)
    if [ "$cstatus" != online ]; then
      pg_ctlcluster "$cver" "$cname" start >/dev/null 2>&1 || say "could not start PostgreSQL $cver/$cname"
    fi
    for _ in $(seq 1 30); do
      su postgres -c "psql -p $cport -tAc 'select 1'" >/dev/null 2>&1 && break
      sleep 0.5
    done
    su postgres -c "psql -p $cport -tAc \"select 1 from pg_roles where rolname='newswatch'\"" 2>/dev/null | grep -q 1 \
      || su postgres -c "psql -p $cport -qc \"create role newswatch login createdb password 'newswatch'\"" >/dev/null 2>&1
    su postgres -c "psql -p $cport -tAc \"select 1 from pg_database where datname='newswatch_test'\"" 2>/dev/null | grep -q 1 \
      || su postgres -c "createdb -p $cport -O newswatch newswatch_test" >/dev/null 2>&1
    if PGPASSWORD=newswatch psql -h 127.0.0.1 -p "$cport" -U newswatch -d newswatch_test -tAc 'select 1' >/dev/null 2>&1; then
      echo "NEWSWATCH_TEST_PG_URL=postgresql+psycopg://newswatch:newswatch@127.0.0.1:$cport/newswatch_test" >> "$envfile"
      pg_ok=1
    fi
  fi
fi
if [ -n "${NEWSWATCH_TEST_PG_URL:-}" ]; then
  pg_ok=1
fi
[ $pg_ok = 1 ] && say "PostgreSQL ready" || say "no PostgreSQL: PostgreSQL tests will be skipped (run 'make test' as root, or set NEWSWATCH_TEST_PG_URL)"

# ---- Chromium ---------------------------------------------------------------
if ! [ -x /usr/bin/chromium ]; then
  say "installing chromium from Debian's packages"
  apt_install chromium fonts-noto-core || true
fi
if [ -x /usr/bin/chromium ]; then
  echo "NEWSWATCH_CHROMIUM=/usr/bin/chromium" >> "$envfile"
  say "Chromium ready ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
else
  say "no Chromium: browser tests will be skipped (run 'make test' as root, or 'apt-get install chromium')"
fi
exit 0
