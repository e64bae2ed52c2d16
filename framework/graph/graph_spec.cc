#include "strata/framework/graph/graph_spec.h"

#include <xxhash.h>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdio>
#include <sstream>

#include "strata/framework/core/error.h"
#include "strata/framework/core/internal/layout_check.h"

namespace strata {

int64_t NodeSpec::int_attr(const std::string& key, int64_t fallback) const {
  auto it = ints.find(key);
  return it == ints.end() || it->second.empty() ? fallback : it->second[0];
}

std::vector<int64_t> NodeSpec::ints_attr(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = ints.find(key);
  return it == ints.end() ? fallback : it->second;
}

double NodeSpec::float_attr(const std::string& key, double fallback) const {
  auto it = floats.find(key);
  return it == floats.end() ? fallback : it->second;
}

const NodeSpec* GraphSpec::find(const std::string& name) const {
  for (const NodeSpec& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

std::vector<ParamSpec> GraphSpec::all_params() const {
  std::vector<ParamSpec> out;
  for (const NodeSpec& n : nodes) out.insert(out.end(), n.params.begin(), n.params.end());
  return out;
}

ValueRef parse_value_ref(const std::string& edge) {
  size_t colon = edge.rfind(':');
  if (colon == std::string::npos || colon + 1 == edge.size() || colon + 4 < edge.size()) return {edge, 0};
  int k = 0;
  for (size_t i = colon + 1; i < edge.size(); ++i) {
    if (edge[i] < '0' || edge[i] > '9') return {edge, 0};
    k = k * 10 + (edge[i] - '0');
  }
  return {edge.substr(0, colon), k};
}

uint32_t GraphSpec::format_version() const {
  if (input_dtype != DType::kF32) return 2;
  for (const NodeSpec& n : nodes)
    if (!n.extra_output_shapes.empty()) return 2;
  return 1;
}

std::string GraphSpec::to_bytes() const {
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    uint32_t version = format_version();
    ar(version, *this);
    if (version >= 2) {  // the format-2 extension, after every format-1 field
      ar(static_cast<uint8_t>(input_dtype));
      for (const NodeSpec& n : nodes) ar(n.extra_output_shapes);
    }
  }
  return os.str();
}

namespace {
// The layout of docs/formats.md "Graphs", checked before cereal allocates anything.
void check_graph_layout(std::string_view bytes) {
  LayoutCheck c(bytes);
  uint32_t version = c.u32();
  if (version > GraphSpec::kFormatVersion) return;  // from_bytes says so
  uint64_t n_nodes = 0;
  c.string();         // input_name
  c.fixed_vector(8);  // input_shape
  c.repeat([&] {      // nodes
    ++n_nodes;
    c.string();                     // name
    c.string();                     // op
    c.repeat([&] { c.string(); });  // inputs
    c.repeat([&] {
      c.string();
      c.fixed_vector(8);
    });  // ints
    c.repeat([&] {
      c.string();
      c.skip(8);
    });             // floats
    c.repeat([&] {  // params
      c.string();
      c.fixed_vector(8);
      c.string();
      c.skip(1 + 8 + 8);  // trainable, fan_in, fan_out
    });
    c.fixed_vector(8);  // output_shape
  });
  c.string();  // output
  if (version < 2) return;
  c.skip(1);                                                                    // input dtype
  for (uint64_t i = 0; i < n_nodes; ++i) c.repeat([&] { c.fixed_vector(8); });  // extra output shapes
}
}  // namespace

GraphSpec GraphSpec::from_bytes(const std::string& bytes) {
  std::istringstream is(bytes);
  GraphSpec g;
  uint32_t version = 0;
  try {
    check_graph_layout(bytes);
    cereal::PortableBinaryInputArchive ar(is);
    ar(version);
    if (version > kFormatVersion)
      throw Error(ErrorCode::kCorruption,
                  "graph format version " + std::to_string(version) + " is newer than this build understands (" +
                      std::to_string(kFormatVersion) + ")",
                  "", "upgrade Strata");
    ar(g);
    if (version >= 2) {
      uint8_t dtype = 0;
      ar(dtype);
      if (dtype > static_cast<uint8_t>(DType::kI64)) throw std::runtime_error("unknown input dtype " + std::to_string(dtype));
      g.input_dtype = static_cast<DType>(dtype);
      for (NodeSpec& n : g.nodes) ar(n.extra_output_shapes);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // cereal::Exception, or LayoutCheck's refusal
    throw_corruption(std::string("cannot decode graph: ") + e.what());
  }
  return g;
}

std::string GraphSpec::graph_id() const {
  std::string bytes = to_bytes();
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

std::string GraphSpec::summary() const {
  std::string s;
  char line[256];
  int64_t total = 0;
  std::snprintf(line, sizeof line, "%-24s %-14s %-16s %s\n", "node", "op", "output", "params");
  s += line;
  std::string input_type =
      shape_str(input_shape) + (input_dtype == DType::kF32 ? "" : std::string(" ") + dtype_name(input_dtype));
  std::snprintf(line, sizeof line, "%-24s %-14s %-16s %s\n", input_name.c_str(), "Input", input_type.c_str(), "0");
  s += line;
  for (const NodeSpec& n : nodes) {
    int64_t count = 0;
    for (const ParamSpec& p : n.params)
      if (p.trainable) count += shape_numel(p.shape);
    total += count;
    std::string outputs = shape_str(n.output_shape);
    for (const Shape& extra : n.extra_output_shapes) outputs += " " + shape_str(extra);
    std::snprintf(line, sizeof line, "%-24s %-14s %-16s %lld\n", n.name.c_str(), n.op.c_str(), outputs.c_str(),
                  static_cast<long long>(count));
    s += line;
  }
  s += "trainable parameters: " + std::to_string(total) + "\n";
  return s;
}

}  // namespace strata
