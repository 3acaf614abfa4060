#!/usr/bin/env bash
# The whole test suite (GUI tests run on an Xvfb display that pytest-xvfb starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy   # the type check of src/ (configured in pyproject.toml)
exec .venv/bin/python -m pytest "$@"
