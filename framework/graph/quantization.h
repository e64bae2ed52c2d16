// Int8 quantization of a graph's Linear and Conv2d nodes, as graph attributes (docs/design.md
// "Int8 inference"). `strata quantize` (versioning/run/quantize.h) sets them from calibration
// data; the network then runs those nodes on oneDNN's int8 kernels in eval mode, and the ONNX
// export writes them as QuantizeLinear/DequantizeLinear pairs. The scheme is ONNX's QDQ one:
//
//   input   q_x = saturate(round(x / s_x)) in u8 [0, 255], zero point 0, s_x per tensor: only
//           nodes whose calibration inputs were never negative (after a ReLU) are quantized
//   weight  q_w = round(W / s_w[o]) in [-63, 63], s_w[o] = max|W[o, ...]| / 63 per output
//           channel o (dimension 0)
//   output  y[o] = s_x * s_w[o] * sum(q_x * q_w) + b[o] in f32 (then the fused ReLU, if any)
//
// Why 7-bit weights and unsigned inputs: without VNNI (AVX2, AVX-512 before Cascade Lake) the
// int8 kernels sum pairs of u8 * s8 products in 16 bits, which saturate beyond 32767; with
// |q_w| <= 63 they cannot (2 * 255 * 63 = 32130). ONNX Runtime calls this reduce_range. Signed
// inputs are worse there: oneDNN halves the weights to make room, losing their last bit. So a
// quantized version gives the same answers on every x86 CPU.
//
// A quantized version stores W already rounded to the grid (W = s_w[o] * q_w), so that
// weight_scales() of its stored weights gives back the scales and the f32 and int8 views of a
// version hold the same weights.
#pragma once

#include <optional>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata::int8 {

// The NodeSpec attribute floats[kInputScale] = s_x marks a quantized node.
inline constexpr const char* kInputScale = "int8_input_scale";
inline constexpr int kInputMax = 255;  // q_x in [0, 255]
inline constexpr int kWeightMax = 63;  // q_w in [-63, 63]

struct NodeQuantization {
  float input_scale = 0;  // s_x > 0
};

// The node's quantization, or nullopt when it runs in f32. kCorruption when the attributes are
// there but invalid (not a Linear/Conv2d, scale not finite and > 0).
std::optional<NodeQuantization> node_quantization(const NodeSpec& node);

// Whether `quantize` puts this node in int8: every Linear, and every Conv2d with at least 4
// input channels (a first convolution over 1-3 image channels is slower in int8 on
// oneDNN's kernels than in f32, docs/benchmarks.md "Int8 inference").
bool quantizable(const NodeSpec& node);

// s_w[o] = max|W[o, ...]| / 63 for each output channel (dimension 0); 1 for an all-zero channel.
std::vector<float> weight_scales(const Tensor& weight);
// W[o, ...] = s_w[o] * round(W[o, ...] / s_w[o]): the weights on their int8 grid, in place.
void round_to_grid(Tensor& weight, const std::vector<float>& scales);

}  // namespace strata::int8
