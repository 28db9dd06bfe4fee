#!/bin/sh
# Fails if any C source uses a function from the banned list (STYLE.md 11),
# or includes a library header outside the one module that wraps it (the
# thin layers around the pure core: libcurl only in src/net/http_client.c,
# libmicrohttpd only in src/http/http.c).
set -eu
cd "$(dirname "$0")/.."
banned='sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|atof|sscanf|gets|strncpy|strncat|system|popen|tmpnam|mktemp'
files=$(find src tests fuzz bench -name node_modules -prune -o -name '*.[ch]' -print 2>/dev/null)
[ -n "$files" ] || exit 0
fail=0
# \b before, '(' after; allow snprintf/vsnprintf by the word boundary.
if grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" $files; then
  echo "check-banned: the calls above use banned functions (see docs/STYLE.md)" >&2
  echo "not ok 1 - no banned functions"
  fail=1
else
  echo "ok 1 - no banned functions"
fi

# only_in N HEADER FILE: HEADER is included by FILE and nothing else.
only_in() {
  n=$1 hdr=$2 owner=$3
  if grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$hdr[>\"]" $files | grep -v "^$owner:"; then
    echo "check-banned: only $owner includes $hdr (the files above must go through it)" >&2
    echo "not ok $n - only $owner includes $hdr"
    fail=1
  else
    echo "ok $n - only $owner includes $hdr"
  fi
}
only_in 2 curl/curl.h src/net/http_client.c
only_in 3 microhttpd.h src/http/http.c
echo "1..3"
exit $fail
