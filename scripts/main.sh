#!/usr/bin/env bash
# The main job: napari with the plugin docked, a Brownian pair, MHT and the transformer
# run on it. With no display it renders on its own Xvfb, writes out/napari-mpt-demo.png
# and prints the comparison table (`napari-mpt demo --help` for options).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/napari-mpt demo "$@"
