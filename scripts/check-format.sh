#!/bin/sh
# Fails if any tracked C file differs from what .clang-format says (TAP).
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null 2>&1 || { echo "1..0 # SKIP clang-format not installed"; exit 0; }
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find src tests fuzz bench -name node_modules -prune -o -name '*.[ch]' -print)
fi
if clang-format --dry-run --Werror $files 2>&1 | head -20 | grep .; then
  echo "not ok 1 - clang-format (run 'make format')"
  echo "1..1"
  exit 1
fi
echo "ok 1 - sources match .clang-format"
echo "1..1"
