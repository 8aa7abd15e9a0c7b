#!/usr/bin/env bash
# Make ./.venv ready to run the project; safe and fast to run again.
#   scripts/setup.sh            runtime dependencies
#   scripts/setup.sh test       plus the test tools (pytest, Playwright, Milvus Lite) and Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-run}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
py=.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first and pinned: the CPU build; an unpinned torch would pull several GB of CUDA packages.
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0 (CPU build)"
  "$py" -m pip install -q "torch==2.13.0"
fi

# One stamp for both modes: "<sha256 of pyproject.toml> <extras>". An install with the test extra
# also serves `run`, so scripts/run.sh after scripts/test.sh installs nothing.
extras=""
[ "$want" = "test" ] && extras="[test]"
stamp=".venv/.quotebot-installed"
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
stamped_digest="" stamped_extras=""
[ -f "$stamp" ] && read -r stamped_digest stamped_extras < "$stamp" || true
if [ "${stamped_digest:-}" != "$digest" ] || { [ -n "$extras" ] && [ "${stamped_extras:-}" != "$extras" ]; }; then
  echo "setup: installing the project${extras}"
  "$py" -m pip install -q -e ".${extras}"
  echo "$digest $extras" > "$stamp"
fi

if [ "$want" = "test" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
