#!/bin/sh
# make run: until 'vodgate serve' exists, a short demo of sign and inspect.
set -eu
bin=${1:-build/vodgate}
echo "== vodgate sign (demo key; real keys come from VODGATE_VOD_SECRET_KEY) =="
sig=$(VODGATE_VOD_SECRET_KEY=demo-secret-key "$bin" sign --secret-id AKIDdemo --validity 600)
echo "$sig"
echo "== vodgate inspect =="
echo "$sig" | VODGATE_VOD_SECRET_KEY=demo-secret-key "$bin" inspect -
