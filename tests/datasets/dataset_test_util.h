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

namespace strata::dtest {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "strata_datasets_XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every batch of one epoch, cloned (the loader reuses its buffers).
inline std::vector<Batch> run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back({b.x.clone(), b.y.clone(), b.size, b.epoch, b.index});
  return out;
}

}  // namespace strata::dtest
