#!/bin/sh
# make run: serve on the embedded default (SQLite under ./var).
#
# With a configuration (VODGATE_CONFIG, or ./vodgate.ini) it just serves it.
# Without VOD credentials it starts the local development stack: generated
# development keys under var/dev/ (kept across runs), vodgate serve wired to
# vodgate emulate (the VOD side), and instructions to upload a file.
set -eu
bin=${1:-build/vodgate}
cfg=${VODGATE_CONFIG:-}
[ -z "$cfg" ] && [ -f vodgate.ini ] && cfg=vodgate.ini
if [ -n "$cfg" ]; then
  echo "vodgate: serving $cfg"
  exec "$bin" serve --config "$cfg"
fi
if [ -n "${VODGATE_VOD_SECRET_ID:-}" ] && [ -n "${VODGATE_VOD_SECRET_KEY:-}${VODGATE_VOD_SECRET_KEY_FILE:-}" ]; then
  echo "vodgate: serving with VOD credentials from the environment"
  exec "$bin" serve
fi

dev=var/dev
mkdir -p "$dev"
chmod 700 "$dev"
umask 077
gen() { [ -s "$1" ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$1"; }
gen "$dev/vod-secret.key"
gen "$dev/jwt-hs256.secret"
gen "$dev/sign.key"
port=${PORT:-8080}
emu_port=${EMU_PORT:-8081}
cat > "$dev/vodgate.ini" <<INI
; Development configuration written by 'make run' (scripts/run.sh).
; The keys are generated for this machine only; VOD would reject them.
; VOD here is 'vodgate emulate' on 127.0.0.1:$emu_port (docs/emulator.md).
[server]
listen = 127.0.0.1:$port
db = $dev/vodgate.db
data_dir = $dev
cors_origins = *

[vod]
secret_id = AKIDvodgatedevelopment
secret_key_file = $dev/vod-secret.key
sign_key_file = $dev/sign.key

[auth]
jwt_hs256_secret_file = $dev/jwt-hs256.secret

[policy default]
validity = 3600
procedure = ReviewFlow
signatures_per_upload = 10
uploads_per_day = 100
INI

VODGATE_VOD_SECRET_KEY=$(cat "$dev/vod-secret.key") VODGATE_VOD_SIGN_KEY=$(cat "$dev/sign.key") \
  "$bin" emulate --listen "127.0.0.1:$emu_port" --secret-id AKIDvodgatedevelopment \
  --data-dir "$dev/emulator" --callback-url "http://127.0.0.1:$port/v1/vod/events" \
  2>"$dev/emulate.log" &
emu_pid=$!
trap 'kill $emu_pid 2>/dev/null' EXIT INT TERM

cat <<MSG
vodgate: no VOD credentials configured; starting the local development stack
  vodgate serve    http://127.0.0.1:$port  (config $dev/vodgate.ini, keys in $dev/)
  vodgate emulate  http://127.0.0.1:$emu_port  (the VOD side; log $dev/emulate.log)

In another shell, get a token for a user and upload a file through the whole flow:

  $bin jwt --sub alice --secret-file $dev/jwt-hs256.secret > $dev/alice.token
  $bin upload FILE.mp4 --token-file $dev/alice.token \\
      --signature-url http://127.0.0.1:$port/v1/upload-signatures --emulator 127.0.0.1:$emu_port

It prints the FileId and the uploadId; then see the outcome (uploaded, then
passed; a file starting with "VODGATE-REVIEW:block" ends blocked):

  curl -s http://127.0.0.1:$port/v1/uploads/UPLOAD_ID -H "Authorization: Bearer \$(cat $dev/alice.token)"

Or just fetch a signature:

  curl -s -X POST http://127.0.0.1:$port/v1/upload-signatures -H "Authorization: Bearer \$(cat $dev/alice.token)"

For real uploads put your SecretId/SecretKey in a config file (see
docs/configuration.md) and run 'make run' again with VODGATE_CONFIG=FILE.
Stop with Ctrl-C.

MSG
"$bin" serve --config "$dev/vodgate.ini"
