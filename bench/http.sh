#!/bin/sh
# HTTP benchmark: vodgate vs the official Node sample on Express vs nginx
# (signatures), vodgate vs an Express + better-sqlite3 receiver (events).
# Usage: bench/http.sh [path/to/vodgate]; knobs and method: bench/http.sh --help.
# The driver is Python (stdlib only); it is not named http.py because that
# would shadow the standard library's http package.
exec python3 "$(dirname "$0")/httpbench.py" "$@"
