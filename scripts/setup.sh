# Sourced by start.sh and test.sh: create .venv and install pinned dependencies
# when requirements changed since the last install (a stamp file holds their hash).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
requirements="$1"
if [ ! -x .venv/bin/python ]; then
    echo "ecgreview: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")
if [ ! -f "$stamp" ]; then
    echo "ecgreview: installing $requirements into .venv (first run takes a few minutes)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
fi
