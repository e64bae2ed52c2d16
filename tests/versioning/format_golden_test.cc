// The format, pinned (docs/formats.md): fixed expected bytes or digests for every chunk
// codec mode (keyframe and delta), a commit id, a graph id, the Philox stream behind
// initialisation, shuffling and dropout, and the TFRecord framing of one event. A change that
// alters the bytes of an existing format fails here and must be a deliberate format version.
// (The commit record's own bytes are pinned in commit_record_test.cc, CommitRecord.GoldenBytes; a
// whole 0.2.0 log in tests/versioning/fixtures is read, verified and resumed by
// train_example_test.)
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/summary/internal/record_io.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/commit_record.h"
#include "strata/versioning/ids.h"

namespace strata::versioning {
namespace {

constexpr size_t kValues = 256;

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
  return out;
}

// kValues float32 weights of a smooth, deterministic pattern (no RNG: the data must not depend on
// anything but this file), and the same after a small "optimizer step" for deltas.
std::vector<float> weights(float step) {
  std::vector<float> v(kValues);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = 0.05f * static_cast<float>((i * 37) % 101) / 101.0f - 0.025f + step * static_cast<float>(i % 7 == 0);
  return v;
}

std::string_view bytes_of(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}

struct Encoded {
  std::string value;
  std::string head;    // codec, flags, depth, raw size, and for the float model the mode byte
  std::string digest;  // XXH3-128 of the whole value
};

Encoded encode(ChunkCodec codec, bool delta) {
  static const std::vector<float> base = weights(0), moved = weights(1e-4f);
  ChunkBase b{reinterpret_cast<const uint8_t*>(base.data()), hash128(bytes_of(base)), 0};
  std::string value =
      encode_chunk(bytes_of(delta ? moved : base), DType::kF32, delta ? &b : nullptr, CodecOptions().codec(codec).zstd_level(3));
  // Whatever is pinned must also decode back to the input.
  ChunkHeader h = parse_chunk_header(value);
  std::vector<float> out(kValues);
  decode_chunk(value, h, delta ? reinterpret_cast<const uint8_t*>(base.data()) : nullptr, reinterpret_cast<uint8_t*>(out.data()));
  EXPECT_EQ(std::memcmp(out.data(), (delta ? moved : base).data(), kValues * 4), 0) << codec_name(codec);
  size_t head = h.payload_offset + (h.codec == ChunkCodec::kFloatModel ? 1 : 0);
  return {value, hex(value.substr(0, head)), to_hex(hash128(value))};
}

TEST(FormatGolden, ChunkCodecsKeyframeAndDelta) {
  // Header: codec, flags (bit 0 delta), depth (LE16), raw size 1024 (LE32), base id when delta.
  const std::string base_id = to_hex(hash128(bytes_of(weights(0))));
  Encoded raw = encode(ChunkCodec::kRaw, false);
  EXPECT_EQ(raw.head,
            "00000000"
            "00040000");
  EXPECT_EQ(raw.value.substr(8), std::string(bytes_of(weights(0))));  // raw: the bytes themselves

  Encoded zstd = encode(ChunkCodec::kZstd, false), zstd_delta = encode(ChunkCodec::kZstd, true);
  EXPECT_EQ(zstd.head,
            "01000000"
            "00040000");
  EXPECT_EQ(zstd_delta.head,
            "01010100"
            "00040000" +
                base_id);
  Encoded shuffle = encode(ChunkCodec::kShuffleZstd, false), shuffle_delta = encode(ChunkCodec::kShuffleZstd, true);
  EXPECT_EQ(shuffle.head,
            "02000000"
            "00040000");
  EXPECT_EQ(shuffle_delta.head,
            "02010100"
            "00040000" +
                base_id);
  // Float model: mode 0 (byte planes) for a keyframe, mode 2 (signed residual) for a delta.
  Encoded model = encode(ChunkCodec::kFloatModel, false), model_delta = encode(ChunkCodec::kFloatModel, true);
  EXPECT_EQ(model.head,
            "03000000"
            "00040000"
            "00");
  EXPECT_EQ(model_delta.head,
            "03010100"
            "00040000" +
                base_id + "02");

  // Digests of the whole values. The float model's and raw bytes are Strata's alone; the zstd
  // frames are those of Debian 12's libzstd 1.5.4 at level 3 (another zstd may emit other, equally
  // valid frames: then update these four, the decoders must still read the old ones).
  EXPECT_EQ(zstd.digest, "c74e34950288b46759855f1abbfcc344");
  EXPECT_EQ(zstd_delta.digest, "e9adb5293cbc490a81128bb7528a2dd1");
  EXPECT_EQ(shuffle.digest, "7f54314c122f0ea36dbb110359b40c0f");
  EXPECT_EQ(shuffle_delta.digest, "6a983ac4040fd0438a54a464e472adb0");
  EXPECT_EQ(model.digest, "75479f49361785e7485dae4b9c3cdb9d");
  EXPECT_EQ(model_delta.digest, "f440fceee7a1c1ca88e11b2ff7f8c87d");
}

TEST(FormatGolden, CommitIdAndGraphId) {
  CommitRecord r;
  r.branch = "main";
  r.epoch = 3;
  r.global_step = 1407;
  r.wall_time_ms = 1764633600000;
  r.author = "ada@lab";
  r.message = "epoch 3";
  r.graph_id = std::string(32, 'a');
  r.metrics = {{"val/accuracy", 0.875}};
  r.counters = {{"loader/position", 0}};
  r.environment = {{"strata", "0.2.0"}, {"onednn", "2.6.3"}};
  EXPECT_EQ(to_hex(r.id()), "559576f675d29ef4be4ab783f4ecd2e4");

  GraphBuilder b({4});
  Value h = b.relu("act", b.linear("fc1", b.input(), 3));
  GraphSpec g = b.build(b.linear("fc2", h, 2));
  EXPECT_EQ(g.graph_id(), "cdbbb25cf167454e0516f08b00ffa266");
  EXPECT_EQ(to_hex(hash128(g.to_bytes())), g.graph_id());  // the id is the digest of the bytes
}

// Format 2 (docs/formats.md "Graphs"): format-1 fields, then the input dtype byte and per node its
// extra output shapes.
TEST(FormatGolden, GraphFormat2WithTokenIdsAndASecondOutput) {
  GraphBuilder b({5}, "tokens", DType::kI64);
  Value rnn = b.gru("rnn", b.embedding("embed", b.input(), 7, 3, 0), RecurrentOptions(4));
  GraphSpec g = b.build(rnn.output(1));
  const std::string bytes = g.to_bytes();
  EXPECT_EQ(hex(bytes.substr(1, 4)), "02000000");  // format version 2
  const std::string tail =
      "03"                // i64 input
      "0000000000000000"  // embed: no extra outputs
      "0100000000000000"
      "0100000000000000"
      "0400000000000000";  // rnn: one, [4]
  EXPECT_EQ(hex(bytes.substr(bytes.size() - tail.size() / 2)), tail);
  EXPECT_EQ(g.graph_id(), "afe53a7491e0107070ea2aa8848df75b");
  EXPECT_EQ(GraphSpec::from_bytes(bytes), g);
}

TEST(FormatGolden, PhiloxStream) {
  // Philox-4x32-10 keyed by (seed, purpose), counter (epoch, step, index): the values every
  // initialisation, shuffle and dropout mask is drawn from. Cross-checked with an independent
  // Python Philox that also gives Random123's known answer for key 0, counter 0
  // (6627e8d5 e169c58d bc57ac4c 9b00dbd8); key = seed * 0x9E3779B97F4A7C15 ^ (purpose << 56 |
  // purpose), counter = (index lo, index hi, step lo, epoch ^ step hi * 0x85EBCA6B).
  CounterRng init(42, RngPurpose::kInit), dropout(42, RngPurpose::kDropout, 3, 7);
  auto words = [](const std::array<uint32_t, 4>& w) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%08x %08x %08x %08x", w[0], w[1], w[2], w[3]);
    return std::string(buf);
  };
  EXPECT_EQ(words(init.block(0)), "d5d50404 2d11764a ea7216d3 5e8cccaf");
  EXPECT_EQ(words(init.block(1)), "bcb9780d bde2a95b 87bbeb8e d35d1892");
  EXPECT_EQ(words(dropout.block(5)), "f70ceab2 cb9e6953 961b45b4 707ed65d");
}

