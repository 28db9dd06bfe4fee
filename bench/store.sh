#!/bin/sh
# Store benchmark: acknowledged single-row writes/s with 64 concurrent threads,
# group commit vs one commit per write, synchronous=FULL (and NORMAL for
# reference), on SQLite; then on a throwaway PostgreSQL 15 if installed.
# Usage: bench/store.sh [BUILD_DIR]   (default: build). Prints JSON lines.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
ninja -C "$build" bench/bench_store >/dev/null
bin=$build/bench/bench_store
threads=${THREADS:-64}
tmp=$(mktemp -d /tmp/vg-bench-store-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
for sync in full normal; do
  for mode in single group; do
    n=$((n + 1))
    # single: fewer writes, it is ~20x slower; the rate is what matters.
    writes=500
    [ "$mode" = single ] && writes=100
    "$bin" --url "sqlite:$tmp/db$n/bench.db" --threads "$threads" --writes "$writes" \
      --mode "$mode" --sync "$sync"
  done
done
if [ "${SKIP_PG:-0}" != 1 ]; then
  scripts/pg-test-server.sh run sh -c \
    "'$bin' --url \"\$VODGATE_STORE_URL\" --threads $threads --writes 300 --mode group" ||
    echo "PostgreSQL run failed" >&2
fi
