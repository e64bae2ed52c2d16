#include "strata/versioning/run/predictor.h"

#include <algorithm>
#include <cmath>

#include "strata/framework/core/error.h"
#include "strata/framework/nn/network.h"
#include "strata/versioning/run/internal/input_normalisation.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

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
    if (options.normalize_input()) {
      InputNormalisation norm = resolve_input_normalisation(record, graph_, name_);
      mean_ = std::move(norm.mean);
      std_ = std::move(norm.std);
      warnings_ = std::move(norm.warnings);
    }
    if (auto stats = record.environment.find("data/train/input_stats"); stats != record.environment.end()) {
      try {
        input_stats_ = InputReference::parse(stats->second);
      } catch (const Error& e) {
        warnings_.push_back(std::string("input statistics unreadable, drift is unknown: ") + e.what());
      }
    }
  }  // the log is closed: serving holds no LMDB handle
}

const Shape& Predictor::output_shape() const {
  const NodeSpec* out = graph_.find(graph_.output);
  static const Shape kNone;
  return out ? out->output_shape : kNone;
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

const Tensor& Predictor::predict(const Tensor& x) {
  Shape want = {x.rank() > 0 ? x.dim(0) : 0};
  want.insert(want.end(), graph_.input_shape.begin(), graph_.input_shape.end());
  if (x.dtype() != graph_.input_dtype || x.shape() != want || want[0] <= 0)
    throw_invalid("input of shape " + shape_str(x.shape()) + " " + dtype_name(x.dtype()) + ", the graph takes [N" +
                      (graph_.input_shape.empty() ? "" : ",") + shape_str(graph_.input_shape).substr(1) + " " +
                      dtype_name(graph_.input_dtype),
                  name_, "reshape the input to the graph's input shape");
  if (mean_.empty()) return net_->forward(x, Mode::kEval);
  normalise_inputs(mean_, std_, x, normalized_, name_);
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
