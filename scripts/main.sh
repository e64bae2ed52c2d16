#!/usr/bin/env bash
# The README's main job: install dependencies, build, train the Fashion-MNIST MLP with a version
# log and TensorBoard event files, then show the history.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
log_dir="${LOG_DIR:-runs/fashion_mnist}"
./build/examples/train_fashion_mnist --model mlp --epochs "${EPOCHS:-10}" --threads 2 --log-dir "$log_dir" "$@"
if [ -x ./build/tools/strata ]; then ./build/tools/strata log --log "$log_dir" --all; fi
