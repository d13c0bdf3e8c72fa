#!/usr/bin/env bash
# Regenerate the hash-pinned lock files from the requirements*.txt files:
#   requirements.lock      runtime (the image and start.sh install it)
#   requirements-dev.lock  tests, browser tests, cluster scoring (test.sh and CI install it)
# Rerun after any change to requirements*.txt, then commit the .txt and .lock files together.
# Uses pip-tools in its own throwaway virtualenv (never .venv) and resolves from PyPI only:
# no local indexes, find-links or constraint files, so the lock means the same everywhere.
# The lock is for the Python that runs this script (the image uses Python 3.11).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
tools="${ECGREVIEW_LOCK_TOOLS:-${TMPDIR:-/tmp}/ecgreview-pip-tools}"
for variable in $(env | grep -o '^PIP_[A-Z_]*' | grep -v -e '^PIP_CERT$' -e '^PIP_DEFAULT_TIMEOUT$' || true); do
    unset "$variable"
done
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x "$tools/bin/pip-compile" ]; then
    "$PYTHON" -m venv "$tools"
    "$tools/bin/pip" install --quiet --index-url https://pypi.org/simple pip-tools==7.6.2
fi
compile() {
    "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
        --index-url https://pypi.org/simple --output-file "$2" "$1"
}
compile requirements.txt requirements.lock
compile requirements-dev.txt requirements-dev.lock
echo "ecgreview: wrote requirements.lock and requirements-dev.lock ($("$PYTHON" --version))" >&2
