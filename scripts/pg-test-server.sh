#!/usr/bin/env bash
# Start (once) a throwaway PostgreSQL server on 127.0.0.1 for the audit tests and
# print its URL. Installs Debian's postgresql package when the server binaries are
# missing. Idempotent: a server already answering on the port is reused.
set -euo pipefail
PORT="${KADE_PG_PORT:-54329}"
DIR="${KADE_PG_DIR:-/tmp/kade-pg-$PORT}"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN="$(find_bin)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then echo "PostgreSQL server binaries missing; install the postgresql package" >&2; exit 1; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1
  BIN="$(find_bin)"
fi

as_owner() {  # the server refuses to run as root
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  as_owner "'$BIN/initdb' -D '$DIR/data' -A trust -U postgres >'$DIR/initdb.log' 2>&1"
  as_owner "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$DIR' -c fsync=off\" start >/dev/null"
fi
echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
