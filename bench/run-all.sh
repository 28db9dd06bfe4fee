#!/bin/sh
# `make bench` entry: every benchmark, one after the other, on this machine.
# Usage: bench/run-all.sh [path/to/vodgate]   (default build/vodgate)
# Runs bench/http.sh (HTTP: vodgate vs Express vs nginx, vodgate vs Node
# receiver), then bench/sig.sh and bench/store.sh when they exist. Each is a
# report, not a test: a failing one is noted and the others still run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/vodgate}
status=0
for b in http sig store; do
  script="$here/$b.sh"
  [ -f "$script" ] || continue
  echo "==== bench/$b.sh ===="
  rc=0
  sh "$script" "$bin" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "bench/$b.sh failed (exit $rc)" >&2
    status=1
  fi
done
exit $status
