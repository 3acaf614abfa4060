#!/usr/bin/env bash
# The whole test suite (GUI tests run on an Xvfb display that pytest-xvfb starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks scripts docs
.venv/bin/mypy   # the type check of src/ (configured in pyproject.toml)
# the documentation site: a broken link, anchor or stale reference fails here
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
exec .venv/bin/python -m pytest "$@"
