// Chunk codec: lossless round trips of every codec on awkward floats, damaged payloads, and the
// storage measurements (compression ratio per codec on a synthetic Adam trajectory, snapshot
// stall, restore time, retention). Ratios and times are printed, never asserted beyond sanity:
// STRATA_BENCH=1 runs the full-size MLP 784-512-256-10.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "strata/framework/core/error.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/internal/lmdb_env.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/version_log.h"
#include "tests/versioning/synthetic_adam.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using clk = std::chrono::steady_clock;
double ms_since(clk::time_point t0) { return std::chrono::duration<double, std::milli>(clk::now() - t0).count(); }
bool full_bench() { return std::getenv("STRATA_BENCH") != nullptr; }

std::string as_string(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

std::string round_trip(const std::string& raw, DType dtype, const std::string* base, const CodecOptions& o) {
  ChunkBase b;
  if (base) {
    b.data = reinterpret_cast<const uint8_t*>(base->data());
    b.id = hash128(*base);
    b.depth = 3;
  }
  std::string value = encode_chunk(raw, dtype, base ? &b : nullptr, o);
  EXPECT_LE(value.size(), raw.size() + 24);
  ChunkHeader h = parse_chunk_header(value);
  EXPECT_EQ(h.raw_size, raw.size());
  if (h.delta) {
    EXPECT_EQ(h.base, b.id);
    EXPECT_EQ(h.depth, 4);
  }
  std::string out(raw.size(), '\0');
  decode_chunk(value, h, h.delta ? b.data : nullptr, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

std::vector<float> awkward_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 0.05f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  const float specials[] = {0.f,
                            -0.f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(),
                            1.f};
  for (size_t i = 0; i < n; i += 7) v[i] = specials[(i / 7) % 10];
  return v;
}

TEST(ChunkCodec, EveryCodecIsLosslessWithAndWithoutBase) {
  for (size_t n : {size_t{1}, size_t{3}, size_t{1000}, kMaxChunkBytes / 4}) {
    std::vector<float> base = awkward_floats(n, 1), cur = base;
    std::mt19937 rng(2);
    for (size_t i = 0; i < n; ++i) {
      if (i % 3 == 0) cur[i] *= 1.0001f;                            // small moves
      if (i % 11 == 0) cur[i] = -cur[i];                            // sign flips
      if (i % 13 == 0) cur[i] = static_cast<float>(rng()) * 1e30f;  // jumps far away
    }
    const std::string raw = as_string(cur), b = as_string(base);
    for (ChunkCodec c : {ChunkCodec::kRaw, ChunkCodec::kZstd, ChunkCodec::kShuffleZstd, ChunkCodec::kFloatModel}) {
      CodecOptions o = CodecOptions().codec(c);
      EXPECT_EQ(round_trip(raw, DType::kF32, nullptr, o), raw) << codec_name(c) << " n=" << n;
      EXPECT_EQ(round_trip(raw, DType::kF32, &b, o), raw) << codec_name(c) << " delta n=" << n;
      EXPECT_EQ(round_trip(raw, DType::kF32, &raw, o), raw) << codec_name(c) << " self-delta n=" << n;
    }
  }
  // Bytes that are not float32 (u8, odd sizes) go through zstd.
  std::string bytes(1001, 'a');
  for (size_t i = 0; i < bytes.size(); i += 5) bytes[i] = static_cast<char>(i);
  EXPECT_EQ(round_trip(bytes, DType::kU8, nullptr, CodecOptions()), bytes);
  EXPECT_EQ(round_trip(bytes, DType::kU8, &bytes, CodecOptions()), bytes);
}

TEST(ChunkCodec, SmoothDeltasCompressAndNoiseIsStoredRaw) {
  std::vector<float> base = awkward_floats(65536, 3), cur = base;
  for (size_t i = 0; i < cur.size(); ++i) cur[i] = std::isfinite(cur[i]) ? cur[i] * (1.f + 1e-4f) : cur[i];
  ChunkBase b{reinterpret_cast<const uint8_t*>(base.data()), hash128(as_string(base)), 0};
  std::string delta = encode_chunk(as_string(cur), DType::kF32, &b, CodecOptions());
  EXPECT_TRUE(parse_chunk_header(delta).delta);
  EXPECT_LT(delta.size(), cur.size() * 4 / 2);
  std::mt19937 rng(4);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string value = encode_chunk(noise, DType::kF32, nullptr, CodecOptions());
  EXPECT_EQ(parse_chunk_header(value).codec, ChunkCodec::kRaw);
  EXPECT_EQ(value.size(), noise.size() + 8);
}

TEST(ChunkCodec, DamagedValuesNeverCrash) {
  std::vector<float> base = awkward_floats(20000, 5), cur = base;
  for (float& x : cur) x *= 1.001f;
  ChunkBase b{reinterpret_cast<const uint8_t*>(base.data()), hash128(as_string(base)), 0};
  const std::string raw = as_string(cur);
  for (ChunkCodec c : {ChunkCodec::kZstd, ChunkCodec::kShuffleZstd, ChunkCodec::kFloatModel}) {
    for (const ChunkBase* base_ptr : {static_cast<const ChunkBase*>(nullptr), static_cast<const ChunkBase*>(&b)}) {
      const std::string good = encode_chunk(raw, DType::kF32, base_ptr, CodecOptions().codec(c));
      std::mt19937 rng(6);
      int thrown = 0, rehash = 0, harmless = 0;
      for (int trial = 0; trial < 300; ++trial) {
        std::string bad = good;
        if (trial % 10 == 0)
          bad.resize(rng() % bad.size());  // truncation
        else
          bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
        try {
          ChunkHeader h = parse_chunk_header(bad);
          std::vector<uint8_t> out(h.raw_size);
          if (h.delta && h.raw_size != raw.size()) throw Error(ErrorCode::kCorruption, "size");
          decode_chunk(bad, h, h.delta ? b.data : nullptr, out.data());
          // Garbage that decodes is what the re-hash against the chunk id rejects; a flip in the
          // range coder's final flush bytes can leave the output intact.
          if (hash128(out.data(), out.size()) != hash128(raw))
            ++rehash;
          else
            ++harmless;
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kCorruption) << e.what();
          ++thrown;
        }
      }
      EXPECT_EQ(thrown + rehash + harmless, 300);
      EXPECT_LT(harmless, 30) << codec_name(c);
    }
  }
  EXPECT_THROW(parse_chunk_header(std::string("\x09\x00\x00\x00\x04\x00\x00\x00", 8)), Error);
}

// The payload's mode byte of a float-model chunk.
int float_mode(const std::string& value) { return static_cast<uint8_t>(value[parse_chunk_header(value).payload_offset]); }

TEST(ChunkCodec, SignedResidualIsLosslessOnAwkwardMoves) {
  // Every kind of move between two float32 values: sign flips through -0 and +0, NaN payloads,
  // infinities, denormals, the largest finite values, and moves across the whole key range.
  const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFFFFFFFu, 0x7F800001u,
                               0x00000001u, 0x80000001u, 0x007FFFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x3F800000u, 0xBF800000u};
  for (size_t n : {size_t{2}, size_t{5000}, size_t{3 * 16384 + 7}}) {  // small, and sampled mode choice
    std::vector<float> base = awkward_floats(n, 11), cur = base;
    std::mt19937 rng(12);
    for (size_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, &cur[i], 4);
      if (i % 5 == 0) u += 1 + rng() % 300;                              // a few ulps (wraps through the sign at ~0)
      if (i % 17 == 0) u = specials[rng() % 14];                         // anything -> special
      if (i % 19 == 0) std::memcpy(&base[i], &specials[rng() % 14], 4);  // special -> anything
      std::memcpy(&cur[i], &u, 4);
    }
    const std::string raw = as_string(cur), b = as_string(base);
    EXPECT_EQ(round_trip(raw, DType::kF32, &b, CodecOptions()), raw) << n;
  }
  // A smooth move is coded as a signed residual (mode 2) and round-trips; so does the extreme
  // residual from the lowest key (-NaN all ones) to the highest (+NaN all ones) and back.
  std::vector<float> base = awkward_floats(50000, 13), cur = base;
  for (size_t i = 0; i < cur.size(); ++i) cur[i] = std::isfinite(cur[i]) ? cur[i] * 0.9999f : cur[i];
  uint32_t lo = 0xFFFFFFFFu, hi = 0x7FFFFFFFu;
  std::memcpy(&base[1], &lo, 4);
  std::memcpy(&cur[1], &hi, 4);
  std::memcpy(&base[2], &hi, 4);
  std::memcpy(&cur[2], &lo, 4);
  ChunkBase bb{reinterpret_cast<const uint8_t*>(base.data()), hash128(as_string(base)), 0};
  std::string value = encode_chunk(as_string(cur), DType::kF32, &bb, CodecOptions());
  EXPECT_EQ(float_mode(value), 2);
  const std::string b = as_string(base);
  EXPECT_EQ(round_trip(as_string(cur), DType::kF32, &b, CodecOptions()), as_string(cur));
}

