# Sourced by start.sh and test.sh: create .venv and install the hash-locked dependencies
# when they changed since the last install (a stamp file holds their hash).
#   requirements.txt      -> requirements.lock      (runtime)
#   requirements-dev.txt  -> requirements-dev.lock  (tests, browser tests, cluster scoring)
# Every package of the whole dependency tree is pinned with its hashes and installed with
# --require-hashes; scripts/lock.sh regenerates the lock files after requirements*.txt change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
requirements="$1"
lock="${requirements%.txt}.lock"
if [ ! -f "$lock" ]; then
    echo "ecgreview: $lock is missing; run scripts/lock.sh" >&2
    exit 2
fi
# Every pin of the .txt files must be in the lock (else the lock is stale: run scripts/lock.sh).
"$PYTHON" - "$requirements" "$lock" <<'PY'
import re, sys
from pathlib import Path

def pins(path, seen=()):
    found = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            found |= pins(Path(path).parent / line[2:].strip())
        elif "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name.split("[")[0].strip().lower())] = version.split(";")[0].split()[0]
    return found

wanted, locked = pins(sys.argv[1]), pins(sys.argv[2])
stale = [f"{name}=={version}" for name, version in sorted(wanted.items()) if locked.get(name) != version]
if stale:
    sys.exit(f"ecgreview: {sys.argv[2]} does not pin {', '.join(stale)} from {sys.argv[1]}; run scripts/lock.sh")
PY
if [ ! -x .venv/bin/python ]; then
    echo "ecgreview: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-$(cat requirements*.lock | sha256sum | cut -c1-16)-$(basename "$lock")
if [ ! -f "$stamp" ]; then
    echo "ecgreview: installing $lock into .venv (first run takes a few minutes)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
    # The package itself, editable (pyproject.toml), so `import ecgreview` and the `ecgreview`
    # command work from any folder; its dependencies are the locked ones above.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
    touch "$stamp"
fi
