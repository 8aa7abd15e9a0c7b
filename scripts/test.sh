#!/usr/bin/env bash
# Install everything (test tools and Chromium included), lint, check formatting, then run every test.
# Extra arguments go to pytest, e.g.: scripts/test.sh -m "not e2e"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python -m pytest -q "$@"
