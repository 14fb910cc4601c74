#!/usr/bin/env bash
# Configures and builds troupe into build/ (Release with debug info, Ninja). Extra arguments
# go to CMake's configure step, e.g. scripts/build.sh -DTROUPE_SANITIZE=address.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${TROUPE_BUILD_DIR:-build}
jobs=${TROUPE_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${TROUPE_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
