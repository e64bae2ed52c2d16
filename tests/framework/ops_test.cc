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
#include "tests/framework/op_check.h"

namespace strata {
namespace {

constexpr float kEps = 1e-2f;

using optest::fill_distinct;
using optest::fill_uniform;

using optest::weighted_sum;

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
  if (distinct_input)
    fill_distinct(x, 11);
  else
    fill_uniform(x, 11, -1.0f, 1.0f);
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
    optest::expect_gradient(t, analytic, name, samples, loss_at);
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
  Value l = b.linear("left", b.input(), 3), r = b.tanh("right", b.input());
  check_gradients(b.build(b.concat("cat", {l, r, b.input()})), 2);
}

TEST(GradCheck, ResidualDagWithBatchNorm) {
  // x -> conv -> bn -> tanh -> conv -> (+ x) -> tanh: the input gradient sums two paths.
  GraphBuilder b({2, 5, 5});
  b.set_scope("block1");
  Value h = b.conv2d("conv1", b.input(), Conv2dOptions(2, 3).padding(1));
  h = b.batch_norm("bn1", h);
  h = b.tanh("act1", h);
  h = b.conv2d("conv2", h, Conv2dOptions(2, 3).padding(1));
  Value sum = b.add("add", b.input(), h);
  b.set_scope("");
  check_gradients(b.build(b.tanh("out", sum)), 3);
}

TEST(GradCheck, SharedActivationFeedsThreeConsumers) {
  GraphBuilder b({5});
  Value h = b.linear("fc", b.input(), 5);
  Value a = b.tanh("a", h), s = b.sigmoid("s", h);
  check_gradients(b.build(b.add("sum2", b.add("sum1", a, s), h)), 3);
}

TEST(GradCheck, FusedLinearReluAndConvRelu) {
  // Linear/Conv2d followed by its only consumer ReLU run fused (ReLU as a oneDNN post-op).
  GraphBuilder b({5});
  check_gradients(b.build(b.linear("fc2", b.relu("act", b.linear("fc1", b.input(), 6)), 3)), 3);
  GraphBuilder c({2, 5, 5});
  Value h = c.relu("act", c.conv2d("conv", c.input(), Conv2dOptions(3, 3).padding(1)));
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
  auto loss = make_loss(loss_kind_from_name(name), options);
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
  // Per token over a sequence, with one ignored token.
  Tensor tokens = labels({0, 3, -1, 2, 1, 1}).reshaped({3, 2});
  check_loss("softmax_cross_entropy", {}, tokens, {3, 2, 4});
  check_loss("softmax_cross_entropy", LossOptions().label_smoothing(0.1), tokens, {3, 2, 4});
}

TEST(Loss, SequenceCrossEntropyKnownValues) {
  // Uniform logits: log 4 per counted token; the ignored token gets zero gradient and the
  // others (p - onehot) / 5 (five tokens counted).
  Tensor z({3, 2, 4}), grad({3, 2, 4});
  Tensor tokens = labels({0, 3, -1, 2, 1, 1}).reshaped({3, 2});
  EXPECT_NEAR(make_loss(LossKind::kSoftmaxCrossEntropy)->compute(z, tokens, &grad), std::log(4.0), 1e-12);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(grad.f32()[2 * 4 + j], 0.0f);
  EXPECT_FLOAT_EQ(grad.f32()[0], (0.25f - 1.0f) / 5.0f);
  EXPECT_FLOAT_EQ(grad.f32()[1], 0.25f / 5.0f);
  // Another ignore index; -1 is then an error naming sample and token.
  Tensor other = labels({0, 3, 9, 2, 1, 1}).reshaped({3, 2});
  EXPECT_NEAR(make_loss(LossKind::kSoftmaxCrossEntropy, LossOptions().ignore_index(9))->compute(z, other, nullptr), std::log(4.0),
              1e-12);
  try {
    make_loss(LossKind::kSoftmaxCrossEntropy, LossOptions().ignore_index(9))->compute(z, tokens, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target -1 of sample 1, token 0"), std::string::npos) << e.what();
  }
}

TEST(Loss, KnownValues) {
  // Uniform logits over 4 classes: CE = log 4 exactly; gradient (1/4 - onehot)/N.
  Tensor z({2, 4}), grad({2, 4});
  auto ce = make_loss(LossKind::kSoftmaxCrossEntropy);
  EXPECT_NEAR(ce->compute(z, labels({1, 3}), &grad), std::log(4.0), 1e-12);
  EXPECT_FLOAT_EQ(grad.f32()[1], (0.25f - 1.0f) / 2.0f);
  EXPECT_FLOAT_EQ(grad.f32()[0], 0.25f / 2.0f);
  // Hinge with margin 1 and zero logits: 3 active margins of 1 each.
  EXPECT_DOUBLE_EQ(make_loss(LossKind::kHinge)->compute(z, labels({0, 2}), nullptr), 3.0);
  // BCE of logit 0 is log 2 whatever the target.
  Tensor t({2, 4});
  EXPECT_NEAR(make_loss(LossKind::kBceWithLogits)->compute(z, t, nullptr), std::log(2.0), 1e-12);
}

TEST(Loss, BadTargetsAreClearErrors) {
  Tensor z({2, 4});
  auto ce = make_loss(LossKind::kSoftmaxCrossEntropy);
  try {
    ce->compute(z, labels({1, 7}), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 7 of sample 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ce->compute(z, labels({1}), nullptr), Error);
  EXPECT_THROW(loss_kind_from_name("nope"), Error);
  EXPECT_EQ(loss_kind_from_name("cross_entropy"), LossKind::kSoftmaxCrossEntropy);
}

// ---- Recurrent layers against PyTorch's equations, in double ----
// LSTM: i,f,g,o = split(W_ih x + b_ih + W_hh h + b_hh); c = f c + i g; h = o tanh(c)
//   (i, f, o sigmoid; g tanh). GRU: r,z from sigmoid(W_i* x + b_i* + W_h* h + b_h*);
//   n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h = (1 - z) n + z h.
// Gradient checks cannot catch a gate permutation (it is a reparametrisation); this can.
double sigm(double v) { return 1 / (1 + std::exp(-v)); }

// One direction of one layer over x [T][in] -> hidden states [T][H] (reverse: from t = T-1).
std::vector<std::vector<double>> reference_rnn(bool lstm, const std::vector<std::vector<double>>& x, const Tensor& wih,
                                               const Tensor& whh, const Tensor& bih, const Tensor& bhh, int64_t H, bool reverse) {
  const int64_t T = static_cast<int64_t>(x.size()), in = wih.dim(1), G = lstm ? 4 : 3;
  std::vector<double> h(H, 0.0), c(H, 0.0);
  std::vector<std::vector<double>> out(T, std::vector<double>(H));
  for (int64_t s = 0; s < T; ++s) {
    int64_t t = reverse ? T - 1 - s : s;
    std::vector<double> gx(G * H), gh(G * H);
    for (int64_t r = 0; r < G * H; ++r) {
      gx[r] = bih.f32()[r];
      gh[r] = bhh.f32()[r];
      for (int64_t k = 0; k < in; ++k) gx[r] += wih.f32()[r * in + k] * x[t][k];
      for (int64_t k = 0; k < H; ++k) gh[r] += whh.f32()[r * H + k] * h[k];
    }
    for (int64_t j = 0; j < H; ++j) {
      if (lstm) {
        double i = sigm(gx[j] + gh[j]), f = sigm(gx[H + j] + gh[H + j]);
        double g = std::tanh(gx[2 * H + j] + gh[2 * H + j]), o = sigm(gx[3 * H + j] + gh[3 * H + j]);
        c[j] = f * c[j] + i * g;
        out[t][j] = o * std::tanh(c[j]);
      } else {
        double r = sigm(gx[j] + gh[j]), z = sigm(gx[H + j] + gh[H + j]);
        double n = std::tanh(gx[2 * H + j] + r * gh[2 * H + j]);
        out[t][j] = (1 - z) * n + z * h[j];
      }
    }
    for (int64_t j = 0; j < H; ++j) h[j] = out[t][j];
  }
  return out;
}

void check_rnn_against_reference(bool lstm) {
  const int64_t N = 2, T = 5, I = 3, H = 4, L = 2;
  GraphBuilder b({T, I});
  RecurrentOptions o = RecurrentOptions(H).num_layers(L).bidirectional(true);
  const Value rnn = lstm ? b.lstm("rnn", b.input(), o) : b.gru("rnn", b.input(), o);
  for (const Value& output : {rnn, rnn.output(1)}) {
    Network net(b.build(output));
    net.init_params(3);
    Tensor x({N, T, I});
    fill_uniform(x, 21, -1.0f, 1.0f);
    Tensor y = net.forward(x, Mode::kEval).clone();
    auto p = [&](const std::string& leaf) { return net.find_parameter("rnn/" + leaf)->value; };
    for (int64_t n = 0; n < N; ++n) {
      std::vector<std::vector<double>> seq(T, std::vector<double>(I));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t k = 0; k < I; ++k) seq[t][k] = x.f32()[(n * T + t) * I + k];
      std::vector<std::vector<double>> fwd, bwd;
      for (int64_t l = 0; l < L; ++l) {
        std::string s = "_l" + std::to_string(l);
        fwd = reference_rnn(lstm, seq, p("weight_ih" + s), p("weight_hh" + s), p("bias_ih" + s), p("bias_hh" + s), H, false);
        bwd = reference_rnn(lstm, seq, p("weight_ih" + s + "_reverse"), p("weight_hh" + s + "_reverse"),
                            p("bias_ih" + s + "_reverse"), p("bias_hh" + s + "_reverse"), H, true);
        for (int64_t t = 0; t < T; ++t) {
          seq[t].assign(fwd[t].begin(), fwd[t].end());
          seq[t].insert(seq[t].end(), bwd[t].begin(), bwd[t].end());
        }
      }
      for (int64_t j = 0; j < 2 * H; ++j) {
        if (output == rnn) {
          for (int64_t t = 0; t < T; ++t)
            EXPECT_NEAR(y.f32()[(n * T + t) * 2 * H + j], seq[t][j], 2e-6) << "sample " << n << " t " << t << " unit " << j;
        } else {  // final state: forward after t = T-1, reverse after t = 0
          double want = j < H ? fwd[T - 1][j] : bwd[0][j - H];
          EXPECT_NEAR(y.f32()[n * 2 * H + j], want, 2e-6) << "final state, sample " << n << " unit " << j;
        }
      }
    }
  }
}

TEST(Reference, LstmMatchesPyTorchEquations) { check_rnn_against_reference(true); }
TEST(Reference, GruMatchesPyTorchEquations) { check_rnn_against_reference(false); }

// Attention against softmax(q k^T / sqrt(dh)) v per head, in double, with a causal mask.
TEST(Reference, CausalMultiHeadAttention) {
  const int64_t N = 2, T = 4, D = 6, heads = 2, dh = D / heads;
  GraphBuilder b({T, D});
  GraphSpec g = b.build(b.multi_head_attention("attn", b.input(), AttentionOptions(D, heads).causal(true)));
  Network net(g);
  net.init_params(5);
  Tensor x({N, T, D});
  fill_uniform(x, 23, -1.0f, 1.0f);
  const Tensor& y = net.forward(x, Mode::kEval);
  auto linear = [&](const std::string& node, const std::vector<double>& in) {
    const Tensor& w = net.find_parameter("attn/" + node + "/weight")->value;
    const Tensor& bias = net.find_parameter("attn/" + node + "/bias")->value;
    std::vector<double> out(D);
    for (int64_t o = 0; o < D; ++o) {
      out[o] = bias.f32()[o];
      for (int64_t k = 0; k < D; ++k) out[o] += w.f32()[o * D + k] * in[k];
    }
    return out;
  };
  for (int64_t n = 0; n < N; ++n) {
    std::vector<std::vector<double>> q(T), k(T), v(T), ctx(T, std::vector<double>(D, 0.0));
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> row(x.f32() + (n * T + t) * D, x.f32() + (n * T + t + 1) * D);
      q[t] = linear("q", row);
      k[t] = linear("k", row);
      v[t] = linear("v", row);
    }
    for (int64_t hd = 0; hd < heads; ++hd)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> w(i + 1);
        double top = -1e300, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          w[j] = 0;
          for (int64_t e = 0; e < dh; ++e) w[j] += q[i][hd * dh + e] * k[j][hd * dh + e];
          w[j] /= std::sqrt(static_cast<double>(dh));
          top = std::max(top, w[j]);
        }
        for (double& a : w) sum += (a = std::exp(a - top));
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t e = 0; e < dh; ++e) ctx[i][hd * dh + e] += w[j] / sum * v[j][hd * dh + e];
      }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> want = linear("out", ctx[t]);
      for (int64_t o = 0; o < D; ++o) EXPECT_NEAR(y.f32()[(n * T + t) * D + o], want[o], 2e-6) << n << "," << t << "," << o;
    }
  }
}

