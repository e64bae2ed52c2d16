// Network compilation and execution: graph validation errors, determinism, no allocation in a
// steady-state step, smaller last batch, train vs eval.
#include "strata/framework/nn/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/ops/internal/dnnl_utils.h"
#include "strata/framework/optim/optimizer.h"

// Global allocation counter: replaces operator new for this test binary.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocations{0};
static std::atomic<bool> g_counting{false};
void* operator new(std::size_t n) {
  // oneDNN's own per-execute bookkeeping is attributed to oneDNN (see dnnl_utils.h).
  if (g_counting && !strata::dnnl_utils::inside_execute()) ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace strata {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

GraphSpec small_cnn() {
  Sequential s({1, 12, 12});
  s.conv2d(Conv2dOptions(4, 3).padding(1)).batch_norm().relu().max_pool2d(2).flatten().linear(16).relu().dropout(0.25).linear(10);
  return s.build();
}

void fill(Tensor& t, uint64_t seed) {
  CounterRng rng(seed, RngPurpose::kData);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = rng.uniform(i) * 2 - 1;
}

Tensor labels(int64_t n, int64_t classes) {
  Tensor y({n}, DType::kI64);
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = (i * 7) % classes;
  return y;
}

void train_steps(Network& net, Optimizer& opt, Loss& loss, int steps, int64_t batch = 8) {
  Tensor x({batch, 1, 12, 12});
  Tensor y = labels(batch, 10);
  for (int s = 0; s < steps; ++s) {
    fill(x, s);
    net.set_step_key(1, 1, s);
    const Tensor& out = net.forward(x, Mode::kTrain);
    loss.compute(out, y, &net.output_grad());
    net.backward();
    opt.step(0.01);
  }
}

// A raw node (what GraphBuilder::node takes for ops added later): its inputs are edge names.
NodeSpec raw_node(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
  NodeSpec n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}

TEST(Graph, BadInputsAreClearErrors) {
  GraphBuilder unknown({4});
  NodeSpec fc = raw_node("fc", "Linear", {"nope"});
  fc.ints["out_features"] = {3};
  const Value fc_out = unknown.node(fc);
  EXPECT_NE(error_of([&] { unknown.build(fc_out); }).find("unknown input node 'nope'"), std::string::npos);

  GraphBuilder cyclic({4});
  cyclic.node(raw_node("a", "Tanh", {"b"}));
  const Value b = cyclic.node(raw_node("b", "Tanh", {"a"}));
  EXPECT_NE(error_of([&] { cyclic.build(b); }).find("cycle through nodes: a, b"), std::string::npos);

  GraphBuilder mismatch({4});
  const Value l = mismatch.linear("l", mismatch.input(), 3);
  EXPECT_NE(error_of([&] {
              mismatch.build(mismatch.add("sum", l, mismatch.input()));
            }).find("Add(sum): input shapes differ: [3] (l) vs [4] (input)"),
            std::string::npos);

  GraphBuilder conv_on_flat({4});
  EXPECT_NE(error_of([&] {
              conv_on_flat.build(conv_on_flat.conv2d("c", conv_on_flat.input(), Conv2dOptions(2, 3)));
            }).find("Conv2d(c): expected input [N,C,H,W], got [4]"),
            std::string::npos);

  GraphBuilder dup({4});
  dup.tanh("t", dup.input());
  const Value t = dup.tanh("t", dup.input());
  EXPECT_NE(error_of([&] { dup.build(t); }).find("duplicate node name 't'"), std::string::npos);
}

TEST(Network, WrongInputShapeAndZeroBatch) {
  Network net(small_cnn());
  Tensor wrong({2, 3, 12, 12});
  EXPECT_NE(error_of([&] { net.forward(wrong, Mode::kEval); }).find("expected [N,1,12,12] f32, got [2,3,12,12]"),
            std::string::npos);
  Tensor empty({0, 1, 12, 12});
  EXPECT_NE(error_of([&] { net.forward(empty, Mode::kEval); }).find("batch size must be > 0"), std::string::npos);
  EXPECT_NE(error_of([&] { net.output_grad(); }).find("forward(x, Mode::kTrain)"), std::string::npos);
}

TEST(Network, SameSeedSameBitsDifferentSeedDifferentBits) {
  auto run = [](uint64_t seed) {
    Network net(small_cnn());
    net.init_params(seed);
    Optimizer opt(net, OptimizerOptions().kind("adam"));
    auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);
    train_steps(net, opt, *loss, 5);
    return net.state_tensors();
  };
  NamedTensors a = run(42), b = run(42), c = run(43);
  ASSERT_EQ(a.size(), b.size());
  bool any_diff = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
    any_diff |= !a[i].second.bit_equal(c[i].second);
  }
  EXPECT_TRUE(any_diff);
}

