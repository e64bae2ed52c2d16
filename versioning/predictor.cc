#include "strata/versioning/predictor.h"

#include <cmath>
#include <cstdlib>

#include "strata/framework/core/error.h"
#include "strata/framework/nn/network.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {
namespace {

// "0.2860" or "0.4914,0.4822,0.4465" -> floats; kCorruption names the hparam otherwise.
std::vector<float> parse_floats(const std::string& text, const std::string& key, const std::string& where) {
  std::vector<float> out;
  for (size_t i = 0; i <= text.size();) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    const std::string item = text.substr(i, j - i);
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v))
      throw Error(ErrorCode::kCorruption, "hyper-parameter " + key + " = '" + text + "' is not a list of numbers", where,
                  "pass PredictorOptions().normalize_input(false) and normalise the inputs yourself");
    out.push_back(v);
    i = j + 1;
  }
  return out;
}

}  // namespace

Predictor::Predictor(const std::string& log_dir, const std::string& version, PredictorOptions options) {
  {
    std::unique_ptr<VersionLog> log = VersionLog::open(log_dir, OpenMode::kReadOnly);
    id_ = log->resolve(version);
    name_ = log->describe(id_);
    const CommitRecord record = log->read_record(id_);
    graph_ = log->read_graph(record.graph_id);
    metrics_ = record.metrics;
    net_ = std::make_unique<Network>(graph_);
    net_->load_state_tensors(log->read_params(id_));
    auto mean = record.hparams.find("input/mean"), std = record.hparams.find("input/std");
    if (options.normalize_input() && mean != record.hparams.end() && std != record.hparams.end()) {
      mean_ = parse_floats(mean->second, "input/mean", name_);
      std_ = parse_floats(std->second, "input/std", name_);
      const int64_t channels = graph_.input_shape.empty() ? 1 : graph_.input_shape[0];
      for (const auto* v : {&mean_, &std_})
        if (v->size() != 1 && static_cast<int64_t>(v->size()) != channels)
          throw Error(ErrorCode::kCorruption, "input normalisation has " + std::to_string(v->size()) +
                      " values for " + std::to_string(channels) + " channels", name_);
      for (float s : std_)
        if (!(s > 0)) throw Error(ErrorCode::kCorruption, "input/std must be > 0", name_);
    }
  }  // the log is closed: serving holds no LMDB handle
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

const Tensor& Predictor::predict(const Tensor& x) {
  Shape want = {x.rank() > 0 ? x.dim(0) : 0};
  want.insert(want.end(), graph_.input_shape.begin(), graph_.input_shape.end());
  if (x.dtype() != DType::kF32 || x.shape() != want || want[0] <= 0)
    throw_invalid("input of shape " + shape_str(x.shape()) + " " + dtype_name(x.dtype()) + ", the graph takes [N" +
                      (graph_.input_shape.empty() ? "" : ",") + shape_str(graph_.input_shape).substr(1) + " f32",
                  name_, "reshape the input to the graph's input shape");
  if (mean_.empty()) return net_->forward(x, Mode::kEval);
  // Per channel (dimension 1) when there are several values, else one for all.
  normalized_ = Tensor(x.shape());
  const int64_t n = x.dim(0), channels = x.rank() > 1 ? x.dim(1) : 1;
  const int64_t inner = x.numel() / std::max<int64_t>(n * channels, 1);
  const float* in = x.f32();
  float* out = normalized_.f32();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float m = mean_[mean_.size() == 1 ? 0 : static_cast<size_t>(c)];
      const float s = std_[std_.size() == 1 ? 0 : static_cast<size_t>(c)];
      const int64_t base = (i * channels + c) * inner;
      for (int64_t k = 0; k < inner; ++k) out[base + k] = (in[base + k] - m) / s;
    }
  return net_->forward(normalized_, Mode::kEval);
}

Tensor Predictor::predict_proba(const Tensor& x) {
  const Tensor& logits = predict(x);
  Tensor p(logits.shape());
  const int64_t cols = logits.shape().back(), rows = logits.numel() / std::max<int64_t>(cols, 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits.f32() + r * cols;
    float* o = p.f32() + r * cols;
    float top = z[0];
    for (int64_t j = 1; j < cols; ++j) top = std::max(top, z[j]);
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += o[j] = std::exp(z[j] - top);
    for (int64_t j = 0; j < cols; ++j) o[j] = static_cast<float>(o[j] / sum);
  }
  return p;
}

}  // namespace strata::versioning
