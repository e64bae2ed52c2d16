#include "strata/versioning/diff.h"

#include <algorithm>
#include <cmath>

namespace strata::versioning {

std::vector<TensorDiff> diff_tensors(const NamedTensors& a, const NamedTensors& b, double eps) {
  std::map<std::string, const Tensor*> in_b;
  for (const auto& [name, t] : b) in_b[name] = &t;
  std::vector<TensorDiff> out;
  for (const auto& [name, ta] : a) {
    TensorDiff d;
    d.name = name;
    d.shape_a = ta.shape();
    auto it = in_b.find(name);
    if (it == in_b.end()) {
      d.status = "removed";
      out.push_back(d);
      continue;
    }
    const Tensor& tb = *it->second;
    d.shape_b = tb.shape();
    in_b.erase(it);
    if (ta.shape() != tb.shape() || ta.dtype() != DType::kF32 || tb.dtype() != DType::kF32) {
      d.status = "reshaped";
      out.push_back(d);
      continue;
    }
    // Double accumulation: these are reports, exactness matters more than speed.
    double sum_abs = 0, diff_sq = 0, aa = 0, bb = 0, ab = 0;
    const float* pa = ta.f32();
    const float* pb = tb.f32();
    for (int64_t i = 0; i < ta.numel(); ++i) {
      double x = pa[i], y = pb[i], e = std::abs(x - y);
      sum_abs += e;
      d.max_abs = std::max(d.max_abs, e);
      diff_sq += e * e;
      aa += x * x;
      bb += y * y;
      ab += x * y;
    }
    d.mean_abs = ta.numel() ? sum_abs / static_cast<double>(ta.numel()) : 0.0;
    d.rel_l2 = aa > 0 ? std::sqrt(diff_sq / aa) : (diff_sq > 0 ? INFINITY : 0.0);
    d.cosine = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    d.status = d.mean_abs > eps ? "changed" : "same";
    out.push_back(d);
  }
  for (const auto& [name, tb] : in_b) {
    TensorDiff d;
    d.name = name;
    d.status = "added";
    d.shape_b = tb->shape();
    out.push_back(d);
  }
  // Biggest change first; structural changes (added/removed/reshaped) before numeric ones.
  auto rank = [](const TensorDiff& d) { return d.status == "changed" || d.status == "same" ? 1 : 0; };
  std::stable_sort(out.begin(), out.end(), [&](const TensorDiff& x, const TensorDiff& y) {
    if (rank(x) != rank(y)) return rank(x) < rank(y);
    return x.mean_abs > y.mean_abs;
  });
  return out;
}

GraphDiff diff_graphs(const GraphSpec& a, const GraphSpec& b) {
  GraphDiff d;
  std::map<std::string, const NodeSpec*> in_b;
  for (const NodeSpec& n : b.nodes) in_b[n.name] = &n;
  for (const NodeSpec& n : a.nodes) {
    auto it = in_b.find(n.name);
    if (it == in_b.end()) {
      d.removed.push_back(n.name + " (" + n.op + ")");
      continue;
    }
    const NodeSpec& m = *it->second;
    std::string what;
    if (n.op != m.op) what += " op " + n.op + " -> " + m.op;
    if (n.inputs != m.inputs) what += " inputs changed";
    for (const auto& [k, v] : m.ints)
      if (!n.ints.count(k) || n.ints.at(k) != v) what += " " + k + " -> " + shape_str(v);
    for (const auto& [k, v] : m.floats)
      if (!n.floats.count(k) || n.floats.at(k) != v) what += " " + k + " -> " + std::to_string(v);
    if (n.output_shape != m.output_shape) what += " output " + shape_str(n.output_shape) + " -> " + shape_str(m.output_shape);
    std::map<std::string, const ParamSpec*> params_b;
    for (const ParamSpec& p : m.params) params_b[p.name] = &p;
    for (const ParamSpec& p : n.params) {
      auto it = params_b.find(p.name);
      if (it == params_b.end())
        what += " -" + p.name;
      else if (it->second->shape != p.shape)
        what += " " + p.name + " " + shape_str(p.shape) + " -> " + shape_str(it->second->shape);
      if (it != params_b.end()) params_b.erase(it);
    }
    for (const auto& [name, p] : params_b) what += " +" + name;
    if (!what.empty()) d.changed.push_back(n.name + ":" + what);
    in_b.erase(it);
  }
  for (const NodeSpec& n : b.nodes)
    if (in_b.count(n.name)) d.added.push_back(n.name + " (" + n.op + ")");
  if (a.input_shape != b.input_shape)
    d.changed.push_back(a.input_name + ": input " + shape_str(a.input_shape) + " -> " + shape_str(b.input_shape));
  return d;
}

size_t VersionDiff::changed_tensors() const {
  return static_cast<size_t>(
      std::count_if(tensors.begin(), tensors.end(), [](const TensorDiff& d) { return d.status != "same"; }));
}

VersionDiff diff_versions(const VersionLog& log, const std::string& a_name, const std::string& b_name, double eps) {
  VersionDiff d;
  d.a = log.resolve(a_name);
  d.b = log.resolve(b_name);
  d.eps = eps;
  const CommitRecord ra = log.read_record(d.a), rb = log.read_record(d.b);
  d.graph_a = ra.graph_id;
  d.graph_b = rb.graph_id;
  d.tensors = diff_tensors(log.read_params(d.a), log.read_params(d.b), eps);
  if (ra.graph_id != rb.graph_id) d.graph = diff_graphs(log.read_graph(ra.graph_id), log.read_graph(rb.graph_id));
  for (const auto& [k, v] : ra.metrics) d.metrics[k] = {v, NAN};
  for (const auto& [k, v] : rb.metrics) d.metrics.try_emplace(k, NAN, NAN).first->second.second = v;
  std::map<std::string, std::pair<std::string, std::string>> hparams;
  for (const auto& [k, v] : ra.hparams) hparams[k].first = v;
  for (const auto& [k, v] : rb.hparams) hparams[k].second = v;
  for (auto& [k, v] : hparams)
    if (v.first != v.second) d.hparams.emplace(k, std::move(v));
  auto env = [](const CommitRecord& r, const std::string& key) {
    auto it = r.environment.find(key);
    return it == r.environment.end() ? std::string() : it->second;
  };
  for (const char* role : {"train", "val", "test"}) {
    const std::string p = std::string("data/") + role + "/";
    VersionDiff::DataChange c{env(ra, p + "fingerprint"), env(rb, p + "fingerprint"), env(ra, p + "source"),
                              env(rb, p + "source"),      env(ra, p + "preprocess"),  env(rb, p + "preprocess")};
    if (c.fingerprint_a != c.fingerprint_b || c.preprocess_a != c.preprocess_b || c.source_a != c.source_b) d.data[role] = c;
  }
  std::map<std::string, std::pair<std::string, std::string>> environment;
  for (const auto& [k, v] : ra.environment) environment[k].first = v;
  for (const auto& [k, v] : rb.environment) environment[k].second = v;
  for (auto& [k, v] : environment)
    if (k.rfind("data/", 0) != 0 && v.first != v.second) d.environment.emplace(k, std::move(v));
  return d;
}

}  // namespace strata::versioning