TEST(Network, SteadyStateStepAllocatesNothing) {
  Network net(small_cnn());
  Optimizer opt(net, OptimizerOptions().kind("adam"));
  auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);
  Tensor x({8, 1, 12, 12});
  fill(x, 3);
  Tensor y = labels(8, 10);
  train_steps(net, opt, *loss, 2);  // compiles the plan
  size_t plans = net.num_plans();
  g_allocations = 0;
  g_counting = true;
  net.set_step_key(1, 1, 9);
  const Tensor& out = net.forward(x, Mode::kTrain);
  loss->compute(out, y, &net.output_grad());
  net.backward();
  opt.step(0.01);
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(net.num_plans(), plans);
}

TEST(Network, SmallerLastBatchAndEvalMode) {
  Network net(small_cnn());
  Optimizer opt(net, OptimizerOptions().kind("sgd").momentum(0.9));
  auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);
  train_steps(net, opt, *loss, 2, 8);
  train_steps(net, opt, *loss, 1, 3);  // a smaller last batch gets its own plan
  Tensor x({3, 1, 12, 12});
  fill(x, 5);
  // Eval is deterministic (no dropout, running statistics) and independent of batch composition.
  Tensor a = net.forward(x, Mode::kEval).clone();
  Tensor b = net.forward(x, Mode::kEval).clone();
  EXPECT_TRUE(a.bit_equal(b));
  Tensor one({1, 1, 12, 12});
  std::copy(x.f32(), x.f32() + 144, one.f32());
  const Tensor& single = net.forward(one, Mode::kEval);
  for (int j = 0; j < 10; ++j) EXPECT_NEAR(single.f32()[j], a.f32()[j], 1e-5);
  EXPECT_EQ(net.num_plans(), 4u);  // train 8, train 3, eval 3, eval 1
}

// Direct convolution in double over [N,C,H,W] with OIHW weights, stride 1, zero padding.
std::vector<double> naive_conv(const std::vector<double>& x, int64_t n, int64_t c, int64_t h, int64_t w, const Tensor& weight,
                               const Tensor& bias, int64_t pad, int64_t* oh, int64_t* ow) {
  int64_t o = weight.dim(0), k = weight.dim(2);
  *oh = h + 2 * pad - k + 1;
  *ow = w + 2 * pad - k + 1;
  std::vector<double> y(n * o * *oh * *ow);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t f = 0; f < o; ++f)
      for (int64_t i = 0; i < *oh; ++i)
        for (int64_t j = 0; j < *ow; ++j) {
          double acc = bias.f32()[f];
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t a = 0; a < k; ++a)
              for (int64_t b = 0; b < k; ++b) {
                int64_t r = i + a - pad, q = j + b - pad;
                if (r < 0 || r >= h || q < 0 || q >= w) continue;
                acc += x[((s * c + ch) * h + r) * w + q] * weight.f32()[((f * c + ch) * k + a) * k + b];
              }
          y[((s * o + f) * *oh + i) * *ow + j] = acc;
        }
  return y;
}

TEST(Layouts, BlockedConvReluPoolConvChainEqualsANaiveReference) {
  // Channel counts that are not multiples of oneDNN's block of 16 (so the blocked activations
  // carry zero padding), a chain that stays blocked (conv -> ReLU -> pool -> conv) and a blocked
  // output node that the network reorders back to plain. oneDNN picks nhwc for inference and
  // nChw16c for training here: both modes are checked.
  Sequential s({3, 7, 7});
  s.conv2d(Conv2dOptions(5, 3).padding(1)).relu().max_pool2d(2).conv2d(Conv2dOptions(17, 2));
  Network net(s.build());
  net.init_params(4);
  Tensor x({2, 3, 7, 7});
  fill(x, 6);
  Tensor y = net.forward(x, Mode::kEval).clone(), y_train = net.forward(x, Mode::kTrain).clone();
  ASSERT_EQ(y.shape(), (Shape{2, 17, 2, 2}));

  auto& p = net.parameters();
  std::vector<double> in(x.f32(), x.f32() + x.numel());
  int64_t h1, w1, h2, w2;
  std::vector<double> a = naive_conv(in, 2, 3, 7, 7, p[0].value, p[1].value, 1, &h1, &w1);
  std::vector<double> pooled(2 * 5 * 3 * 3);
  for (int64_t sc = 0; sc < 2 * 5; ++sc)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        double m = 0;  // after ReLU every value is >= 0
        for (int64_t u = 0; u < 2; ++u)
          for (int64_t v = 0; v < 2; ++v) m = std::max(m, a[(sc * h1 + 2 * i + u) * w1 + 2 * j + v]);
        pooled[(sc * 3 + i) * 3 + j] = m;
      }
  std::vector<double> ref = naive_conv(pooled, 2, 5, 3, 3, p[2].value, p[3].value, 0, &h2, &w2);
  for (int64_t i = 0; i < y.numel(); ++i) {
    ASSERT_NEAR(y.f32()[i], ref[i], 1e-5) << i;
    ASSERT_NEAR(y_train.f32()[i], ref[i], 1e-5) << i;
  }
}

