#!/bin/sh
# make run: serve on the embedded default (SQLite under ./var).
#
# With a configuration (VODGATE_CONFIG, or ./vodgate.ini) it just serves it.
# Without VOD credentials it starts a local development stack: generated
# development keys under var/dev/ (kept across runs), a configuration that
# uses them, and instructions to get a token and a signature.
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
port=${PORT:-8080}
cat > "$dev/vodgate.ini" <<INI
; Development configuration written by 'make run' (scripts/run.sh).
; The keys are generated for this machine only; VOD would reject them.
[server]
listen = 127.0.0.1:$port
db = $dev/vodgate.db
data_dir = $dev
cors_origins = *

[vod]
secret_id = AKIDvodgatedevelopment
secret_key_file = $dev/vod-secret.key

[auth]
jwt_hs256_secret_file = $dev/jwt-hs256.secret

[policy default]
validity = 3600
signatures_per_upload = 10
uploads_per_day = 100
INI
cat <<MSG
vodgate: no VOD credentials configured; starting the local development stack
  config:  $dev/vodgate.ini (generated keys in $dev/)
  listen:  http://127.0.0.1:$port

Get a token for a user and an upload signature (in another shell):

  TOKEN=\$($bin jwt --sub alice --secret-file $dev/jwt-hs256.secret)
  curl -s -X POST http://127.0.0.1:$port/v1/upload-signatures -H "Authorization: Bearer \$TOKEN"

Check a signature:

  VODGATE_VOD_SECRET_KEY=\$(cat $dev/vod-secret.key) $bin inspect SIGNATURE

For real uploads put your SecretId/SecretKey in a config file (see
docs/configuration.md) and run 'make run' again with VODGATE_CONFIG=FILE.
Stop with Ctrl-C.

MSG
exec "$bin" serve --config "$dev/vodgate.ini"
