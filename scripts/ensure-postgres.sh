#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl) are on this machine for the PostgreSQL storage tests,
# which start a private server of their own (test/helpers/postgres-server.ts): nothing is configured or started
# here. Idempotent: with the binaries in $PG_BIN, /usr/lib/postgresql/<version>/bin (Debian) or PATH it changes
# nothing; otherwise, as root, it installs Debian's `postgresql` package.
set -euo pipefail

has_bins() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ]; }
find_bins() {
  local d
  if [ -n "${PG_BIN:-}" ] && has_bins "$PG_BIN"; then echo "$PG_BIN"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
    if has_bins "$d"; then echo "$d"; return 0; fi
  done
  d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  if has_bins "$d"; then echo "$d"; return 0; fi
  return 1
}

if bin=$(find_bins); then
  echo "postgres: server binaries in $bin"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "postgres: initdb/pg_ctl not found; install Debian's postgresql package (sudo apt-get install -y postgresql) or set PG_BIN" >&2
  exit 1
fi
echo "postgres: installing Debian's postgresql package (server binaries for the PostgreSQL storage tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql
bin=$(find_bins) || { echo "postgres: postgresql installed, yet no initdb/pg_ctl found" >&2; exit 1; }
echo "postgres: server binaries in $bin"
