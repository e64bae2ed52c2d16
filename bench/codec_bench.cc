// The chunk coder's speed and ratio on real training states: every version on a branch of an
// existing log (parameters + optimizer state, in 1 MiB chunks), each chunk coded against the same
// chunk of its parent version, as the log codes it. Prints, per thread, the encoder's and the
// decoder's throughput in MB/s of raw float32 (the median of --repeats passes over all chunks)
// and stored / raw.
//
//   codec_bench --log DIR [--branch main] [--codec float-model] [--zstd-level 3] [--keyframes]
//               [--repeats 5]
//
// `--codec shuffle+zstd --zstd-level 1 --keyframes` is the quick tier a run applies at fit end.
//
// A log to read: `train_fashion_mnist --model mlp --epochs 6 --log-dir DIR --no-tensorboard`.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/version_log.h"

using namespace strata;
using namespace strata::versioning;
using clk = std::chrono::steady_clock;

namespace {

struct Chunk {
  std::string raw, base;  // base empty: the first version (a keyframe)
  DType dtype;
};

// The chunks of every version on `branch` but the first, each paired with its parent's chunk.
std::vector<Chunk> load_chunks(const VersionLog& log, const std::string& branch) {
  std::vector<CommitId> versions = log.history(branch);
  std::reverse(versions.begin(), versions.end());
  std::map<std::string, std::string> previous;  // "tensor#chunk" -> its bytes in the last version
  std::vector<Chunk> chunks;
  for (const CommitId& id : versions) {
    TrainState state = log.read_state(id);
    NamedTensors all = state.params;
    all.insert(all.end(), state.optim.begin(), state.optim.end());
    for (const auto& [name, tensor] : all)
      for (size_t off = 0, c = 0; off < tensor.nbytes(); off += kMaxChunkBytes, ++c) {
        const std::string key = name + "#" + std::to_string(c);
        std::string raw(static_cast<const char*>(tensor.raw()) + off, std::min(kMaxChunkBytes, tensor.nbytes() - off));
        auto it = previous.find(key);
        if (it != previous.end() && it->second.size() == raw.size()) chunks.push_back({raw, it->second, tensor.dtype()});
        previous[key] = std::move(raw);
      }
  }
  return chunks;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chunk coder throughput and ratio on the versions of a log"};
  std::string log_dir, branch = "main", codec_wanted = codec_name(ChunkCodec::kFloatModel);
  int repeats = 5, zstd_level = 3;
  bool keyframes = false;
  app.add_option("--log", log_dir, "the log to read")->required();
  app.add_option("--branch", branch, "the branch whose versions are coded");
  app.add_option("--codec", codec_wanted, "the codec")->check(CLI::IsMember(codec_names()));
  app.add_option("--zstd-level", zstd_level, "zstd level of the codecs that use zstd")->check(CLI::Range(1, 22));
  app.add_flag("--keyframes", keyframes, "code every chunk on its own, without its parent's as delta base");
  app.add_option("--repeats", repeats, "passes over all chunks (the median is reported)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    auto log = VersionLog::open(log_dir, OpenMode::kReadOnly);
    const std::vector<Chunk> chunks = load_chunks(*log, branch);
    if (chunks.empty()) throw Error(ErrorCode::kInvalidArgument, "branch '" + branch + "' has fewer than two versions");
    const CodecOptions options =
        CodecOptions().codec(*codec_from_name(codec_wanted)).zstd_level(zstd_level).allow_delta(!keyframes);
    double raw_bytes = 0, stored_bytes = 0;
    std::vector<double> encode_s, decode_s;
    std::map<std::string, size_t> modes;
    for (int r = 0; r < repeats; ++r) {
      std::vector<std::string> values(chunks.size());
      auto t0 = clk::now();
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        ChunkBase base{reinterpret_cast<const uint8_t*>(c.base.data()), hash128(c.base), 0};
        values[i] = encode_chunk(c.raw, c.dtype, &base, options);
      }
      encode_s.push_back(std::chrono::duration<double>(clk::now() - t0).count());
      std::vector<uint8_t> out(kMaxChunkBytes);
      t0 = clk::now();
      for (size_t i = 0; i < chunks.size(); ++i) {
        const ChunkHeader h = parse_chunk_header(values[i]);
        decode_chunk(values[i], h, h.delta ? reinterpret_cast<const uint8_t*>(chunks[i].base.data()) : nullptr, out.data());
      }
      decode_s.push_back(std::chrono::duration<double>(clk::now() - t0).count());
      if (r == 0)
        for (size_t i = 0; i < chunks.size(); ++i) {
          const ChunkHeader h = parse_chunk_header(values[i]);
          decode_chunk(values[i], h, h.delta ? reinterpret_cast<const uint8_t*>(chunks[i].base.data()) : nullptr, out.data());
          if (std::string_view(reinterpret_cast<const char*>(out.data()), h.raw_size) != chunks[i].raw)
            throw Error(ErrorCode::kInternal, "chunk " + std::to_string(i) + " does not decode to its bytes");
          raw_bytes += static_cast<double>(chunks[i].raw.size());
          stored_bytes += static_cast<double>(values[i].size());
          const size_t mode_at = h.payload_offset;
          const int mode = h.codec == ChunkCodec::kFloatModel ? static_cast<uint8_t>(values[i][mode_at]) : -1;
          ++modes[std::string(codec_name(h.codec)) + (mode >= 0 ? " mode " + std::to_string(mode) : "")];
        }
    }
    std::printf("%zu chunks (versions 2..N), %.1f MB raw, codec %s (zstd level %d)%s, one thread\n", chunks.size(),
                raw_bytes / 1e6, codec_wanted.c_str(), zstd_level, keyframes ? ", keyframes only" : "");
    for (const auto& [mode, n] : modes) std::printf("  %-22s %zu chunks\n", mode.c_str(), n);
    auto mbps = [&](const std::vector<double>& s) {
      std::vector<double> v;
      for (double x : s) v.push_back(raw_bytes / x / 1e6);
      std::sort(v.begin(), v.end());
      char buf[96];
      std::snprintf(buf, sizeof buf, "%.1f MB/s (%.1f .. %.1f), %.1f ns per float", v[v.size() / 2], v.front(), v.back(),
                    1e9 * median(s) / (raw_bytes / 4));
      return std::string(buf);
    };
    std::printf("encode: %s\ndecode: %s\nstored / raw: %.4f\n", mbps(encode_s).c_str(), mbps(decode_s).c_str(),
                stored_bytes / raw_bytes);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
