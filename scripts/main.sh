#!/usr/bin/env bash
# The main job: simulate a Brownian pair, track it, print the comparison table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/napari-mpt compare "$@"
