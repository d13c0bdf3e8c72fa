#!/usr/bin/env bash
# Set up (first run) and run the whole test suite, browser tests included.
# Extra arguments go to pytest (e.g. -m "not browser", -x, -k name; -n 0 runs in one process).
# The tests run on every core (pytest-xdist): each test module is one unit of work, the browser
# tests one unit run by one worker (tests/conftest.py); the 15 slowest are listed at the end.
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
# The DICOMweb tests run a real Orthanc (Debian's orthanc and its DICOMweb plugin); the tests start their own.
if [ ! -x /usr/sbin/Orthanc ] || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "ecgreview: installing Debian's Orthanc and its DICOMweb plugin for the DICOMweb tests" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb >/dev/null) || \
            echo "ecgreview: could not install orthanc; DICOMweb tests will skip (fail under CI)" >&2
    else
        echo "ecgreview: Orthanc not found (apt-get install orthanc orthanc-dicomweb); DICOMweb tests will skip (fail under CI)" >&2
    fi
fi
# The type checker (configuration in pyproject.toml) runs with the whole suite and in CI; a type
# error fails the run like a failing test, after the tests have run.
mypy_status=0
if [ "$#" -eq 0 ] || [ -n "${CI:-}" ]; then
    echo "ecgreview: mypy (type check of ecgreview/)" >&2
    .venv/bin/python -m mypy || mypy_status=$?
fi
pytest_status=0
.venv/bin/python -m pytest --numprocesses=auto --dist=loadgroup --no-loadscope-reorder --durations=15 "$@" \
    || pytest_status=$?
if [ "$pytest_status" -ne 0 ]; then
    exit "$pytest_status"
fi
if [ "$mypy_status" -ne 0 ]; then
    echo "ecgreview: mypy found type errors (above); the run fails" >&2
    exit "$mypy_status"
fi
