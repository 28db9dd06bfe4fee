#!/bin/sh
# A throwaway PostgreSQL server for tests (STACK.md 6.5).
#
#   scripts/pg-test-server.sh start DIR     init + start a cluster in DIR (created;
#                                           its parent must be searchable by postgres;
#                                           must not exist); prints its URL
#   scripts/pg-test-server.sh stop DIR      stop it (DIR is left for inspection)
#   scripts/pg-test-server.sh restart DIR   restart it (same port and options): every
#                                           client connection is dropped
#   scripts/pg-test-server.sh run CMD ARGS  start a server in a temporary directory,
#                                           run CMD with VODGATE_STORE_URL and
#                                           VODGATE_PG_URL set to it (and VODGATE_PG_DIR
#                                           to its DIR, for `restart`), stop it, remove
#                                           the directory; exits with CMD's status
#
# The server listens on 127.0.0.1 on a free port and on a unix socket in DIR,
# trusts local connections (a test cluster holds no secrets) and uses UTF-8.
# Without PostgreSQL binaries, `run` prints a TAP "1..0 # SKIP" plan and exits 0,
# so a test suite built on it is reported as skipped, never as passed.
# PG_BIN overrides the directory of initdb/pg_ctl.
set -eu

find_bin() {
  b=
  for d in ${PG_BIN:-/usr/lib/postgresql/*/bin}; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && b=$d
  done
  [ -n "$b" ] && echo "$b"
}

# Runs a command as the cluster owner: initdb refuses to run as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  dir=$1
  bin=$(find_bin) || { echo "pg-test-server: no PostgreSQL binaries (set PG_BIN)" >&2; exit 1; }
  mkdir -p "$dir"
  chmod 0700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  for try in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      echo "postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    # Another process may have taken the port between the probe and the bind.
    sleep 0.2
  done
  echo "pg-test-server: the server did not start; its log:" >&2
  tail -n 30 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  dir=$1
  bin=$(find_bin) || exit 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

restart() {
  dir=$1
  bin=$(find_bin) || { echo "pg-test-server: no PostgreSQL binaries (set PG_BIN)" >&2; exit 1; }
  # pg_ctl restart reuses the options of the last start (postmaster.opts).
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 restart \
    >/dev/null 2>&1 || { tail -n 30 "$dir/server.log" >&2; exit 1; }
}

case "${1:-}" in
restart) [ $# -eq 2 ] || { echo "usage: $0 restart DIR" >&2; exit 2; }; restart "$2" ;;
start) [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }; start "$2" ;;
stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
run)
  shift
  [ $# -ge 1 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
  if ! find_bin >/dev/null; then
    echo "1..0 # SKIP PostgreSQL server binaries not found (${PG_BIN:-/usr/lib/postgresql/*/bin}; install postgresql)"
    exit 0
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "1..0 # SKIP running as root and there is no 'postgres' user to own the cluster"
    exit 0
  fi
  tmp=$(mktemp -d /tmp/vg-pg-XXXXXX)
  chmod 0711 "$tmp" # the cluster owner must reach DIR below it
  trap 'stop "$tmp/pg"; rm -rf "$tmp"' EXIT INT TERM
  url=$(start "$tmp/pg")
  set +e
  VODGATE_STORE_URL=$url VODGATE_PG_URL=$url VODGATE_PG_DIR=$tmp/pg "$@"
  rc=$?
  set -e
  exit $rc
  ;;
*) echo "usage: $0 start DIR | stop DIR | restart DIR | run CMD [ARGS...]" >&2; exit 2 ;;
esac
