// Numerical gradient checks (central differences) for every op and every loss, on small random
// shapes. L = sum(r * f(x)) for a fixed random r; analytic gradients come from backward() with
// output_grad = r. Inputs are nudged away from kinks (ReLU at 0, max-pool ties).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"

namespace strata {
namespace {

constexpr float kEps = 1e-2f;

void fill_uniform(Tensor& t, uint64_t seed, float lo, float hi) {
  CounterRng rng(seed, RngPurpose::kData);
  float* p = t.f32();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * rng.uniform(i);
}

// Distinct values spaced 0.05 apart with |x| >= 0.05, in shuffled order: no max-pool ties and no
// ReLU kink within a perturbation of kEps.
void fill_distinct(Tensor& t, uint64_t seed) {
  CounterRng rng(seed, RngPurpose::kData);
  int64_t n = t.numel();
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.05f * static_cast<float>(i - n / 2) + (i >= n / 2 ? 0.05f : 0.0f);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.below(i, i + 1)]);
  std::copy(v.begin(), v.end(), t.f32());
  float scale = 2.0f / std::max<float>(1.0f, 0.05f * n);
  for (int64_t i = 0; i < n; ++i) t.f32()[i] *= std::max(scale, 1.0f);
}

double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.f32()[i]) * r.f32()[i];
  return s;
}

void expect_close(double analytic, double numeric, const std::string& what) {
  double tol = 3e-3 + 3e-2 * std::max(std::abs(analytic), std::abs(numeric));
  EXPECT_NEAR(analytic, numeric, tol) << what;
}

// Checks dL/dx and dL/dparam for up to `samples` coordinates of every tensor.
void check_gradients(const GraphSpec& g, int64_t batch, bool distinct_input = false, int samples = 24) {
  Network net(g, NetworkOptions().input_grad(true));
  net.init_params(7);
  for (Parameter& p : net.parameters())
    if (p.trainable) fill_uniform(p.value, std::hash<std::string>{}(p.name), -0.6f, 0.6f);
  Shape in_shape = {batch};
  in_shape.insert(in_shape.end(), g.input_shape.begin(), g.input_shape.end());
  Tensor x(in_shape);
  if (distinct_input) fill_distinct(x, 11); else fill_uniform(x, 11, -1.0f, 1.0f);
  net.set_step_key(3, 1, 5);

  const Tensor& y = net.forward(x, Mode::kTrain);
  Tensor r(y.shape());
  fill_uniform(r, 13, -1.0f, 1.0f);
  net.output_grad().copy_from(r);
  net.backward();
  Tensor dx = net.input_grad().clone();
  std::vector<Tensor> dparams;
  for (Parameter& p : net.parameters()) dparams.push_back(p.trainable ? p.grad.clone() : Tensor());

  auto loss_at = [&]() { return weighted_sum(net.forward(x, Mode::kTrain), r); };
  auto probe = [&](Tensor& t, const Tensor& analytic, const std::string& name) {
    CounterRng pick(99, RngPurpose::kData);
    int64_t n = t.numel();
    int count = static_cast<int>(std::min<int64_t>(samples, n));
    for (int k = 0; k < count; ++k) {
      int64_t i = n <= samples ? k : static_cast<int64_t>(pick.below(k, n));
      float saved = t.f32()[i];
      t.f32()[i] = saved + kEps;
      double up = loss_at();
      t.f32()[i] = saved - kEps;
      double down = loss_at();
      t.f32()[i] = saved;
      expect_close(analytic.f32()[i], (up - down) / (2.0 * kEps), name + "[" + std::to_string(i) + "]");
    }
  };
  probe(x, dx, "input");
  for (size_t j = 0; j < net.parameters().size(); ++j)
    if (net.parameters()[j].trainable) probe(net.parameters()[j].value, dparams[j], net.parameters()[j].name);
}

TEST(GradCheck, Linear) {
  GraphBuilder b({5});
  check_gradients(b.build(b.linear("fc", b.input(), 4)), 3);
  GraphBuilder nb({5});
  check_gradients(nb.build(nb.linear("fc", nb.input(), 3, /*bias=*/false)), 2);
}

TEST(GradCheck, Conv2dPlain) {
  GraphBuilder b({3, 6, 6});
  check_gradients(b.build(b.conv2d("conv", b.input(), Conv2dOptions(4, 3).padding(1))), 2);
}

TEST(GradCheck, Conv2dStridedPadded) {
  GraphBuilder b({2, 7, 7});
  check_gradients(b.build(b.conv2d("conv", b.input(), Conv2dOptions(3, 3).stride(2).padding(1))), 2);
}

