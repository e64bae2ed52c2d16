// GraphSpec decoder (the graph stored with every version).
#include "strata/framework/graph/graph_spec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] { strata::GraphSpec::from_bytes(bytes); });
  return 0;
}