// ---- Forward semantics of the sequence ops, exact where the arithmetic is exact ----
// (Gradient checks show backward matches forward; these show forward computes the right thing.)

Tensor ids_tensor(Shape shape, std::vector<int64_t> v) {
  Tensor t(std::move(shape), DType::kI64);
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

TEST(Semantics, EmbeddingPaddingAndLookup) {
  GraphBuilder b({3}, "ids", DType::kI64);
  Network net(b.build(b.embedding("emb", b.input(), 4, 2, 0)));
  Tensor& w = net.find_parameter("emb/weight")->value;
  for (int64_t i = 0; i < 8; ++i) w.f32()[i] = static_cast<float>(i + 1);
  const Tensor& y = net.forward(ids_tensor({2, 3}, {3, 0, 1, 2, 2, 0}), Mode::kEval);
  std::vector<float> want = {7, 8, 0, 0, 3, 4, 5, 6, 5, 6, 0, 0};
  EXPECT_EQ(std::vector<float>(y.f32(), y.f32() + 12), want);
  EXPECT_THROW(net.forward(ids_tensor({1, 3}, {1, 4, 0}), Mode::kEval), Error);  // id 4 of 4
}

TEST(Semantics, LayerNormNormalisesTheLastAxis) {
  GraphBuilder b({2, 4});
  Network net(b.build(b.layer_norm("ln", b.input())));
  net.init_params(1);  // weight ones, bias zeros
  Tensor x = Tensor::from_vector({1, 2, 4}, {1, 2, 3, 4, -2, -2, 2, 2});
  const Tensor& y = net.forward(x, Mode::kTrain);
  const double s1 = 1 / std::sqrt(1.25 + 1e-5), s2 = 1 / std::sqrt(4.0 + 1e-5);
  std::vector<double> want = {-1.5 * s1, -0.5 * s1, 0.5 * s1, 1.5 * s1, -2 * s2, -2 * s2, 2 * s2, 2 * s2};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y.f32()[i], want[i], 1e-6) << i;
}

