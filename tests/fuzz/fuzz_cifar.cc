// CIFAR-10 binary batches: 1 label byte + 3072 pixel bytes per record.
#include "strata/datasets/cifar.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = strata::fuzz::write_input("data_batch.bin", data, size);
  strata::fuzz::expect_clean([&] { strata::load_cifar10_batches({path}); });
  return 0;
}
