#!/bin/sh
# Runs every libFuzzer target of a fuzz build over its corpus for N seconds.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -eu
build=$1; secs=${2:-30}
cd "$(dirname "$0")/.."
rc=0
for exe in "$build"/fuzz_* "$build"/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=${exe##*/fuzz_}
  corpus=fuzz/corpus/$name
  mkdir -p "$corpus" fuzz/artifacts
  dict=""; [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
  echo "== fuzz_$name for ${secs}s =="
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$secs" -artifact_prefix=fuzz/artifacts/ $dict "$corpus" 2>&1 | tail -3 || rc=1
done
exit $rc