TEST(GradCheck, Conv2dDilatedNoBias) {
  GraphBuilder b({2, 7, 7});
  check_gradients(b.build(b.conv2d("conv", b.input(), Conv2dOptions(2, 3).dilation(2).padding(2).bias(false))), 2);
}

TEST(GradCheck, MaxPoolOverlapping) {
  GraphBuilder b({2, 6, 6});
  check_gradients(b.build(b.max_pool2d("pool", b.input(), 3, 2, 1)), 2, /*distinct_input=*/true);
}

TEST(GradCheck, AvgPool) {
  GraphBuilder b({2, 6, 6});
  check_gradients(b.build(b.avg_pool2d("pool", b.input(), 3, 2, 1)), 2);
  GraphBuilder b2({2, 4, 4});
  check_gradients(b2.build(b2.avg_pool2d("pool", b2.input(), 2)), 2);
}

TEST(GradCheck, GlobalAvgPool) {
  GraphBuilder b({3, 4, 5});
  check_gradients(b.build(b.global_avg_pool("gap", b.input())), 2);
}

TEST(GradCheck, BatchNorm2dTraining) {
  GraphBuilder b({3, 3, 3});
  check_gradients(b.build(b.batch_norm("bn", b.input())), 4);
}

TEST(GradCheck, BatchNorm1dTraining) {
  GraphBuilder b({4});
  check_gradients(b.build(b.batch_norm("bn", b.input())), 6);
}

TEST(GradCheck, Activations) {
  for (const char* kind : {"relu", "leaky_relu", "sigmoid", "tanh", "gelu"}) {
    SCOPED_TRACE(kind);
    GraphBuilder b({7});
    check_gradients(b.build(b.activation(kind, "act", b.input())), 3, /*distinct_input=*/true);
  }
}

TEST(GradCheck, Dropout) {
  GraphBuilder b({10});
  check_gradients(b.build(b.dropout("drop", b.input(), 0.3)), 3);
}

TEST(GradCheck, FlattenThenLinear) {
  GraphBuilder b({2, 3, 3});
  check_gradients(b.build(b.linear("fc", b.flatten("flat", b.input()), 4)), 2);
}

TEST(GradCheck, Softmax) {
  GraphBuilder b({6});
  check_gradients(b.build(b.softmax("sm", b.input())), 3);
}

TEST(GradCheck, ConcatOfTwoBranches) {
  GraphBuilder b({4});
  std::string l = b.linear("left", b.input(), 3), r = b.tanh("right", b.input());
  check_gradients(b.build(b.concat("cat", {l, r, b.input()})), 2);
}

TEST(GradCheck, ResidualDagWithBatchNorm) {
  // x -> conv -> bn -> tanh -> conv -> (+ x) -> tanh: the input gradient sums two paths.
  GraphBuilder b({2, 5, 5});
  b.set_scope("block1");
  std::string h = b.conv2d("conv1", b.input(), Conv2dOptions(2, 3).padding(1));
  h = b.batch_norm("bn1", h);
  h = b.tanh("act1", h);
  h = b.conv2d("conv2", h, Conv2dOptions(2, 3).padding(1));
  std::string sum = b.add("add", b.input(), h);
  b.set_scope("");
  check_gradients(b.build(b.tanh("out", sum)), 3);
}

TEST(GradCheck, SharedActivationFeedsThreeConsumers) {
  GraphBuilder b({5});
  std::string h = b.linear("fc", b.input(), 5);
  std::string a = b.tanh("a", h), s = b.sigmoid("s", h);
  check_gradients(b.build(b.add("sum2", b.add("sum1", a, s), h)), 3);
}

TEST(GradCheck, FusedLinearReluAndConvRelu) {
  // Linear/Conv2d followed by its only consumer ReLU run fused (ReLU as a oneDNN post-op).
  GraphBuilder b({5});
  check_gradients(b.build(b.linear("fc2", b.relu("act", b.linear("fc1", b.input(), 6)), 3)), 3);
  GraphBuilder c({2, 5, 5});
  std::string h = c.relu("act", c.conv2d("conv", c.input(), Conv2dOptions(3, 3).padding(1)));
  GraphSpec conv_relu = c.build(c.linear("fc", c.flatten("flat", h), 2));
  // A conv weight step of kEps moves 25 pre-activations at once, so some cross the ReLU kink and
  // central differences are unreliable there; instead the fused gradients must equal the
  // unfused ones (whose ops are each checked numerically above).
  auto grads_of = [&](bool fuse) {
    Network net(conv_relu, NetworkOptions().fuse(fuse).input_grad(true));
    net.init_params(5);
    Tensor x({2, 2, 5, 5});
    fill_uniform(x, 8, -1, 1);
    const Tensor& y = net.forward(x, Mode::kTrain);
    Tensor r(y.shape());
    fill_uniform(r, 9, -1, 1);
    net.output_grad().copy_from(r);
    net.backward();
    NamedTensors g = {{"input", net.input_grad().clone()}, {"out", y.clone()}};
    for (Parameter& p : net.parameters()) g.emplace_back(p.name, p.grad.clone());
    return g;
  };
  NamedTensors fused = grads_of(true), plain = grads_of(false);
  for (size_t k = 0; k < fused.size(); ++k)
    for (int64_t i = 0; i < fused[k].second.numel(); ++i)
      ASSERT_NEAR(fused[k].second.f32()[i], plain[k].second.f32()[i], 1e-5) << fused[k].first << "[" << i << "]";
}

