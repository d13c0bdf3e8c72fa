#!/usr/bin/env bash
# Set up (first run) and start ecgreview on the bundled demo ECG: http://127.0.0.1:8501
# Extra arguments go to `streamlit run` (e.g. --server.port 8502).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh requirements.txt
# Weights: install the official release when none is installed yet. Offline this
# fails with a message, and the app still starts for reading and recording.
if ! .venv/bin/python -m ecgreview model status --quiet; then
    .venv/bin/python -m ecgreview model install || \
        echo "ecgreview: no model weights yet; the app will say how to add them." >&2
fi
# app.py is served with its guards (ecgreview/ui/server_guards.py): security headers on every response.
exec .venv/bin/python -m streamlit run app.py "$@"