TEST(Semantics, SequencePoolingOverKeptSteps) {
  // ids [N=1, T=4] with the last step padding; x = embedding rows e(id) = (id, 10 id).
  for (const char* pooling : {"mean", "max", "last"}) {
    GraphBuilder b({4}, "ids", DType::kI64);
    Value e = b.embedding("emb", b.input(), 5, 2);
    Network net(b.build(b.sequence_pool("pool", e, pooling, b.padding_mask("mask", b.input(), 0))));
    Tensor& w = net.find_parameter("emb/weight")->value;
    for (int64_t id = 0; id < 5; ++id) w.f32()[2 * id] = static_cast<float>(id), w.f32()[2 * id + 1] = 10.f * id;
    const Tensor& y = net.forward(ids_tensor({1, 4}, {2, 4, 1, 0}), Mode::kEval);
    std::vector<float> want = std::string(pooling) == "mean"  ? std::vector<float>{7.f / 3, 70.f / 3}
                              : std::string(pooling) == "max" ? std::vector<float>{4, 40}
                                                              : std::vector<float>{1, 10};
    EXPECT_NEAR(y.f32()[0], want[0], 1e-6) << pooling;
    EXPECT_NEAR(y.f32()[1], want[1], 1e-5) << pooling;
  }
}

TEST(Semantics, MaskedAndCausalSoftmax) {
  // Keys 0..2 of [T=3] with key 2 padding: each row is a softmax over keys 0 and 1 only; causal
  // additionally hides keys after the query.
  GraphBuilder b({3}, "ids", DType::kI64);
  Value scores = b.embedding("scores", b.input(), 4, 3);  // row per id: 3 logits
  Value mask = b.padding_mask("mask", b.input(), 0);
  GraphSpec padded = b.build(b.softmax("sm", scores, SoftmaxOptions().mask(mask)));
  GraphSpec causal = b.build(b.softmax("sm_causal", scores, SoftmaxOptions().mask(mask).causal(true)));
  for (const GraphSpec* g : {&padded, &causal}) {
    Network net(*g);
    Tensor& w = net.find_parameter("scores/weight")->value;
    for (int64_t i = 0; i < 12; ++i) w.f32()[i] = 0.5f * static_cast<float>(i % 5);
    const Tensor& y = net.forward(ids_tensor({1, 3}, {1, 2, 0}), Mode::kEval);
    const bool is_causal = g == &causal;
    for (int64_t q = 0; q < 3; ++q) {
      const float* logits = w.f32() + 3 * (q == 0 ? 1 : q == 1 ? 2 : 0);
      int64_t keys = is_causal ? std::min<int64_t>(q + 1, 2) : 2;
      double sum = 0;
      for (int64_t k = 0; k < keys; ++k) sum += std::exp(logits[k]);
      for (int64_t k = 0; k < 3; ++k) {
        double want = k < keys ? std::exp(logits[k]) / sum : 0.0;
        EXPECT_NEAR(y.f32()[q * 3 + k], want, 1e-6) << (is_causal ? "causal " : "") << q << "," << k;
      }
    }
  }
}

