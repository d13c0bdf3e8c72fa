#!/usr/bin/env bash
# Set up (first run) and run the whole test suite, browser tests included.
# Extra arguments go to pytest (e.g. -m "not browser", -x, -k name).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "ecgreview: installing Debian's Chromium for the browser tests" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
            echo "ecgreview: could not install chromium; browser tests will skip (fail under CI)" >&2
    else
        echo "ecgreview: chromium not found (apt-get install chromium); browser tests will skip (fail under CI)" >&2
    fi
fi
exec .venv/bin/python -m pytest "$@"
