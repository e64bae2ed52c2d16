#!/usr/bin/env bash
# Strata vs PyTorch (Debian python3-torch), same nets, batch 128, Adam, 2 threads, alternating
# repetitions. Needs STRATA_BENCH_DEPS=1 scripts/install_deps.sh and a build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
for i in 1 2 3; do
  echo "--- round $i: strata"; OMP_NUM_THREADS=2 ./build/bench/train_step_bench 50
  echo "--- round $i: pytorch"; OMP_NUM_THREADS=2 /usr/bin/python3 bench/train_step_torch.py 50 2
done
