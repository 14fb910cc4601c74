#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (README: "Run the tests").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${TROUPE_BUILD_DIR:-build}"
ctest --output-on-failure -j "${TROUPE_JOBS:-$(nproc)}" "$@"