TEST(Fusion, ForwardEqualsMaxOfAffine) {
  GraphBuilder b({3});
  Network net(b.build(b.relu("act", b.linear("fc", b.input(), 2))));
  net.parameters()[0].value.copy_from(Tensor::from_vector({2, 3}, {1, -2, 0.5f, -1, 1, 1}));
  net.parameters()[1].value.copy_from(Tensor::from_vector({2}, {0.25f, -3}));
  Tensor x = Tensor::from_vector({1, 3}, {1, 2, 4});
  const Tensor& y = net.forward(x, Mode::kEval);
  EXPECT_FLOAT_EQ(y.f32()[0], 0.0f);  // 1 - 4 + 2 + 0.25 = -0.75 -> 0
  EXPECT_FLOAT_EQ(y.f32()[1], 2.0f);  // -1 + 2 + 4 - 3 = 2
}

// Losses: numerical derivative w.r.t. the logits.
void check_loss(const std::string& name, const LossOptions& options, const Tensor& target, Shape out_shape) {
  auto loss = make_loss(name, options);
  Tensor z(out_shape), grad(out_shape);
  fill_distinct(z, 21);
  loss->compute(z, target, &grad);
  for (int64_t i = 0; i < z.numel(); ++i) {
    float saved = z.f32()[i];
    z.f32()[i] = saved + 1e-3f;
    double up = loss->compute(z, target, nullptr);
    z.f32()[i] = saved - 1e-3f;
    double down = loss->compute(z, target, nullptr);
    z.f32()[i] = saved;
    expect_close(grad.f32()[i], (up - down) / 2e-3, name + "[" + std::to_string(i) + "]");
  }
}

Tensor labels(std::vector<int64_t> v) {
  Tensor t({static_cast<int64_t>(v.size())}, DType::kI64);
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

TEST(GradCheck, Losses) {
  check_loss("softmax_cross_entropy", {}, labels({0, 3, 2}), {3, 4});
  check_loss("softmax_cross_entropy", LossOptions().label_smoothing(0.1), labels({1, 2, 0}), {3, 4});
  check_loss("hinge", {}, labels({2, 0, 3}), {3, 4});
  Tensor t({3, 4});
  fill_uniform(t, 5, 0.0f, 1.0f);
  check_loss("mse", {}, t, {3, 4});
  Tensor bits({3, 4});
  for (int64_t i = 0; i < 12; ++i) bits.f32()[i] = static_cast<float>(i % 3 == 0);
  check_loss("bce_with_logits", {}, bits, {3, 4});
}

TEST(Loss, KnownValues) {
  // Uniform logits over 4 classes: CE = log 4 exactly; gradient (1/4 - onehot)/N.
  Tensor z({2, 4}), grad({2, 4});
  auto ce = make_loss("softmax_cross_entropy");
  EXPECT_NEAR(ce->compute(z, labels({1, 3}), &grad), std::log(4.0), 1e-12);
  EXPECT_FLOAT_EQ(grad.f32()[1], (0.25f - 1.0f) / 2.0f);
  EXPECT_FLOAT_EQ(grad.f32()[0], 0.25f / 2.0f);
  // Hinge with margin 1 and zero logits: 3 active margins of 1 each.
  EXPECT_DOUBLE_EQ(make_loss("hinge")->compute(z, labels({0, 2}), nullptr), 3.0);
  // BCE of logit 0 is log 2 whatever the target.
  Tensor t({2, 4});
  EXPECT_NEAR(make_loss("bce_with_logits")->compute(z, t, nullptr), std::log(2.0), 1e-12);
}

TEST(Loss, BadTargetsAreClearErrors) {
  Tensor z({2, 4});
  auto ce = make_loss("softmax_cross_entropy");
  try {
    ce->compute(z, labels({1, 7}), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 7 of sample 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ce->compute(z, labels({1}), nullptr), Error);
  EXPECT_THROW(make_loss("nope"), Error);
}

}  // namespace
}  // namespace strata
