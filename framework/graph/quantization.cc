#include "strata/framework/graph/quantization.h"

#include <algorithm>
#include <cmath>

#include "strata/framework/core/error.h"

namespace strata::int8 {

std::optional<NodeQuantization> node_quantization(const NodeSpec& node) {
  auto scale = node.floats.find(kInputScale);
  if (scale == node.floats.end()) return std::nullopt;
  const std::string where = node.op + "(" + node.name + ")";
  if (node.op != "Linear" && node.op != "Conv2d")
    throw Error(ErrorCode::kCorruption, "int8 attributes on an op that has no int8 kernel", where);
  if (!(scale->second > 0) || !std::isfinite(static_cast<float>(scale->second)))
    throw Error(ErrorCode::kCorruption, "int8 input scale " + std::to_string(scale->second) + " is not finite and > 0", where);
  NodeQuantization q;
  q.input_scale = static_cast<float>(scale->second);
  return q;
}

bool quantizable(const NodeSpec& node) {
  if (node.op == "Linear") return true;
  // The weight is [O, C, kh, kw].
  return node.op == "Conv2d" && !node.params.empty() && node.params[0].shape.size() == 4 && node.params[0].shape[1] >= 4;
}

std::vector<float> weight_scales(const Tensor& weight) {
  const int64_t out = weight.dim(0), per = weight.numel() / std::max<int64_t>(out, 1);
  std::vector<float> scales(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const float* w = weight.f32() + o * per;
    float top = 0;
    for (int64_t k = 0; k < per; ++k) top = std::max(top, std::fabs(w[k]));
    scales[static_cast<size_t>(o)] = top > 0 ? top / static_cast<float>(kWeightMax) : 1.0f;
  }
  return scales;
}

void round_to_grid(Tensor& weight, const std::vector<float>& scales) {
  const int64_t out = weight.dim(0), per = weight.numel() / std::max<int64_t>(out, 1);
  for (int64_t o = 0; o < out; ++o) {
    const float s = scales[static_cast<size_t>(o)];
    float* w = weight.f32() + o * per;
    // nearbyint: round half to even, as QuantizeLinear and oneDNN's conversions do.
    const float top = static_cast<float>(kWeightMax);
    for (int64_t k = 0; k < per; ++k) w[k] = s * std::clamp(std::nearbyint(w[k] / s), -top, top);
  }
}

}  // namespace strata::int8
