// .npz (zip of .npy, stored or deflated), .npy and .safetensors readers (strata import).
#include "strata/versioning/tensor_files.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::versioning;
  for (const char* name : {"params.npz", "params.safetensors", "tensor.npy"}) {
    std::string path = strata::fuzz::write_input(name, data, size);
    strata::fuzz::expect_clean([&] {
      if (std::string(name) == "tensor.npy")
        read_npy(path);
      else
        read_tensor_file(path);
    });
  }
  return 0;
}
