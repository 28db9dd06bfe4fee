#!/bin/sh
# `make demo`: the whole upload flow on loopback, offline.
#   vodgate serve    (signatures, event receiver, ledger) on 127.0.0.1
#   vodgate emulate  (VOD-UGC, COS, events) on 127.0.0.1, pushing to serve
#   vodgate upload   a small sample file as user "demo-user"
# then prints the upload's final state with its review result.
# Usage: scripts/demo.sh [path/to/vodgate] [FILE]
set -eu
BIN=${1:-build/vodgate}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vodgate-demo.XXXXXX")
SERVE_PID=""
EMU_PID=""
cleanup() {
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null || true
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# Demo-only secrets, generated per run (never reuse them anywhere).
VOD_KEY=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
SIGN_KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
SID=AKIDvodgatedemo0000000000000000000000

port_of() { # wait for the "listening" line of a log file, print its port
  i=0
  while [ $i -lt 100 ]; do
    p=$(sed -n 's/.*"msg":"listening","port":\([0-9]*\).*/\1/p' "$1" | head -1)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  echo "demo: $2 did not start; its log:" >&2
  cat "$1" >&2
  return 1
}

cat >"$TMP/vodgate.ini" <<EOF
[server]
listen = 127.0.0.1:0
db = $TMP/vg.db
data_dir = $TMP/serve-data

[vod]
secret_id = $SID

[auth]
jwt_issuer = https://demo.invalid
jwt_audience = vodgate

[policy default]
procedure = ReviewFlow
EOF

VODGATE_VOD_SECRET_KEY=$VOD_KEY VODGATE_AUTH_JWT_HS256_SECRET=$JWT_SECRET \
  VODGATE_VOD_SIGN_KEY=$SIGN_KEY "$BIN" serve --config "$TMP/vodgate.ini" 2>"$TMP/serve.log" &
SERVE_PID=$!
SERVE_PORT=$(port_of "$TMP/serve.log" "vodgate serve")
echo "vodgate serve    on 127.0.0.1:$SERVE_PORT"

VODGATE_VOD_SECRET_KEY=$VOD_KEY VODGATE_VOD_SIGN_KEY=$SIGN_KEY "$BIN" emulate \
  --listen 127.0.0.1:0 --secret-id "$SID" --data-dir "$TMP/emu-data" \
  --callback-url "http://127.0.0.1:$SERVE_PORT/v1/vod/events" 2>"$TMP/emulate.log" &
EMU_PID=$!
EMU_PORT=$(port_of "$TMP/emulate.log" "vodgate emulate")
echo "vodgate emulate  on 127.0.0.1:$EMU_PORT"

# A JWT for user "demo-user" (HS256, 10 minutes), made with openssl.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
NOW=$(date +%s)
HDR=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
PAY=$(printf '{"sub":"demo-user","iss":"https://demo.invalid","aud":"vodgate","iat":%s,"exp":%s}' \
  "$NOW" $((NOW + 600)) | b64url)
SIG=$(printf '%s.%s' "$HDR" "$PAY" | openssl dgst -sha256 -mac HMAC -macopt "key:$JWT_SECRET" -binary | b64url)
TOKEN="$HDR.$PAY.$SIG"

FILE=${2:-}
if [ -z "$FILE" ]; then
  FILE="$TMP/sample.mp4"
  # Any bytes do: the emulator does not transcode. Start the file with
  # "VODGATE-REVIEW:block" to see a blocked upload (docs/emulator.md).
  head -c 300000 /dev/urandom >"$FILE"
fi
echo "uploading $FILE as demo-user"
OUT=$(VODGATE_UPLOAD_TOKEN=$TOKEN "$BIN" upload "$FILE" \
  --signature-url "http://127.0.0.1:$SERVE_PORT/v1/upload-signatures" \
  --emulator "127.0.0.1:$EMU_PORT")
echo "$OUT" | head -2
UPLOAD_ID=$(echo "$OUT" | tail -1 | sed -n 's/.*"uploadId":"\([^"]*\)".*/\1/p')

# Wait for the review to finish (pushed events), then print the ledger row.
i=0
while [ $i -lt 100 ]; do
  ROW=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SERVE_PORT/v1/uploads/$UPLOAD_ID" || true)
  case "$ROW" in *'"state":"passed"'* | *'"state":"blocked"'* | *'"state":"review"'* | *'"state":"rejected"'*) break ;; esac
  sleep 0.1
  i=$((i + 1))
done
echo "final state of upload $UPLOAD_ID:"
echo "$ROW"