TEST(Semantics, ShapeOpsMoveTheRightElements) {
  Tensor x({1, 2, 3});
  for (int64_t i = 0; i < 6; ++i) x.f32()[i] = static_cast<float>(i);  // [[0,1,2],[3,4,5]]
  auto run = [&](const std::function<Value(GraphBuilder&)>& add) {
    GraphBuilder b({2, 3});
    Network net(b.build(add(b)));
    const Tensor& y = net.forward(x, Mode::kEval);
    return std::vector<float>(y.f32(), y.f32() + y.numel());
  };
  EXPECT_EQ(run([](GraphBuilder& b) { return b.transpose("t", b.input(), {1, 0}); }), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(run([](GraphBuilder& b) { return b.slice("s", b.input(), 1, 1, 3); }), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(run([](GraphBuilder& b) { return b.slice("s", b.input(), 0, -1, 2); }), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(run([](GraphBuilder& b) {
              return b.concat("c", {b.input(), b.input()}, 1);
            }),
            (std::vector<float>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
  EXPECT_EQ(run([](GraphBuilder& b) { return b.reshape("r", b.input(), {3, 2}); }), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  // [2,3] x [2,3]^T = [[5, 14], [14, 50]], scaled by 0.5.
  EXPECT_EQ(run([](GraphBuilder& b) { return b.matmul("mm", b.input(), b.input(), true, 0.5); }),
            (std::vector<float>{2.5f, 7, 7, 25}));
}

}  // namespace
}  // namespace strata
