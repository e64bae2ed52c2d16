#include "strata/versioning/run/internal/input_normalisation.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include "strata/framework/core/error.h"

namespace strata::versioning {
namespace {

// "0.2860" or "0.4914,0.4822,0.4465" -> floats; `code` names the hparam otherwise.
std::vector<float> parse_floats(const std::string& text, const std::string& key, ErrorCode code, const std::string& where) {
  std::vector<float> out;
  for (size_t i = 0; i <= text.size();) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    const std::string item = text.substr(i, j - i);
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v))
      throw Error(code, key + " = '" + text + "' is not a list of numbers", where,
                  code == ErrorCode::kCorruption
                      ? "pass PredictorOptions().normalize_input(false) and normalise the inputs yourself"
                      : "give one number, or one per input channel, separated by commas");
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

NormalisationText recorded_normalisation_text(const CommitRecord& record, const std::string& where) {
  NormalisationText text;
  auto mean = record.hparams.find("input/mean"), std = record.hparams.find("input/std");
  if (mean != record.hparams.end() && std != record.hparams.end()) {
    text.mean = mean->second;
    text.std = std->second;
    text.source = "hyper-parameter ";
  } else if (auto prep = record.environment.find("data/train/preprocess"); prep != record.environment.end()) {
    std::tie(text.mean, text.std) = normalisation_in_provenance(prep->second);
    text.source = "provenance data/train/preprocess, ";
    const bool says_normalised =
        prep->second.find("normaliz") != std::string::npos || prep->second.find("standardiz") != std::string::npos;
    if (text.mean.empty() && says_normalised)
      throw Error(ErrorCode::kFailedPrecondition,
                  "the training inputs were normalised ('" + prep->second +
                      "') but the version recorded no input/mean and input/std to reproduce it",
                  where, "normalise the inputs as in training and pass PredictorOptions().normalize_input(false)");
    if (!text.mean.empty())
      text.warnings.push_back("input normalisation (mean " + text.mean + ", std " + text.std +
                              ") read from the training data's provenance, which keeps 6 significant digits; "
                              "predictions may differ from training in the last bits");
  }
  return text;
}

InputNormalisation parse_input_normalisation(const std::string& mean_text, const std::string& std_text, const GraphSpec& graph,
                                             const std::string& source, ErrorCode code, const std::string& where) {
  InputNormalisation norm;
  norm.mean = parse_floats(mean_text, source + "input/mean", code, where);
  norm.std = parse_floats(std_text, source + "input/std", code, where);
  const int64_t channels = graph.input_shape.empty() ? 1 : graph.input_shape[0];
  for (const auto* v : {&norm.mean, &norm.std})
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != channels)
      throw Error(
          code, "input normalisation has " + std::to_string(v->size()) + " values for " + std::to_string(channels) + " channels",
          where, "give one number for all channels or one per channel");
  for (float s : norm.std)
    if (!(s > 0)) throw Error(code, "input/std must be > 0", where);
  if (graph.input_dtype != DType::kF32) throw Error(code, "a normalisation is recorded for integer (token id) inputs", where);
  return norm;
}

InputNormalisation resolve_input_normalisation(const CommitRecord& record, const GraphSpec& graph, const std::string& where) {
  NormalisationText text = recorded_normalisation_text(record, where);
  if (text.mean.empty()) return {};
  InputNormalisation norm = parse_input_normalisation(text.mean, text.std, graph, text.source, ErrorCode::kCorruption, where);
  norm.warnings = std::move(text.warnings);
  return norm;
}

void normalise_inputs(const std::vector<float>& mean, const std::vector<float>& stddev, const Tensor& x, Tensor& out,
                      const std::string& where) {
  if (out.shape() != x.shape()) out = Tensor(x.shape());
  // Per channel (dimension 1) when there are several values, else one for all.
  const int64_t n = x.dim(0), channels = x.rank() > 1 ? x.dim(1) : 1;
  const int64_t inner = x.numel() / std::max<int64_t>(n * channels, 1);
  const float* in = x.f32();
  float* o = out.f32();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float m = mean[mean.size() == 1 ? 0 : static_cast<size_t>(c)];
      const float s = stddev[stddev.size() == 1 ? 0 : static_cast<size_t>(c)];
      const int64_t base = (i * channels + c) * inner;
      for (int64_t k = 0; k < inner; ++k) o[base + k] = (in[base + k] - m) / s;
    }
  // A huge input overflows here, and a network fed inf or NaN may still answer finite numbers
  // (a ReLU turns NaN into 0): refuse rather than answer silently wrong.
  if (!std::all_of(o, o + out.numel(), [](float v) { return std::isfinite(v); }))
    throw_invalid("an input is not finite after the version's normalisation (x - mean) / std", where,
                  "give inputs as the dataset stores them (images in [0, 1])");
}

}  // namespace strata::versioning
