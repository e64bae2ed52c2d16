// Int8 quantization (framework/graph/quantization.h) and the int8 kernels of Linear and Conv2d:
// a quantized node computes exactly the QDQ formula, recomputed here in double precision from
// the same integers, in whatever layouts oneDNN picks; a quantized graph runs inference only.
#include "strata/framework/graph/quantization.h"

#include <gtest/gtest.h>

#include <cmath>

#include "strata/framework/graph/builder.h"
#include "strata/framework/nn/network.h"
#include "tests/expect_error.h"
#include "tests/framework/op_check.h"

namespace strata {
namespace {

using optest::fill_uniform;

// Marks node `name` of g as int8 with input scale s_x.
void quantize_node(GraphSpec& g, const std::string& name, float s_x) {
  for (NodeSpec& n : g.nodes)
    if (n.name == name) n.floats[int8::kInputScale] = s_x;
}

// Integers k in [0, 255], times s_x: inputs that quantize to exactly k. Every 7th value lies
// above the range, to check the saturation.
Tensor grid_input(const Shape& shape, float s_x, uint64_t seed) {
  Tensor x(shape);
  fill_uniform(x, seed, 0.0f, 255.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = (i % 7 == 3 ? 300.0f : std::round(x.f32()[i])) * s_x;
  return x;
}

// The quantized input value as QuantizeLinear gives it.
double q_input(float x, float s_x) { return std::clamp(std::nearbyint(static_cast<double>(x) / s_x), 0.0, 255.0); }

// Random weights on their int8 grid (a quantized version stores them so), and the scales.
std::vector<float> weights_on_grid(Network& net, const std::string& name, uint64_t seed) {
  Tensor& w = net.find_parameter(name)->value;
  fill_uniform(w, seed, -0.5f, 0.5f);
  int8::round_to_grid(w, int8::weight_scales(w));
  return int8::weight_scales(w);
}

TEST(Int8, WeightScalesComeBackFromWeightsOnTheGrid) {
  Tensor w({3, 5});
  fill_uniform(w, 1, -2.0f, 2.0f);
  for (int64_t k = 0; k < 5; ++k) w.f32()[10 + k] = 0;  // an all-zero channel
  w.f32()[2] = -2.52f;
  const std::vector<float> scales = int8::weight_scales(w);
  EXPECT_FLOAT_EQ(scales[0], 2.52f / 63);
  EXPECT_EQ(scales[2], 1.0f);
  int8::round_to_grid(w, scales);
  EXPECT_FLOAT_EQ(w.f32()[2], -2.52f);
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t k = 0; k < 5; ++k) {
      const double q = w.f32()[o * 5 + k] / scales[static_cast<size_t>(o)];
      EXPECT_NEAR(q, std::round(q), 1e-4);
      EXPECT_LE(std::abs(q), 63.0 + 1e-4);
    }
  const std::vector<float> again = int8::weight_scales(w);
  for (size_t o = 0; o < 3; ++o) EXPECT_FLOAT_EQ(again[o], scales[o]);
}

TEST(Int8, WhichNodesQuantizeAndBadAttributesAreRefused) {
  GraphSpec g = Sequential({1, 8, 8}).conv2d(Conv2dOptions(4, 3)).relu().conv2d(Conv2dOptions(4, 3)).flatten().linear(3).build();
  EXPECT_FALSE(int8::quantizable(g.nodes[0]));  // 1 input channel
  EXPECT_TRUE(int8::quantizable(g.nodes[2]));   // 4
  EXPECT_TRUE(int8::quantizable(g.nodes[4]));
  EXPECT_FALSE(int8::quantizable(g.nodes[1]));  // a ReLU
  EXPECT_FALSE(int8::node_quantization(g.nodes[2]).has_value());
  g.nodes[2].floats[int8::kInputScale] = 0.5;
  auto q = int8::node_quantization(g.nodes[2]);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->input_scale, 0.5f);
  g.nodes[2].floats[int8::kInputScale] = -1;
  expect_error([&] { int8::node_quantization(g.nodes[2]); }, ErrorCode::kCorruption, {"conv2", "not finite and > 0"});
  g.nodes[1].floats[int8::kInputScale] = 0.5;
  expect_error([&] { int8::node_quantization(g.nodes[1]); }, ErrorCode::kCorruption, {"no int8 kernel"});
}

// y = s_x * s_w[o] * sum(q_x * q_w) + b[o], without and with a fused ReLU. The weights span
// [-63, 63] and the inputs [0, 255]: the largest sums a kernel without VNNI can form.
TEST(Int8, LinearComputesTheQdqFormula) {
  for (bool relu : {false, true}) {
    Sequential s({24});
    s.linear(7);
    if (relu) s.relu();
    GraphSpec g = s.build();
    const float s_x = 0.03f;
    quantize_node(g, "fc1", s_x);
    Network net(g);
    net.init_params(1);
    const std::vector<float> s_w = weights_on_grid(net, "fc1/weight", 2);
    const Tensor& w = net.find_parameter("fc1/weight")->value;
    const Tensor& b = net.find_parameter("fc1/bias")->value;
    fill_uniform(net.find_parameter("fc1/bias")->value, 3, -1.0f, 1.0f);
    const Tensor x = grid_input({5, 24}, s_x, 4);
    const Tensor& y = net.forward(x, Mode::kEval);
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t o = 0; o < 7; ++o) {
        double sum = 0;
        for (int64_t i = 0; i < 24; ++i) sum += q_input(x.f32()[r * 24 + i], s_x) * std::nearbyint(w.f32()[o * 24 + i] / s_w[o]);
        double want = static_cast<double>(s_x) * s_w[o] * sum + b.f32()[o];
        if (relu) want = std::max(want, 0.0);
        EXPECT_NEAR(y.f32()[r * 7 + o], want, 1e-5 * (1 + std::abs(want))) << "relu " << relu;
      }
  }
}

