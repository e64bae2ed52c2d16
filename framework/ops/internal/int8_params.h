// What an int8 Linear or Conv2d derives from its f32 parameters (framework/graph/quantization.h).
#pragma once

#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/quantization.h"

namespace strata {

struct Int8Params {
  std::vector<float> output_scales;  // s_x * s_w[o]: the primitive's output scales
  std::vector<float> to_grid;        // 1 / s_w[o]: the scales of the weights' reorder into s8
  Tensor bias;                       // b[o] / (s_x * s_w[o]); undefined without a bias
};

// params: {weight, bias?}. oneDNN 2.x adds the bias to the s32 sums before it applies the output
// scales, so the bias goes in units of those sums.
inline Int8Params int8_params(const int8::NodeQuantization& q, const std::vector<Tensor>& params) {
  Int8Params p;
  const std::vector<float> w_scales = int8::weight_scales(params[0]);
  for (float s : w_scales) {
    p.output_scales.push_back(q.input_scale * s);
    p.to_grid.push_back(1.0f / s);
  }
  if (params.size() > 1) {
    p.bias = Tensor(params[1].shape());
    for (size_t o = 0; o < p.output_scales.size(); ++o) p.bias.f32()[o] = params[1].f32()[o] / p.output_scales[o];
  }
  return p;
}

}  // namespace strata
