#!/bin/sh
# Fails if any C source uses a function from the banned list (STYLE.md 11).
set -eu
cd "$(dirname "$0")/.."
banned='sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|atof|sscanf|gets|strncpy|strncat|system|popen|tmpnam|mktemp'
files=$(find src tests fuzz bench -name node_modules -prune -o -name '*.[ch]' -print 2>/dev/null)
[ -n "$files" ] || exit 0
# \b before, '(' after; allow snprintf/vsnprintf by the word boundary.
if grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" $files; then
  echo "check-banned: the calls above use banned functions (see docs/STYLE.md)" >&2
  exit 1
fi
echo "ok 1 - no banned functions"
echo "1..1"
