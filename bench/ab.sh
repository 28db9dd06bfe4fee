#!/bin/bash
# The quick A/B loop of docs/benchmarks.md: two vodgate binaries (or one
# binary under two settings) alternated on the signature load, with what
# each costs per request on each of its threads.
#
# Usage: bench/ab.sh BIN_A BIN_B [RUNS] [SECONDS]
#   RUNS (default 3) pairs of runs, each SECONDS (default 8) of
#   `wrk -t1 -c64 --latency -s bench/wrk/sig.lua` after a 2 s warm-up.
#   Settings: A_ENV / B_ENV hold extra VAR=value words for each side, e.g.
#   A_ENV="VODGATE_SERVER_SIGNATURE_FLUSH_MS=10" B_ENV="VODGATE_SERVER_SIGNATURE_FLUSH_MS=5"
#   bench/ab.sh build/vodgate build/vodgate
# Prints per run: req/s, p50, p99, the machine's idle share, and server CPU
# in microseconds per request for each thread (from /proc/<pid>/task/*/stat)
# and in all. Single runs on a shared VM move by 10-15 %: read the series.
set -eu
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); RUNS=${3:-3}; SECS=${4:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/vg-ab-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/vg.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
db = $TMP/vodgate.db
data_dir = $TMP/data
[vod]
secret_id = AKIDbench
[policy default]
validity = 86400
uploads_per_day = 0
signatures_per_minute = 0
signatures_per_upload = 0
EOF
export VODGATE_VOD_SECRET_KEY=benchkeybenchkeybenchkey
export VODGATE_AUTH_JWT_HS256_SECRET=jwtsecretjwtsecretjwtsecretjwtsecret
export BENCH_SIG_BODY='{}'
BENCH_TOKEN=$("$A" jwt --sub bench --ttl 86400)
export BENCH_TOKEN
URL="http://127.0.0.1:$PORT/v1/upload-signatures"
ticks() { awk '{print $14 + $15}' "$1"; }

run() { # NAME BIN ENVWORDS
  rm -rf "$TMP/vodgate.db"* "$TMP/data"
  env $3 "$2" serve --config "$TMP/vg.ini" 2>"$TMP/log" &
  local pid=$! i
  for i in $(seq 100); do grep -q '"listening"' "$TMP/log" 2>/dev/null && break; sleep 0.05; done
  wrk -t1 -c64 -d2s -s "$HERE/wrk/sig.lua" "$URL" >/dev/null
  declare -A t0
  for t in /proc/$pid/task/*; do t0[$t]=$(ticks "$t/stat"); done
  local s0 s1 out req
  s0=$(head -1 /proc/stat)
  out=$(wrk -t1 -c64 -d"${SECS}s" --latency -s "$HERE/wrk/sig.lua" "$URL")
  s1=$(head -1 /proc/stat)
  req=$(echo "$out" | awk '/requests in/{print $1}')
  local line total=0 hz
  hz=$(getconf CLK_TCK)
  line="$1 $(echo "$out" | awk '/Requests\/sec/{printf "%.0f req/s", $2}')"
  line="$line  p50 $(echo "$out" | awk '/ 50%/{print $2}')  p99 $(echo "$out" | awk '/ 99%/{print $2}')"
  line="$line  idle $(python3 -c "a='''$s0'''.split()[1:]; b='''$s1'''.split()[1:]
d=[int(y)-int(x) for x,y in zip(a,b)]; print('%.1f%%' % (100*d[3]/sum(d)))")  us/req:"
  declare -A per
  for t in /proc/$pid/task/*; do
    local d n
    d=$(( $(ticks "$t/stat") - ${t0[$t]:-0} ))
    [ "$d" -gt 0 ] || continue
    n=$(cat "$t/comm")
    per[$n]=$(( ${per[$n]:-0} + d ))
    total=$((total + d))
  done
  for n in "${!per[@]}"; do
    line="$line $n=$(python3 -c "print('%.1f' % (${per[$n]} * 1e6 / $hz / $req))")"
  done
  line="$line total=$(python3 -c "print('%.1f' % ($total * 1e6 / $hz / $req))")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$line"
}

for r in $(seq "$RUNS"); do
  run A "$A" "${A_ENV:-}"
  run B "$B" "${B_ENV:-}"
done
