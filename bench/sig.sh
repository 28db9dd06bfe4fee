#!/bin/sh
# Upload-signature throughput on one core beside the raw OpenSSL floor.
# Usage: bench/sig.sh [BUILD_DIR] [SECONDS_PER_OPERATION] [SLICE_MS]
# Builds bench_sig on demand (it is not part of `make` or `make test`) and
# pins it to one CPU when taskset is available.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build" bench/bench_sig >/dev/null
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
exec $pin "$build/bench/bench_sig" "${2:-2}" "${3:-20}"
