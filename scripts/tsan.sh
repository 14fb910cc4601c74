#!/usr/bin/env bash
# ThreadSanitizer run for the actor code. TSan only sees synchronisation in instrumented code, and
# Debian's libcaf_core.so is not instrumented, so every hand-off through a CAF mailbox would read
# as a race. This script therefore:
#   1. builds CAF 0.17.6 (libcaf_core + libcaf_io only) with -fsanitize=thread into a scratch
#      prefix, once (skipped when the prefix already holds it);
#   2. configures build-tsan with -DTROUPE_SANITIZE=thread against that prefix (CAF_ROOT);
#   3. builds the runtime and agents tests (only those) and runs them under TSan
#      (ctest -L 'runtime|agents'); any TSan report fails the test (exitcode 66).
# Usage: scripts/tsan.sh [--caf-only | ctest args...]
# Environment: CAF_SRC (a CAF 0.17.6 source tree or a git dir holding tag 0.17.6; default: the
# mirror path below), TROUPE_CAF_TSAN_PREFIX (default .cache/caf-tsan), TROUPE_BUILD_DIR
# (default build-tsan), TROUPE_JOBS (default nproc), TROUPE_TSAN_TARGETS (default: the
# test_runtime_* and test_agents_* executables), TROUPE_CMAKE_ARGS (extra configure arguments,
# e.g. the ccache launcher).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
prefix=${TROUPE_CAF_TSAN_PREFIX:-$root/.cache/caf-tsan}
build_dir=${TROUPE_BUILD_DIR:-build-tsan}
jobs=${TROUPE_JOBS:-$(nproc)}
caf_src=${CAF_SRC:-/work/.mirror/actor-framework+actor-framework/repo}
tsan_flags="-fsanitize=thread -fno-omit-frame-pointer"

if [[ ! -f "$prefix/lib/libcaf_core.so" || ! -f "$prefix/lib/libcaf_io.so" ]]; then
  work="$root/.cache/caf-tsan-build" # kept until the install succeeds, so a rerun resumes
  if [[ ! -f "$work/src/libcaf_core/CMakeLists.txt" ]]; then
    rm -rf "$work"
    mkdir -p "$work/src"
    if [[ -f "$caf_src/libcaf_core/CMakeLists.txt" ]]; then
      cp -r "$caf_src/." "$work/src"
    else
      git --git-dir="$caf_src" archive 0.17.6 | tar -x -C "$work/src"
    fi
    # 0.17.6 relies on <limits> arriving indirectly, which g++ 12's library no longer does.
    sed -i 's|^#include <memory>$|#include <limits>\n#include <memory>|' \
      "$work/src/libcaf_io/caf/io/network/receive_buffer.hpp"
  fi
  cmake -S "$work/src" -B "$work/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_CXX_FLAGS="-std=c++11 $tsan_flags" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCAF_NO_EXAMPLES=yes -DCAF_NO_TOOLS=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENSSL=yes \
    -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_SUMMARY=yes -DCAF_LOG_LEVEL=QUIET >/dev/null
  cmake --build "$work/build" -j "$jobs"
  cmake --install "$work/build" >/dev/null
  rm -rf "$work"
fi
[[ "${1:-}" == "--caf-only" ]] && exit 0

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTROUPE_SANITIZE=thread -DCAF_ROOT="$prefix" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" ${TROUPE_CMAKE_ARGS:-} >/dev/null
targets=${TROUPE_TSAN_TARGETS:-$(ninja -C "$build_dir" -t targets all |
  sed -n 's/^\(test_\(runtime\|agents\)_[a-z0-9_]*\):.*/\1/p' | sort -u | tr '\n' ' ')}
# shellcheck disable=SC2086
cmake --build "$build_dir" -j "$jobs" --target $targets
cd "$build_dir"
TSAN_OPTIONS=${TSAN_OPTIONS:-"halt_on_error=0 second_deadlock_stack=1 exitcode=66"} \
  ctest --output-on-failure -L 'runtime|agents' "$@"
