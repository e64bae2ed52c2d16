// Chunk codec decoders (raw, zstd, shuffle+zstd, float model; keyframe and delta): the header
// is parsed and validated, then the payload decoded against a fixed base chunk.
#include <vector>

#include "strata/versioning/chunk_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::versioning;
  std::string_view value(reinterpret_cast<const char*>(data), size);
  strata::fuzz::expect_clean([&] {
    ChunkHeader header = parse_chunk_header(value);
    std::vector<uint8_t> out(header.raw_size), base(header.raw_size);
    strata::fuzz::fill_base(base.data(), base.size());
    decode_chunk(value, header, header.delta ? base.data() : nullptr, out.data());
  });
  return 0;
}