TEST(Network, BuffersWhoseLifetimesDoNotOverlapShareStorage) {
  // A chain of 8 Linear+Tanh pairs, 32 wide: 16 activations of batch x 32 floats.
  Sequential s({32});
  for (int i = 0; i < 8; ++i) s.linear(32).activation("tanh");
  GraphSpec chain = s.build();
  const size_t one = 64 * 32 * sizeof(float);
  Tensor x({64, 32});
  fill(x, 2);
  Network eval_net(chain);
  eval_net.init_params(1);
  Tensor y = eval_net.forward(x, Mode::kEval).clone();
  // Evaluation: a node's input and output are live together, nothing else: 2 buffers, not 16.
  EXPECT_EQ(eval_net.buffer_bytes(), 2 * one);

  // Training keeps the 16 activations for backward; the gradients flow through 2 buffers.
  Network train_net(chain);
  train_net.init_params(1);
  Tensor y_train = train_net.forward(x, Mode::kTrain).clone();
  EXPECT_EQ(train_net.buffer_bytes(), (16 + 2) * one);
  EXPECT_TRUE(y.bit_equal(y_train));  // no dropout or batchnorm: both modes compute the same
}

TEST(Network, GraphSerializesAndHashesStably) {
  GraphSpec g = small_cnn();
  GraphSpec back = GraphSpec::from_bytes(g.to_bytes());
  EXPECT_TRUE(back == g);
  EXPECT_EQ(back.to_bytes(), g.to_bytes());
  EXPECT_EQ(back.graph_id(), g.graph_id());
  EXPECT_EQ(g.graph_id().size(), 32u);
  EXPECT_NE(Sequential({1, 12, 12}).flatten().linear(10).build().graph_id(), g.graph_id());
  EXPECT_THROW(GraphSpec::from_bytes("garbage"), Error);
  // A damaged length is corruption, refused before anything is allocated for it (found by
  // fuzz_graph_spec: cereal would have asked for 2^54 bytes).
  std::string damaged = g.to_bytes();
  damaged[1 + 4 + 6] = 0x40;  // the input name's length (after marker and version), byte 6
  try {
    GraphSpec::from_bytes(damaged);
    ADD_FAILURE() << "a damaged length decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruption);
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g.nodes[0].name, "conv1");
  EXPECT_EQ(g.nodes[0].params[0].name, "conv1/weight");
  EXPECT_EQ(g.nodes[0].output_shape, (Shape{4, 12, 12}));
}

TEST(Network, AGraphWiredToAMissingValueIsRefused) {
  // What a damaged log could hold: GraphBuilder never writes such graphs.
  GraphBuilder b({4, 3});
  GraphSpec g = b.build(b.linear("fc", b.lstm("rnn", b.input(), RecurrentOptions(2)).output(1), 2));
  GraphSpec bad = g;
  bad.nodes.back().inputs = {"rnn:2"};  // the LSTM has outputs 0 and 1
  EXPECT_THROW(Network{bad}, Error);
  bad = g;
  bad.output = "fc:1";
  EXPECT_THROW(Network{bad}, Error);
  bad = g;  // two nodes of one name: an edge to it would be ambiguous
  bad.nodes.insert(bad.nodes.begin() + 1, bad.nodes.front());
  EXPECT_THROW(Network{bad}, Error);
  bad = g;
  bad.nodes.front().extra_output_shapes.clear();  // an LSTM with one output
  EXPECT_THROW(Network{bad}, Error);
  Network ok(g);
  EXPECT_EQ(ok.forward(Tensor({2, 4, 3}), Mode::kEval).shape(), (Shape{2, 2}));
}

}  // namespace
}  // namespace strata
