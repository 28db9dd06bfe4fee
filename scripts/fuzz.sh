#!/bin/sh
# Runs every libFuzzer target of a fuzz build over its corpus for N seconds.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -eu
build=$1; secs=${2:-30}
cd "$(dirname "$0")/.."
rc=0
for exe in "$build"/fuzz_* "$build"/fuzz/fuzz_*; do  # meson puts them in fuzz/
  [ -f "$exe" ] && [ -x "$exe" ] || continue  # skip the .p object dirs
  name=${exe##*/fuzz_}
  corpus=fuzz/corpus/$name
  # New inputs go to a scratch corpus in the build dir (listed first, so
  # libFuzzer writes there); the committed seed corpus is only read.
  scratch=$build/corpus/$name
  mkdir -p "$corpus" "$scratch" fuzz/artifacts
  dict=""; [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
  echo "== fuzz_$name for ${secs}s =="
  # Not a pipe into tail: the fuzzer's exit status (a crash) must count.
  log=fuzz/artifacts/fuzz_$name.log
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$secs" -artifact_prefix=fuzz/artifacts/ $dict "$scratch" "$corpus" >"$log" 2>&1 || rc=1
  tail -3 "$log"
done
exit $rc
