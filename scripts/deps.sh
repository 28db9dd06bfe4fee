#!/bin/sh
# Installs the Debian 12 packages vodgate needs to build and test, if any is
# missing. As root it runs apt-get; otherwise it prints the exact command.
# Usage: scripts/deps.sh [build|test|bench]
set -eu
what=${1:-build}
# ca-certificates: libcurl verifies https webhook receivers, [auth] jwks_url
# and the VOD API against them (apt-get --no-install-recommends skips it).
pkgs="build-essential pkg-config meson ninja-build libmicrohttpd-dev libjansson-dev
libjwt-dev libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libinih-dev libcmocka-dev
ca-certificates"
case "$what" in
  test) pkgs="$pkgs python3 nodejs npm curl openssl postgresql sqlite3 clang libclang-rt-14-dev chromium" ;;
  bench) pkgs="$pkgs python3 nodejs npm curl wrk nginx" ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# node and npm may come from elsewhere than Debian's packages (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm): a working command is
# enough.
keep=""
for p in $missing; do
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    chromium) command -v chromium >/dev/null 2>&1 && continue ;;
  esac
  keep="$keep $p"
done
missing=$keep
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "vodgate needs these Debian packages:$missing" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null || apt-get install -y --no-install-recommends $missing
