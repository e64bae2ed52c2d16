#include "strata/versioning/run/predictor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>

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

// The normalisation the training data's provenance describes ("... normalize mean M std S; ..."),
// written with %g (6 significant digits). {} when the text does not name one.
std::pair<std::string, std::string> normalisation_in_provenance(const std::string& preprocess) {
  const std::string key = "normalize mean ";
  const size_t at = preprocess.find(key);
  if (at == std::string::npos) return {};
  const size_t std_at = preprocess.find(" std ", at + key.size());
  if (std_at == std::string::npos) return {};
  size_t end = preprocess.find(';', std_at);
  if (end == std::string::npos) end = preprocess.size();
  std::string mean = preprocess.substr(at + key.size(), std_at - at - key.size());
  std::string std = preprocess.substr(std_at + 5, end - std_at - 5);
  // A loader given a mean and no std wrote "std " with nothing after it: it divided by 1.
  return {mean, std.empty() ? "1" : std};
}

}  // namespace

// Decides how inputs are normalised before the network (see the header): recorded hparams,
// else the provenance's text with a warning, else a refusal when the provenance says the
// inputs were normalised some other way.
void Predictor::resolve_normalisation(const CommitRecord& record) {
  auto mean = record.hparams.find("input/mean"), std = record.hparams.find("input/std");
  std::string mean_text, std_text, source = "hyper-parameter ";
  if (mean != record.hparams.end() && std != record.hparams.end()) {
    mean_text = mean->second;
    std_text = std->second;
  } else if (auto prep = record.environment.find("data/train/preprocess"); prep != record.environment.end()) {
    std::tie(mean_text, std_text) = normalisation_in_provenance(prep->second);
    source = "provenance data/train/preprocess, ";
    const bool says_normalised =
        prep->second.find("normaliz") != std::string::npos || prep->second.find("standardiz") != std::string::npos;
    if (mean_text.empty() && says_normalised)
      throw Error(ErrorCode::kFailedPrecondition,
                  "the training inputs were normalised ('" + prep->second +
                      "') but the version recorded no input/mean and input/std to reproduce it",
                  name_, "normalise the inputs as in training and pass PredictorOptions().normalize_input(false)");
    if (!mean_text.empty())
      warnings_.push_back("input normalisation (mean " + mean_text + ", std " + std_text +
                          ") read from the training data's provenance, which keeps 6 significant digits; "
                          "predictions may differ from training in the last bits");
  }
  if (mean_text.empty()) return;
  mean_ = parse_floats(mean_text, source + "input/mean", name_);
  std_ = parse_floats(std_text, source + "input/std", name_);
  const int64_t channels = graph_.input_shape.empty() ? 1 : graph_.input_shape[0];
  for (const auto* v : {&mean_, &std_})
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != channels)
      throw Error(
          ErrorCode::kCorruption,
          "input normalisation has " + std::to_string(v->size()) + " values for " + std::to_string(channels) + " channels",
          name_);
  for (float s : std_)
    if (!(s > 0)) throw Error(ErrorCode::kCorruption, "input/std must be > 0", name_);
  if (graph_.input_dtype != DType::kF32)
    throw Error(ErrorCode::kCorruption, "a normalisation is recorded for integer (token id) inputs", name_);
}

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
    if (options.normalize_input()) resolve_normalisation(record);
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
  // A huge input overflows here, and a network fed inf or NaN may still answer finite numbers
  // (a ReLU turns NaN into 0): refuse rather than answer silently wrong.
  if (!std::all_of(out, out + normalized_.numel(), [](float v) { return std::isfinite(v); }))
    throw_invalid("an input is not finite after the version's normalisation (x - mean) / std", name_,
                  "give inputs as the dataset stores them (images in [0, 1])");
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
