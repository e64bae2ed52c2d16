// Encodings of records, manifests and stats; layouts in docs/formats.md.
#include "strata/versioning/commit_record.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/layout_check.h"

namespace strata::versioning {
namespace {

constexpr uint32_t kManifestVersion = 1;
constexpr uint32_t kStatsVersion = 1;

template <class Archive>
void save_entry(Archive& ar, const TensorEntry& e) {
  ar(e.name, static_cast<uint8_t>(e.dtype), e.shape, e.chunks, e.raw_bytes);
}

template <class Archive>
TensorEntry load_entry(Archive& ar) {
  TensorEntry e;
  uint8_t dtype = 0;
  ar(e.name, dtype, e.shape, e.chunks, e.raw_bytes);
  if (dtype > static_cast<uint8_t>(DType::kI64)) throw_corruption("unknown dtype code " + std::to_string(dtype));
  e.dtype = static_cast<DType>(dtype);
  for (int64_t d : e.shape)
    if (d < 0) throw_corruption("negative dimension in manifest entry '" + e.name + "'");
  int64_t numel = 0;
  try {
    numel = shape_numel(e.shape);
  } catch (const Error&) {
    throw_corruption("manifest entry '" + e.name + "' has a shape whose size overflows");
  }
  if (e.raw_bytes != static_cast<uint64_t>(numel) * dtype_size(e.dtype))
    throw_corruption("manifest entry '" + e.name + "' size disagrees with its shape");
  if (e.chunks.size() != (e.raw_bytes + (1u << 20) - 1) / (1u << 20))
    throw_corruption("manifest entry '" + e.name + "' has the wrong number of chunks");
  return e;
}

// docs/formats.md "Commit records": a tensor entry, and the three values, checked before cereal
// allocates anything (a damaged length would otherwise ask for gigabytes).
void check_entry(LayoutCheck& c) {
  c.string();          // name
  c.skip(1);           // dtype
  c.fixed_vector(8);   // shape
  c.fixed_vector(16);  // chunk ids
  c.skip(8);           // raw_bytes
}

void check_record_layout(std::string_view bytes) {
  LayoutCheck c(bytes);
  uint32_t version = c.u32();
  if (version == 0 || version > CommitRecord::kFormatVersion) return;  // decode() says which
  c.fixed_vector(16);                                                  // parents
  c.string();                                                          // branch
  c.skip(3 * 8);                                                       // epoch, global_step, wall_time_ms
  c.string();                                                          // author
  c.string();                                                          // message
  c.string();                                                          // graph_id
  c.repeat([&] {
    c.string();
    c.string();
  });  // hparams
  c.repeat([&] {
    c.string();
    c.skip(8);
  });  // metrics
  c.repeat([&] {
    c.string();
    c.skip(8);
  });                                 // counters
  c.repeat([&] { check_entry(c); });  // params
  c.skip(4 + 16);                     // optim_count, optim_digest
  if (version >= 2)
    c.repeat([&] {
      c.string();
      c.string();
    });  // environment
}

void check_manifest_layout(std::string_view bytes) {
  LayoutCheck c(bytes);
  c.u32();
  c.repeat([&] { check_entry(c); });
}

void check_stats_layout(std::string_view bytes) {
  LayoutCheck c(bytes);
  c.u32();
  c.skip(5 * 8);
  c.repeat([&] {
    c.string();
    c.skip(8);
  });
}

// Decodes with `fn` and insists that every byte is consumed: a record must re-encode to the
// bytes it came from, or its id would not verify.
template <class Fn>
void decode_exactly(std::string_view bytes, const char* what, void (*check_layout)(std::string_view), Fn&& fn) {
  std::istringstream is{std::string(bytes)};
  try {
    check_layout(bytes);
    cereal::PortableBinaryInputArchive ar(is);
    fn(ar);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // cereal::Exception, or the layout check's refusal
    throw_corruption(std::string("cannot decode ") + what + ": " + e.what());
  }
  if (is.peek() != std::char_traits<char>::eof()) throw_corruption(std::string("trailing bytes after ") + what);
}

}  // namespace

std::string CommitRecord::encode() const {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(format_version, parents, branch, epoch, global_step, wall_time_ms, author, message, graph_id);
    ar(hparams, metrics, counters);
    ar(static_cast<uint64_t>(params.size()));
    for (const TensorEntry& e : params) save_entry(ar, e);
    ar(optim_count, optim_digest);
    if (format_version >= 2) ar(environment);
  }
  return os.str();
}

CommitRecord CommitRecord::decode(std::string_view bytes) {
  CommitRecord r;
  decode_exactly(bytes, "commit record", check_record_layout, [&](cereal::PortableBinaryInputArchive& ar) {
    ar(r.format_version);
    if (r.format_version == 0 || r.format_version > kFormatVersion)
      throw Error(ErrorCode::kCorruption,
                  "commit record format version " + std::to_string(r.format_version) +
                      " is not understood by this build (knows up to " + std::to_string(kFormatVersion) + ")",
                  "", "upgrade Strata to read this log");
    ar(r.parents, r.branch, r.epoch, r.global_step, r.wall_time_ms, r.author, r.message, r.graph_id);
    ar(r.hparams, r.metrics, r.counters);
    uint64_t n = 0;
    ar(n);
    for (uint64_t i = 0; i < n; ++i) r.params.push_back(load_entry(ar));
    ar(r.optim_count, r.optim_digest);
    if (r.format_version >= 2) ar(r.environment);
  });
  return r;
}

int64_t CommitRecord::step_in_epoch() const {
  auto it = counters.find("loader/batch");
  return it == counters.end() ? 0 : std::max<int64_t>(it->second, 0);
}

std::string CommitRecord::epoch_label() const {
  const int64_t step = step_in_epoch();
  return std::to_string(epoch) + (step > 0 ? "." + std::to_string(step) : "");
}

std::string encode_manifest(const std::vector<TensorEntry>& entries) {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(kManifestVersion, static_cast<uint64_t>(entries.size()));
    for (const TensorEntry& e : entries) save_entry(ar, e);
  }
  return os.str();
}

std::vector<TensorEntry> decode_manifest(std::string_view bytes) {
  std::vector<TensorEntry> out;
  decode_exactly(bytes, "optimizer manifest", check_manifest_layout, [&](cereal::PortableBinaryInputArchive& ar) {
    uint32_t version = 0;
    uint64_t n = 0;
    ar(version, n);
    if (version == 0 || version > kManifestVersion)
      throw_corruption("optimizer manifest version " + std::to_string(version) + " is not understood");
    for (uint64_t i = 0; i < n; ++i) out.push_back(load_entry(ar));
  });
  return out;
}

std::string CommitStats::encode() const {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(kStatsVersion, raw_bytes, new_stored_bytes, new_chunks, reused_chunks, delta_chunks, stored_bytes);
  }
  return os.str();
}

CommitStats CommitStats::decode(std::string_view bytes) {
  CommitStats s;
  decode_exactly(bytes, "commit stats", check_stats_layout, [&](cereal::PortableBinaryInputArchive& ar) {
    uint32_t version = 0;
    ar(version);
    if (version == 0 || version > kStatsVersion) throw_corruption("commit stats version not understood");
    ar(s.raw_bytes, s.new_stored_bytes, s.new_chunks, s.reused_chunks, s.delta_chunks, s.stored_bytes);
  });
  return s;
}

}  // namespace strata::versioning