TEST(ChunkCodec, MomentumLikeChunksMayDropTheirBase) {
  // Values unrelated to their base (Adam's m after an epoch): the writer keeps the smallest of the
  // residual, the fields coded against the base, and a keyframe; here the base predicts nothing,
  // so the chunk becomes a keyframe and its chain ends.
  for (size_t n : {size_t{4000}, size_t{100000}}) {
    std::vector<float> base = awkward_floats(n, 21), cur = awkward_floats(n, 22);
    for (size_t i = 0; i < n; i += 2) cur[i] = cur[i > 0 ? i - 1 : 0];  // neighbours predict
    ChunkBase b{reinterpret_cast<const uint8_t*>(base.data()), hash128(as_string(base)), 2};
    std::string value = encode_chunk(as_string(cur), DType::kF32, &b, CodecOptions());
    ChunkHeader h = parse_chunk_header(value);
    EXPECT_FALSE(h.delta) << n;
    EXPECT_EQ(h.depth, 0);
    std::string out(n * 4, '\0');
    decode_chunk(value, h, nullptr, reinterpret_cast<uint8_t*>(out.data()));
    EXPECT_EQ(out, as_string(cur));
  }
}

TEST(ChunkCodec, ResidualChunksOfFormatVersion1StillDecode) {
  // A mode-1 chunk (zigzag residual, raw sign bit) as written before format version 2, made by
  // that build's encoder from these exact floats; its payload must decode forever.
  std::vector<float> base(64), cur(64);
  for (int i = 0; i < 64; ++i) {
    base[i] = static_cast<float>((i * 37) % 64 - 32) * 0.0015f + 0.0001f;
    cur[i] = base[i] * 1.0003f - (i % 5 == 0 ? 1e-6f : 0.f);
  }
  const char* hex =
      "012f0000000038383413671cd9735ebe07d3653554ec84a98e2b37f51998e1a1df694219d4ea7ab3b7e5667ef328738c70"
      "ba5100520000003b10f22c72140a594c4fd3d93bf472e3270ef2906542f1cb940a7e698ea681ebba7f7035b438182f6338"
      "584bc029146f8b62a0fc8a2a4d1a375bd2e8064fe52882bed0258fb2c3fc7c70db7cb8a52f50f353";
  std::string value("\x03\x01\x01\x00\x00\x01\x00\x00", 8);
  value += as_bytes(hash128(as_string(base)));
  for (size_t i = 0; hex[i]; i += 2) value.push_back(static_cast<char>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  ChunkHeader h = parse_chunk_header(value);
  ASSERT_TRUE(h.delta);
  EXPECT_EQ(float_mode(value), 1);
  std::string out(256, '\0');
  decode_chunk(value, h, reinterpret_cast<const uint8_t*>(base.data()), reinterpret_cast<uint8_t*>(out.data()));
  EXPECT_EQ(out, as_string(cur));
}

// Stored bytes per version / raw bytes for each codec over an Adam trajectory (versions 2..N,
// keyframe every 8 as in a log).
std::map<std::string, double> measure_ratios(const vtest::SyntheticAdamOptions& so, int epochs) {
  vtest::SyntheticAdam sim(so);
  struct Variant {
    const char* name;
    CodecOptions o;
  };
  const std::vector<Variant> variants = {{"zstd", CodecOptions().codec(ChunkCodec::kZstd).allow_delta(false)},
                                         {"shuffle+zstd", CodecOptions().codec(ChunkCodec::kShuffleZstd).allow_delta(false)},
                                         {"xor+shuffle+zstd3", CodecOptions().codec(ChunkCodec::kShuffleZstd)},
                                         {"float-model", CodecOptions().codec(ChunkCodec::kFloatModel)}};
  std::map<std::string, std::string> prev;
  std::map<std::string, uint16_t> depth;
  std::map<std::string, double> stored, seconds;
  double raw_total = 0;
  for (int e = 0; e < epochs; ++e) {
    sim.run_epoch();
    NamedTensors all = sim.params();
    for (auto& t : sim.optim()) all.push_back(t);
    for (auto& [name, t] : all) {
      for (size_t off = 0, c = 0; off < t.nbytes(); off += kMaxChunkBytes, ++c) {
        const std::string key = name + "#" + std::to_string(c);
        const std::string raw(static_cast<const char*>(t.raw()) + off, std::min(kMaxChunkBytes, t.nbytes() - off));
        auto it = prev.find(key);
        ChunkBase base;
        const bool has_base = it != prev.end() && depth[key] + 1 < 8;
        if (has_base) base = {reinterpret_cast<const uint8_t*>(it->second.data()), hash128(it->second), depth[key]};
        if (e > 0) raw_total += static_cast<double>(raw.size());
        for (const Variant& v : variants) {
          auto t0 = clk::now();
          std::string value = encode_chunk(raw, DType::kF32, has_base ? &base : nullptr, v.o);
          seconds[v.name] += ms_since(t0) / 1000;
          if (e > 0) stored[v.name] += static_cast<double>(value.size());
          if (v.o.codec() == ChunkCodec::kFloatModel) {
            ChunkHeader h = parse_chunk_header(value);
            std::string back(raw.size(), '\0');
            decode_chunk(value, h, h.delta ? base.data : nullptr, reinterpret_cast<uint8_t*>(back.data()));
            EXPECT_EQ(back, raw) << key;
            depth[key] = h.depth;
          }
        }
        prev[key] = raw;
      }
    }
  }
  std::map<std::string, double> ratios;
  for (auto& [name, bytes] : stored) {
    ratios[name] = bytes / raw_total;
    std::printf("[ ratio    ] %-18s %.4f of raw fp32 (params + Adam m, v), encode %.0f MB/s\n", name.c_str(), ratios[name],
                raw_total * epochs / (epochs - 1) / seconds[name] / 1e6);
  }
  return ratios;
}

TEST(StorageBench, CompressionRatioOnAnAdamTrajectory) {
  vtest::SyntheticAdamOptions so;
  int epochs = 10;
  if (!full_bench()) {
    so.layers = {196, 128, 64, 10};
    so.steps_per_epoch = 20;
    epochs = 5;
  }
  std::printf("[ ratio    ] MLP %s, %d Adam steps per epoch, %d epochs\n", full_bench() ? "784-512-256-10" : "196-128-64-10",
              so.steps_per_epoch, epochs);
  std::map<std::string, double> r = measure_ratios(so, epochs);
  EXPECT_LT(r["float-model"], r["xor+shuffle+zstd3"]);
  EXPECT_LT(r["xor+shuffle+zstd3"], r["shuffle+zstd"]);
  if (full_bench()) {  // the trajectory of a real MNIST epoch (469 steps of batch 128)
    so.steps_per_epoch = 469;
    std::printf("[ ratio    ] MLP 784-512-256-10, 469 Adam steps per epoch, 6 epochs\n");
    measure_ratios(so, 6);
  }
}

// A ~10 MB state (params + Adam m, v) from the synthetic trajectory.
TrainState adam_state(vtest::SyntheticAdam& sim) {
  TrainState s;
  s.params = sim.params();
  s.optim = sim.optim();
  s.counters = {{"epoch", sim.epoch()}, {"global_step", sim.epoch() * 10}};
  return s;
}

TEST(StorageBench, SnapshotStallRestoreTimeAndRetention) {
  vtest::SyntheticAdamOptions so;
  so.layers = full_bench() ? std::vector<int64_t>{784, 1024, 1024, 10} : std::vector<int64_t>{784, 256, 128, 10};
  so.steps_per_epoch = 2;
  vtest::SyntheticAdam sim(so);
  vtest::TempDir dir;
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  double raw = 0;
  {
    Recorder rec(log, RecorderOptions().author("bench@host"));
    TrainState initial = adam_state(sim);
    FitBeginInfo begin;
    begin.state = &initial;
    rec.on_fit_begin(begin);
    for (int e = 1; e <= 10; ++e) {
      sim.run_epoch();
      TrainState s = adam_state(sim);
      NamedTensors grads;
      std::map<std::string, std::string> notes;
      EpochEndInfo info{s, grads, notes};
      rec.on_epoch_end(info);
      rec.flush();  // measure each commit on its own
      RecorderTiming t = rec.timing();
      raw = static_cast<double>(t.staged_bytes);
      std::printf(
          "[ snapshot ] epoch %2d: stall %.2f ms for %.1f MB (%.2f ms per 10 MB), encode %.0f ms, "
          "write %.0f ms, stored %.3f of raw\n",
          e, t.last_stall_ms, raw / 1e6, t.last_stall_ms * 1e7 / raw, t.last_encode_s * 1e3, t.last_write_s * 1e3,
          static_cast<double>(t.last_stats.new_stored_bytes) / raw);
    }
    rec.on_fit_end(false);
  }
  // Restore the end of the longest delta chain (epoch 8: 7 deltas on the keyframe of epoch 1)
  // with a cold cache.
  log.reset();
  auto ro = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  auto t0 = clk::now();
  TrainState s = ro->read_state(ro->resolve("main@8"));
  std::printf("[ restore  ] main@8 (chain of 8) %.1f MB in %.0f ms\n", raw / 1e6, ms_since(t0));
  t0 = clk::now();
  for (const CommitId& id : ro->history("main")) ro->read_params(id);
  std::printf("[ restore  ] params of all 10 versions, newest first, in %.0f ms\n", ms_since(t0));
  EXPECT_EQ(s.epoch(), 8);
  ro.reset();
  log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  auto stats = [&] { return LmdbEnv::open(dir.sub("versions.lmdb"), true, 0)->stats(); };
  const double before = static_cast<double>(stats().chunk_value_bytes);
  t0 = clk::now();
  RetentionReport rep = log->apply_retention(3);
  const double after = static_cast<double>(stats().chunk_value_bytes);
  std::printf(
      "[ retain   ] 10 versions, %.1f MB raw: stored %.1f MB (%.3f) without retention, %.1f MB (%.3f) "
      "with K=3 (%zu params-only, %llu chunks rewritten as keyframes, %.0f ms)\n",
      10 * raw / 1e6, before / 1e6, before / (10 * raw), after / 1e6, after / (10 * raw), rep.params_only,
      static_cast<unsigned long long>(rep.chunks_rewritten), ms_since(t0));
  EXPECT_LT(after, before);
  EXPECT_TRUE(log->verify().ok());
}

}  // namespace
}  // namespace strata::versioning
