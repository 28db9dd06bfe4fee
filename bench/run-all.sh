#!/bin/sh
# `make bench` entry: every benchmark, one after the other, on this machine.
# Usage: bench/run-all.sh [path/to/vodgate]   (default build/vodgate)
# Runs bench/http.sh with the vodgate binary (HTTP: vodgate vs Express vs
# nginx, vodgate vs a Node receiver), then bench/sig.sh and bench/store.sh,
# when present, with the binary's build directory (they build their own
# bench executables there), then bench/webhook.py with the binary (webhook
# backlog drain at 20 ms per answer). Each is a report, not a test: a failing one is
# noted and the others still run; the exit status says whether any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/vodgate}
builddir=$(dirname "$bin")
status=0
for b in http sig store; do
  script="$here/$b.sh"
  [ -f "$script" ] || continue
  arg=$builddir
  [ "$b" = http ] && arg=$bin
  echo "==== bench/$b.sh $arg ===="
  rc=0
  sh "$script" "$arg" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "bench/$b.sh failed (exit $rc)" >&2
    status=1
  fi
done
echo "==== bench/webhook.py $bin ===="
python3 "$here/webhook.py" "$bin" --events 1000 --latency 20 --concurrency 1,8,32 || {
  echo "bench/webhook.py failed" >&2
  status=1
}
exit $status
