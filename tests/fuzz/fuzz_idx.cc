// IDX reader (Fashion-MNIST files): magic, dtype, rank, dimensions, payload size.
#include "strata/datasets/idx.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = strata::fuzz::write_input("input.idx", data, size);
  strata::fuzz::expect_clean([&] { strata::read_idx(path); });
  return 0;
}
