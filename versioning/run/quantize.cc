#include "strata/versioning/run/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/quantization.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/train/runtime.h"
#include "strata/versioning/run/internal/input_normalisation.h"

namespace strata::versioning {
namespace {

constexpr int64_t kBatch = 256;

// What calibration saw at a node's first input.
struct Range {
  float min = std::numeric_limits<float>::infinity(), max_abs = 0;
};

// Runs `net` over the normalised samples in batches; `each` gets every batch's output rows.
template <typename F>
void run_batches(Network& net, const Tensor& inputs, F&& each) {
  const int64_t n = inputs.dim(0);
  for (int64_t b0 = 0; b0 < n; b0 += kBatch) {
    const int64_t b = std::min(kBatch, n - b0);
    each(b0, net.forward(inputs.rows(b0, b0 + b), Mode::kEval));
  }
}

// Index of the largest value of each row of [N, ...classes].
std::vector<int64_t> top1(const Tensor& out) {
  const int64_t rows = out.dim(0), cols = out.numel() / std::max<int64_t>(rows, 1);
  std::vector<int64_t> best(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = out.f32() + r * cols;
    best[static_cast<size_t>(r)] = std::max_element(row, row + cols) - row;
  }
  return best;
}

std::string join_scales(const std::vector<float>& scales) {
  std::string text;
  char buf[32];
  for (float s : scales) {
    std::snprintf(buf, sizeof buf, "%.9g", s);  // 9 digits: a float reads back exactly
    text += (text.empty() ? "" : ",") + std::string(buf);
  }
  return text;
}

// The first `samples` calibration inputs, checked against the graph and normalised.
Tensor calibration_inputs(const QuantizeRequest& request, const GraphSpec& graph, const InputNormalisation& norm,
                          const std::string& where) {
  const Tensor& x = request.calibration;
  Shape want = {x.rank() > 0 ? x.dim(0) : 0};
  want.insert(want.end(), graph.input_shape.begin(), graph.input_shape.end());
  if (x.dtype() != DType::kF32 || x.shape() != want || want[0] <= 0)
    throw_invalid("calibration inputs of shape " + shape_str(x.shape()) + " " + dtype_name(x.dtype()) + ", the graph takes [N," +
                      shape_str(graph.input_shape).substr(1) + " f32",
                  request.calibration_name, "give samples of the data the version was trained on");
  if (request.samples <= 0) throw_invalid("--samples must be > 0", request.calibration_name);
  Tensor used = x.rows(0, std::min(request.samples, x.dim(0)));
  if (!std::all_of(used.f32(), used.f32() + used.numel(), [](float v) { return std::isfinite(v); }))
    throw_invalid("a calibration input is not finite", request.calibration_name);
  if (norm.mean.empty()) return used;
  Tensor normalised;
  normalise_inputs(norm.mean, norm.std, used, normalised, where);
  return normalised;
}

}  // namespace

QuantizeReport quantize(VersionLog& log, const QuantizeRequest& request) {
  QuantizeReport report;
  const CommitId id = log.resolve(request.version);
  const std::string where = log.describe(id);
  const CommitRecord record = log.read_record(id);
  GraphSpec graph = log.read_graph(record.graph_id);
  if (graph.input_dtype != DType::kF32)
    throw Error(ErrorCode::kFailedPrecondition, "int8 quantization takes graphs with f32 inputs; this one reads token ids",
                where);
  for (const NodeSpec& n : graph.nodes)
    if (int8::node_quantization(n))
      throw Error(ErrorCode::kFailedPrecondition, "the version is already quantized to int8", where,
                  "quantize the f32 version it was made from (its parent)");
  report.branch = request.branch.empty() ? "int8-" + short_hex(id) : request.branch;
  if (log.head(report.branch))
    throw Error(ErrorCode::kAlreadyExists, "branch '" + report.branch + "' exists", where, "pass --branch NAME");

  const InputNormalisation norm = resolve_input_normalisation(record, graph, where);
  const Tensor inputs = calibration_inputs(request, graph, norm, where);
  report.samples = inputs.dim(0);
  report.fingerprint = to_hex(hash128(inputs.raw(), inputs.nbytes()));

  // Calibration: the input range of every quantizable node, and the f32 answers.
  NamedTensors params = log.read_params(id);
  std::vector<Range> ranges(graph.nodes.size());
  std::vector<int64_t> f32_top1;
  {
    Network net(graph);
    net.load_state_tensors(params);
    net.set_input_observer([&](size_t node, const std::vector<Tensor>& in) {
      if (!int8::quantizable(graph.nodes[node])) return;
      const float* v = in[0].f32();
      Range& r = ranges[node];
      for (int64_t i = 0; i < in[0].numel(); ++i) {
        r.min = std::min(r.min, v[i]);
        r.max_abs = std::max(r.max_abs, std::fabs(v[i]));
      }
    });
    run_batches(net, inputs, [&](int64_t, const Tensor& out) {
      for (int64_t t : top1(out)) f32_top1.push_back(t);
    });
  }

  TrainState state;
  state.hparams = record.hparams;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    NodeSpec& node = graph.nodes[i];
    if (node.op != "Linear" && node.op != "Conv2d") continue;
    if (!int8::quantizable(node)) {
      report.kept_f32.push_back(node.name + ": fewer than 4 input channels, faster in f32");
      continue;
    }
    if (ranges[i].min < 0) {
      report.kept_f32.push_back(node.name + ": its inputs can be negative (int8 takes unsigned inputs, after a ReLU)");
      continue;
    }
    if (!(ranges[i].max_abs > 0) || !std::isfinite(ranges[i].max_abs)) {
      report.kept_f32.push_back(node.name + ": its calibration inputs were all zero");
      continue;
    }
    const float input_scale = ranges[i].max_abs / static_cast<float>(int8::kInputMax);
    node.floats[int8::kInputScale] = input_scale;
    auto weight = std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == node.params[0].name; });
    weight->second = weight->second.clone();
    int8::round_to_grid(weight->second, int8::weight_scales(weight->second));
    const std::string key = "quantize/" + node.name;
    state.hparams[key + "/input_scale"] = join_scales({input_scale});
    state.hparams[key + "/weight_scales"] = join_scales(int8::weight_scales(weight->second));
    report.quantized.push_back(node.name);
  }
  if (report.quantized.empty())
    throw Error(ErrorCode::kFailedPrecondition, "no Linear or Conv2d node of the graph can run in int8", where);

  // The int8 network's answers on the same samples.
  int64_t agree = 0;
  {
    Network net(graph);
    net.load_state_tensors(params);
    run_batches(net, inputs, [&](int64_t b0, const Tensor& out) {
      const std::vector<int64_t> t = top1(out);
      for (size_t r = 0; r < t.size(); ++r) agree += t[r] == f32_top1[static_cast<size_t>(b0) + r];
    });
  }
  report.top1_agreement = static_cast<double>(agree) / static_cast<double>(report.samples);

  state.graph = graph;
  state.params = std::move(params);
  state.hparams["quantize/method"] =
      "int8 static QDQ: weights s8 in [-63, 63] per output channel (max), inputs u8 per tensor (max over the calibration "
      "samples), zero points 0";
  state.hparams["quantize/from"] = to_hex(id);
  state.hparams["quantize/calibration"] = request.calibration_name;
  state.hparams["quantize/calibration_samples"] = std::to_string(report.samples);
  state.hparams["quantize/calibration_xxh3"] = report.fingerprint;
  state.metrics["quantize/top1_agreement"] = report.top1_agreement;
  state.environment = record.environment;
  for (const auto& [key, value] : runtime_environment()) state.environment[key] = value;
  state.environment["precision"] = "int8 (" + std::to_string(report.quantized.size()) + " Linear/Conv2d nodes), f32 elsewhere";

  SnapshotRequest snapshot;
  snapshot.parents = {id};
  snapshot.branch = report.branch;
  snapshot.message = request.message.empty() ? "quantize " + where + " to int8 (" + std::to_string(report.quantized.size()) +
                                                   " nodes, " + std::to_string(report.samples) + " calibration samples)"
                                             : request.message;
  snapshot.author = request.author;
  snapshot.state = &state;
  snapshot.include_optim = false;
  report.id = log.commit(snapshot).id;
  return report;
}

}  // namespace strata::versioning
