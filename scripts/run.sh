#!/usr/bin/env bash
# Install what is missing, then serve the chat page on the bundled corpus (http://127.0.0.1:7860).
# Extra arguments go to app.py, e.g.: scripts/run.sh --port 8000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python app.py "$@"
