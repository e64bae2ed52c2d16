// Chunk codec: how a piece (<= 1 MiB) of a tensor's raw bytes is stored in the `chunks` database
// (docs/formats.md "Chunk values" has the byte layout).
//
// A chunk value is a small header (codec, delta flag, chain depth, raw size, base chunk id when
// delta) followed by the payload. Encoding is lossless: decode(encode(x)) == x bit for bit; the
// caller re-hashes decoded bytes against the chunk id, so a damaged payload is always caught
// even when the decoder cannot tell.
//
// The float codec (ChunkCodec::kFloatModel) models float32 values instead of bytes: it codes sign
// + exponent + high mantissa with an adaptive binary range coder whose contexts are the value at
// the same position in the parent version (or the previous value), and keeps the near-random low
// mantissa bytes as zstd-or-raw planes. When a base exists it codes the integer distance to the
// base value in the float's monotone ordering (its bit length, its sign in the context of the
// neighbour's, two bits under the leading one; the rest raw), and falls back to the fields coding
// (against the base, or as a keyframe) when that is smaller.
//
// Thread-safety: all functions are pure and may run concurrently (zstd contexts are per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/core/tensor.h"
#include "strata/versioning/ids.h"

namespace strata::versioning {

constexpr size_t kMaxChunkBytes = size_t{1} << 20;

enum class ChunkCodec : uint8_t {
  kRaw = 0,          // payload is the raw bytes
  kZstd = 1,         // zstd of the bytes (XOR with the base first when delta)
  kShuffleZstd = 2,  // 4 byte planes of float32, one zstd frame (XOR with the base first when delta)
  kFloatModel = 3,   // float32 model (fields or residual), see docs/formats.md
};
const char* codec_name(ChunkCodec codec);
// The codec named `name` (as codec_name spells it); nullopt for an unknown name.
std::optional<ChunkCodec> codec_from_name(std::string_view name);
// Every codec's name, for command-line choices.
std::vector<std::string> codec_names();
inline constexpr ChunkCodec kAllCodecs[] = {ChunkCodec::kRaw, ChunkCodec::kZstd, ChunkCodec::kShuffleZstd,
                                            ChunkCodec::kFloatModel};

struct CodecOptions {
  STRATA_ARG(ChunkCodec, codec) = ChunkCodec::kFloatModel;  // the most a chunk is allowed to use
  STRATA_ARG(int, zstd_level) = 3;
  STRATA_ARG(bool, allow_delta) = true;
};

// The chunk a delta is taken against: same tensor, same position, parent version, same size.
struct ChunkBase {
  const uint8_t* data = nullptr;  // decoded bytes, same size as the chunk
  ChunkId id{};
  uint16_t depth = 0;  // the base's own chain depth (0 = keyframe)
};

struct ChunkHeader {
  ChunkCodec codec = ChunkCodec::kRaw;
  bool delta = false;
  uint16_t depth = 0;  // number of delta links to the keyframe at the end of the chain
  uint32_t raw_size = 0;
  ChunkId base{};  // valid when delta
  size_t payload_offset = 0;
};

// Encodes `raw` (at most kMaxChunkBytes). `base` may be null (keyframe). The result never
// exceeds raw size + header: incompressible data is stored raw.
std::string encode_chunk(std::string_view raw, DType dtype, const ChunkBase* base, const CodecOptions& options);

// Parses and validates the header; throws kCorruption (without a location: callers add it).
ChunkHeader parse_chunk_header(std::string_view value);

// Decodes into `out` (header.raw_size bytes). `base_raw` must hold the decoded base chunk when
// header.delta. Throws kCorruption on malformed payloads; garbage that still parses is caught by
// the caller's re-hash.
void decode_chunk(std::string_view value, const ChunkHeader& header, const uint8_t* base_raw, uint8_t* out);

}  // namespace strata::versioning