// The same for a padded convolution feeding a ReLU and a pooling (oneDNN's blocked layouts).
TEST(Int8, Conv2dComputesTheQdqFormula) {
  GraphSpec g = Sequential({8, 6, 6}).conv2d(Conv2dOptions(5, 3).padding(1)).relu().max_pool2d(2).build();
  const float s_x = 0.02f;
  quantize_node(g, "conv1", s_x);
  Network net(g);
  net.init_params(1);
  const std::vector<float> s_w = weights_on_grid(net, "conv1/weight", 5);
  fill_uniform(net.find_parameter("conv1/bias")->value, 6, -1.0f, 1.0f);
  const Tensor& w = net.find_parameter("conv1/weight")->value;
  const Tensor& b = net.find_parameter("conv1/bias")->value;
  const Tensor x = grid_input({2, 8, 6, 6}, s_x, 7);
  const Tensor& y = net.forward(x, Mode::kEval);
  // The ReLU of the convolution at (n, o, h, v).
  auto conv = [&](int64_t n, int64_t o, int64_t h, int64_t v) {
    double sum = 0;
    for (int64_t c = 0; c < 8; ++c)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          const int64_t hh = h + i - 1, vv = v + j - 1;
          if (hh < 0 || hh >= 6 || vv < 0 || vv >= 6) continue;
          sum += q_input(x.f32()[((n * 8 + c) * 6 + hh) * 6 + vv], s_x) *
                 std::nearbyint(w.f32()[((o * 8 + c) * 3 + i) * 3 + j] / s_w[o]);
        }
    return std::max(static_cast<double>(s_x) * s_w[o] * sum + b.f32()[o], 0.0);
  };
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 5; ++o)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t v = 0; v < 3; ++v) {
          double want = 0;
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 2; ++j) want = std::max(want, conv(n, o, 2 * h + i, 2 * v + j));
          EXPECT_NEAR(y.f32()[((n * 5 + o) * 3 + h) * 3 + v], want, 1e-5 * (1 + want));
        }
}

// Training a quantized graph is refused (its weights are frozen on the int8 grid), and loading
// new parameters re-quantizes them: the next forward uses the new weights.
TEST(Int8, AQuantizedGraphRunsInferenceOnlyAndTakesNewParameters) {
  GraphSpec g = Sequential({4}).linear(2).build();
  quantize_node(g, "fc1", 0.01f);
  Network net(g);
  net.init_params(1);
  Tensor x({1, 4});
  for (int64_t i = 0; i < 4; ++i) x.f32()[i] = 0.5f;
  const Tensor first = net.forward(x, Mode::kEval).clone();
  expect_error([&] { net.forward(x, Mode::kTrain); }, ErrorCode::kFailedPrecondition, {"int8", "fc1", "parent"});
  NamedTensors doubled = net.state_tensors();
  for (auto& [name, t] : doubled)
    for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] *= 2;
  net.load_state_tensors(doubled);
  const Tensor& second = net.forward(x, Mode::kEval);
  for (int64_t o = 0; o < 2; ++o) EXPECT_NEAR(second.f32()[o], 2 * first.f32()[o], 1e-5);
}

}  // namespace
}  // namespace strata
