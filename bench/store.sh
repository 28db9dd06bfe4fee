#!/bin/sh
# Store benchmark (docs/benchmarks.md, "Store"): acknowledged single-row writes/s
# through store.h with 64 concurrent writers, group commit vs one commit per write
# (and store_submit with 64 writes in flight),
# synchronous=FULL (NORMAL for reference), 130-byte and 3 KB rows, on SQLite; then
# group commit on a throwaway PostgreSQL 15 (scripts/pg-test-server.sh) if installed.
#
# Usage: bench/store.sh [BUILD_DIR | path/to/BUILD_DIR/vodgate]   (default: build)
# Env: ROUNDS (3) runs per configuration, the median is reported; THREADS (64);
#      SKIP_PG=1. Prints each run as a JSON line, then a median table.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build" ] && build=$(dirname "$build")
ninja -C "$build" bench/bench_store >/dev/null
bin=$build/bench/bench_store
threads=${THREADS:-64}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d /tmp/vg-bench-store-XXXXXX)
chmod 0711 "$tmp" # the PostgreSQL cluster owner must reach $tmp/pg
trap 'rm -rf "$tmp"' EXIT
out=$tmp/results.jsonl
n=0
run() { # backend-url mode sync body writes
  n=$((n + 1))
  url=$1
  [ "$url" = sqlite ] && url="sqlite:$tmp/db$n/bench.db"
  "$bin" --url "$url" --threads "$threads" --mode "$2" --sync "$3" --body-bytes "$4" \
    --writes "$5" 2>/dev/null | tee -a "$out"
  rm -rf "$tmp/db$n"
}
echo "# $(nproc) CPUs, $(uname -r), $(sqlite3 --version 2>/dev/null | cut -d' ' -f1) sqlite3 CLI"
for r in $(seq "$rounds"); do
  for body in 130 3000; do
    for sync in full normal; do
      # one commit per write is ~10x slower: fewer writes, the rate is what matters
      run sqlite single "$sync" "$body" 50
      run sqlite group "$sync" "$body" 300
      run sqlite async "$sync" "$body" 300
    done
  done
done
if [ "${SKIP_PG:-0}" != 1 ]; then
  pgurl=$(scripts/pg-test-server.sh start "$tmp/pg") || pgurl=
  if [ -n "$pgurl" ]; then
    for r in $(seq "$rounds"); do
      for body in 130 3000; do run "$pgurl" group full "$body" 200; done
    done
    scripts/pg-test-server.sh stop "$tmp/pg"
    # the cluster's files belong to postgres; rm -rf as root removes them
  fi
fi
python3 - "$out" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    groups.setdefault((r["backend"], r["body_bytes"], r["sync"], r["mode"]), []).append(r)
print("\n| backend | row bytes | synchronous | commit | writes/s (median, min-max) | p50 ms | p99 ms (worst) | CPU us/write | other load |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for k, rs in groups.items():
    w = sorted(x["writes_per_s"] for x in rs)
    med = statistics.median(w)
    p50 = statistics.median(x["p50_us"] for x in rs) / 1000
    p99 = max(x["p99_us"] for x in rs) / 1000
    cpu = statistics.median(x["cpu_us_per_write"] for x in rs)
    other = statistics.median(x["other_load"] for x in rs)
    print(f"| {k[0]} | {k[1]} | {k[2].upper()} | { {'group': 'group (64 threads)', 'single': 'one per write', 'async': 'group (store_submit, 64 in flight)'}[k[3]] } | "
          f"{med:,.0f} ({w[0]:,.0f}-{w[-1]:,.0f}) | {p50:.1f} | {p99:.1f} | {cpu:.0f} | {other:.2f} |")
PY
