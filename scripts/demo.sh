#!/usr/bin/env bash
# Sets up, builds and runs the default scenario (README: "Run the default scenario").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec "${TROUPE_BUILD_DIR:-build}/bin/troupe" run configs/scenarios/debate.yaml "$@"
