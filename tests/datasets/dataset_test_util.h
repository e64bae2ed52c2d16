// Helpers of the dataset tests: a temporary directory removed with everything in it, and one
// epoch of a DataLoader as kept batches. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/datasets/data_loader.h"
#include "tests/temp_dir.h"

namespace strata::dtest {

using TempDir = strata::test::TempDir;

// Every batch of one epoch, cloned (the loader reuses its buffers).
inline std::vector<Batch> run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back({b.x.clone(), b.y.clone(), b.size, b.epoch, b.index});
  return out;
}

}  // namespace strata::dtest
