#!/usr/bin/env bash
# The README's test command: install dependencies, check the C++ formatting, build, run the
# whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/check_format.sh
scripts/build.sh -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_BENCH=ON
cd "${BUILD_DIR:-build}" && OMP_NUM_THREADS=2 ctest --output-on-failure -j2
