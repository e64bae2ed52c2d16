#!/usr/bin/env bash
# The README's main job: install dependencies, build, train the Fashion-MNIST MLP with a version
# log and TensorBoard event files, then show the history.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --main
# Only what the main job runs: the example and the strata command (and the libraries under
# them); the other examples, tests and benchmarks are scripts/test.sh's.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_BENCH=OFF > /dev/null
cmake --build build -j"$(nproc)" --target train_fashion_mnist strata
log_dir="${LOG_DIR:-runs/fashion_mnist}"
./build/examples/train_fashion_mnist --model mlp --epochs "${EPOCHS:-10}" --threads 2 --log-dir "$log_dir" "$@"
if [ -x ./build/tools/strata ]; then ./build/tools/strata log --log "$log_dir" --all; fi
