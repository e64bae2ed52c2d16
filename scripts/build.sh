#!/usr/bin/env bash
# Configures and builds Strata into ${BUILD_DIR:-build} (Release). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$build_dir" -j"$(nproc)"