TEST(FormatGolden, TfRecordFramingOfOneEvent) {
  // length (LE64), masked CRC32C of the length, data, masked CRC32C of the data; cross-checked
  // with a bitwise Python CRC32C (mask: rotate right 15, add 0xa282ead8).
  std::string record = summary::encode_record("event");
  EXPECT_EQ(hex(record),
            "0500000000000000"
            "eab2043e"
            "6576656e74"
            "e5690bf6");
}

TEST(FormatGolden, WorkedExampleOfFormatMd) {
  // docs/formats.md "Worked example": a raw chunk of two floats and a minimal commit.
  std::vector<float> two = {1.0f, -2.0f};
  std::string chunk = encode_chunk(bytes_of(two), DType::kF32, nullptr, CodecOptions().codec(ChunkCodec::kRaw));
  EXPECT_EQ(hex(chunk),
            "00000000"
            "08000000"
            "0000803f"
            "000000c0");
  EXPECT_EQ(to_hex(hash128(bytes_of(two))), "d11372a3f8d4096998cd4bf727a9d2ae");

  CommitRecord r;
  r.branch = "b";
  r.epoch = 1;
  r.global_step = 2;
  r.wall_time_ms = 3;
  r.params.push_back({"w", DType::kF32, {2}, {hash128(bytes_of(two))}, 8});
  r.environment = {{"strata", "0.2.0"}};
  EXPECT_EQ(hex(r.encode()),
            "01"
            "02000000"
            "0000000000000000"
            "0100000000000000"
            "62"  // version, parents, branch
            "0100000000000000"
            "0200000000000000"
            "0300000000000000"  // epoch, step, wall time
            "0000000000000000"
            "0000000000000000"
            "0000000000000000"  // author, message, graph
            "0000000000000000"
            "0000000000000000"
            "0000000000000000"  // hparams, metrics, counters
            "0100000000000000"
            "0100000000000000"
            "77"
            "00"  // 1 tensor: name "w", f32
            "0100000000000000"
            "0200000000000000"  // shape [2]
            "0100000000000000"
            "d11372a3f8d4096998cd4bf727a9d2ae"  // 1 chunk
            "0800000000000000"
            "00000000"
            "00000000000000000000000000000000"  // bytes, no optim
            "0100000000000000"
            "0600000000000000"
            "737472617461"
            "0500000000000000"
            "302e322e30");
  EXPECT_EQ(to_hex(r.id()), "b47201276b28714943b275d33d9fc4e2");
}

}  // namespace
}  // namespace strata::versioning
