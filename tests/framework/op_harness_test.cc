// The generic op harness (framework/graph/op_schema.h): every registered op - built-in or
// registered by a user - has cases here, and each case is checked for
//   - shape inference: the kernel's output has the schema's inferred shape, in training and
//     evaluation, at two batch sizes;
//   - determinism: two forwards, and two networks from the same seed, give identical bits;
//   - backward assigns: a second backward() gives the same gradients (no accumulation);
//   - gradients: central differences of L = sum(r * y), accumulated in double, against
//     backward() for the f32 input and every trainable parameter (inputs nudged off kinks).
// An op without a case fails EveryRegisteredOpHasACase, so a new op cannot skip the harness.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/nn/kernel.h"
#include "strata/framework/nn/network.h"
#include "tests/framework/op_check.h"

namespace strata {
namespace {

using optest::fill_distinct;
using optest::fill_uniform;
using optest::weighted_sum;

// A user op registered from outside the framework, through the public API only: y = x^2 * s.
struct SquareKernel : Kernel {
  void forward(const KernelContext& c) override {
    const float* x = c.inputs[0].f32();
    float* y = const_cast<Tensor&>(c.outputs[0]).f32();
    float s = static_cast<float>(c.node->float_attr("scale", 1.0));
    for (int64_t i = 0; i < c.outputs[0].numel(); ++i) y[i] = s * x[i] * x[i];
  }
  void backward(const KernelContext& c) override {
    if (!c.input_grads[0].defined()) return;
    const float* x = c.inputs[0].f32();
    const float* dy = c.output_grads[0].f32();
    float* dx = const_cast<Tensor&>(c.input_grads[0]).f32();
    float s = static_cast<float>(c.node->float_attr("scale", 1.0));
    for (int64_t i = 0; i < c.inputs[0].numel(); ++i) dx[i] = 2 * s * x[i] * dy[i];
  }
};

void register_square_op() {
  static bool done = [] {
    OpSchema s;
    s.name = "HarnessSquare";
    s.attrs = {{"scale", AttrSpec::Kind::kFloat, {}, 1.0, false, "multiplies the square"}};
    s.doc = "scale * x^2";
    s.infer = [](const NodeSpec&, const ValueTypes& in) { return ValueTypes{{DType::kF32, in[0].shape}}; };
    register_op(s, [] { return std::make_unique<SquareKernel>(); });
    return true;
  }();
  (void)done;
}

struct Case {
  std::string label;
  GraphSpec graph;
  bool distinct_input = false;   // values 0.05 apart, away from 0: no ReLU kink or max tie
  int64_t vocab = 0;             // integer input: ids drawn in [0, vocab), some 0 (padding)
  bool distinct_params = false;  // parameters as distinct_input (max over embedded tokens)
};

GraphSpec one(Shape in, const std::function<Value(GraphBuilder&, const Value&)>& add, DType dtype = DType::kF32) {
  GraphBuilder b(std::move(in), "input", dtype);
  return b.build(add(b, b.input()));
}

NodeSpec raw(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
  NodeSpec n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}

// Every op's cases. Graphs are small: the harness probes every coordinate it checks.
std::map<std::string, std::vector<Case>> cases() {
  using B = GraphBuilder;
  using S = const Value&;
  std::map<std::string, std::vector<Case>> c;
  c["Linear"] = {{"rank1", one({5}, [](B& b, S x) { return b.linear("fc", x, 4); })},
                 {"no_bias", one({5}, [](B& b, S x) { return b.linear("fc", x, 3, false); })},
                 {"over_last_axis", one({3, 5}, [](B& b, S x) { return b.linear("fc", x, 2); })}};
  c["Conv2d"] = {{"padded_strided",
                  one({2, 5, 5}, [](B& b, S x) { return b.conv2d("conv", x, Conv2dOptions(3, 3).stride(2).padding(1)); })}};
  c["MaxPool2d"] = {{"2x2", one({2, 4, 4}, [](B& b, S x) { return b.max_pool2d("pool", x, 2); }), true}};
  c["AvgPool2d"] = {{"3x3_pad", one({2, 5, 5}, [](B& b, S x) { return b.avg_pool2d("pool", x, 3, 2, 1); })}};
  c["GlobalAvgPool"] = {{"gap", one({3, 2, 3}, [](B& b, S x) { return b.global_avg_pool("gap", x); })}};
  c["BatchNorm"] = {{"2d", one({3, 2, 2}, [](B& b, S x) { return b.batch_norm("bn", x); })},
                    {"1d", one({4}, [](B& b, S x) { return b.batch_norm("bn", x); })}};
  for (const char* act : {"relu", "leaky_relu", "sigmoid", "tanh", "gelu"}) {
    std::string op = std::string(act) == "relu"         ? "ReLU"
                     : std::string(act) == "leaky_relu" ? "LeakyReLU"
                     : std::string(act) == "sigmoid"    ? "Sigmoid"
                     : std::string(act) == "tanh"       ? "Tanh"
                                                        : "GELU";
    c[op] = {{act, one({2, 3}, [act](B& b, S x) { return b.activation(act, "act", x); }), true},
             {"after_linear", one({4}, [act](B& b, S x) { return b.activation(act, "act", b.linear("fc", x, 3)); }), true}};
  }
  c["Dropout"] = {{"p0.3", one({12}, [](B& b, S x) { return b.dropout("drop", x, 0.3); })}};
  c["Flatten"] = {{"chw", one({2, 2, 3}, [](B& b, S x) { return b.flatten("flat", x); })}};
  c["Add"] = {{"two_branches", one({4}, [](B& b, S x) { return b.add("sum", b.linear("a", x, 3), b.linear("b", x, 3)); })}};
  c["Concat"] = {{"axis0", one({3},
                               [](B& b, S x) {
                                 return b.concat("cat", {b.linear("a", x, 2), b.linear("b", x, 3)});
                               })},
                 {"axis1", one({2, 3}, [](B& b, S x) {
                    return b.concat("cat", {x, b.linear("a", x, 2)}, 1);
                  })}};
  c["Softmax"] = {{"features", one({5}, [](B& b, S x) { return b.softmax("sm", x); })},
                  {"axis0", one({3, 4}, [](B& b, S x) { return b.softmax("sm", x, SoftmaxOptions().axis(0)); })},
                  {"causal", one({4, 4}, [](B& b, S x) { return b.softmax("sm", x, SoftmaxOptions().causal(true)); })},
                  {"padding_mask",
                   one(
                       {5},
                       [](B& b, S ids) {
                         const Value e = b.embedding("emb", ids, 6, 5, 0);
                         return b.softmax("sm", e, SoftmaxOptions().mask(b.padding_mask("mask", ids, 0)));
                       },
                       DType::kI64),
                   false, 6}};
  c["Embedding"] = {{"padding0_i64",
                     one(
                         {4}, [](B& b, S ids) { return b.embedding("emb", ids, 7, 3, 0); }, DType::kI64),
                     false, 7},
                    {"no_padding_i32",
                     one(
                         {3}, [](B& b, S ids) { return b.embedding("emb", ids, 5, 2); }, DType::kI32),
                     false, 5}};
  c["PositionalEmbedding"] = {{"td", one({3, 4}, [](B& b, S x) { return b.positional_embedding("pos", x); })}};
  c["PaddingMask"] = {{"ids",
                       one(
                           {5}, [](B& b, S ids) { return b.padding_mask("mask", ids, 0); }, DType::kI64),
                       false, 4}};
  c["LayerNorm"] = {{"last_axis", one({3, 6}, [](B& b, S x) { return b.layer_norm("ln", x); })}};
  c["Reshape"] = {{"infer_axis", one({2, 6}, [](B& b, S x) { return b.reshape("r", b.linear("fc", x, 6), {3, -1}); })}};
  c["Transpose"] = {{"3d", one({2, 3, 4},
                               [](B& b, S x) {
                                 return b.transpose("t", x, {2, 0, 1});
                               })},
                    {"2d", one({3, 2}, [](B& b, S x) {
                       return b.transpose("t", b.linear("fc", x, 4), {1, 0});
                     })}};
  c["Slice"] = {{"middle", one({5, 3}, [](B& b, S x) { return b.slice("s", x, 0, 1, 4); })},
                {"last_axis_negative", one({2, 6}, [](B& b, S x) { return b.slice("s", x, -1, -4, -1); })}};
  c["MatMul"] = {{"ab", one({3, 4},
                            [](B& b, S x) {
                              return b.matmul("mm", x, b.reshape("r", b.linear("fc", x, 8), {4, -1}));
                            })},
                 {"abt_scaled", one({2, 3, 4}, [](B& b, S x) { return b.matmul("mm", x, b.linear("fc", x, 4), true, 0.5); })}};
  for (const char* op : {"LSTM", "GRU"}) {
    auto rnn = [op](B& b, S x, const RecurrentOptions& o) {
      return std::string(op) == "LSTM" ? b.lstm("rnn", x, o) : b.gru("rnn", x, o);
    };
    c[op] = {{"sequence", one({4, 3}, [rnn](B& b, S x) { return rnn(b, x, RecurrentOptions(5)); })},
             {"final_state", one({4, 3}, [rnn](B& b, S x) { return rnn(b, x, RecurrentOptions(5)).output(1); })},
             {"bidirectional_2_layers",
              one({3, 2}, [rnn](B& b, S x) { return rnn(b, x, RecurrentOptions(3).num_layers(2).bidirectional(true)); })},
             {"bidirectional_final_state",
              one({3, 2}, [rnn](B& b, S x) { return rnn(b, x, RecurrentOptions(3).bidirectional(true)).output(1); })}};
  }
  for (const char* pooling : {"mean", "max", "last"})
    c["SequencePool"].push_back({std::string(pooling) + "_masked",
                                 one(
                                     {5},
                                     [pooling](B& b, S ids) {
                                       const Value e = b.embedding("emb", ids, 7, 3, 0);
                                       return b.sequence_pool("pool", e, pooling, b.padding_mask("mask", ids, 0));
                                     },
                                     DType::kI64),
                                 false, 7, std::string(pooling) == "max"});
  c["SequencePool"].push_back({"max_unmasked", one({4, 3}, [](B& b, S x) { return b.sequence_pool("pool", x, "max"); }), true});
  c["HarnessSquare"] = {{"scaled", one({4}, [](B& b, S x) {
                           NodeSpec n = raw("sq", "HarnessSquare", {b.linear("fc", x, 3).ref()});
                           n.floats["scale"] = 0.5;
                           return b.node(n);
                         })}};
  return c;
}

Tensor make_input(const Case& c, int64_t batch) {
  Shape shape = {batch};
  shape.insert(shape.end(), c.graph.input_shape.begin(), c.graph.input_shape.end());
  Tensor x(shape, c.graph.input_dtype);
  if (c.graph.input_dtype == DType::kF32) {
    if (c.distinct_input)
      fill_distinct(x, 11);
    else
      fill_uniform(x, 11, -1.0f, 1.0f);
    return x;
  }
  // Every third id is padding (0); the others cycle through 1..vocab-1, so ids within a sample
  // differ (no ties for max pooling) when the sequence is shorter than the vocabulary.
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t id = i % 3 == 2 ? 0 : 1 + i % (c.vocab - 1);
    if (x.dtype() == DType::kI64)
      x.data<int64_t>()[i] = id;
    else
      x.data<int32_t>()[i] = static_cast<int32_t>(id);
  }
  return x;
}

Shape expected_output_shape(const GraphSpec& g, int64_t batch) {
  ValueRef ref = parse_value_ref(g.output);
  Shape s = {batch};
  const Shape& per_sample = g.find(ref.node)->output_shape_at(ref.output);
  s.insert(s.end(), per_sample.begin(), per_sample.end());
  return s;
}

std::unique_ptr<Network> make_net(const Case& c) {
  auto net = std::make_unique<Network>(c.graph, NetworkOptions().input_grad(true));
  net->init_params(7);
  for (Parameter& p : net->parameters()) {
    if (!p.trainable) continue;
    if (c.distinct_params)
      fill_distinct(p.value, std::hash<std::string>{}(p.name));
    else
      fill_uniform(p.value, std::hash<std::string>{}(p.name), -0.6f, 0.6f);
  }
  net->set_step_key(3, 1, 5);
  return net;
}

void check_case(const Case& c) {
  SCOPED_TRACE(c.label);
  const int64_t batch = 3;
  std::unique_ptr<Network> net = make_net(c);
  Tensor x = make_input(c, batch);

  // Shape inference against the kernel, in both modes and at another batch size.
  for (int64_t n : {batch, int64_t{2}})
    for (Mode mode : {Mode::kEval, Mode::kTrain}) {
      Tensor xn = n == batch ? x : make_input(c, n);
      EXPECT_EQ(net->forward(xn, mode).shape(), expected_output_shape(c.graph, n));
    }

  // Determinism: the same forward twice, and a second network from the same seed.
  Tensor y1 = net->forward(x, Mode::kTrain).clone();
  Tensor y2 = net->forward(x, Mode::kTrain).clone();
  EXPECT_TRUE(y1.bit_equal(y2)) << "two forwards differ";
  std::unique_ptr<Network> twin = make_net(c);
  EXPECT_TRUE(twin->forward(x, Mode::kTrain).bit_equal(y1)) << "two networks from one seed differ";

  // Backward assigns: two backward passes give the same gradients.
  Tensor r(y1.shape());
  fill_uniform(r, 13, -1.0f, 1.0f);
  auto backward = [&] {
    net->forward(x, Mode::kTrain);
    net->output_grad().copy_from(r);
    net->backward();
  };
  backward();
  std::vector<Tensor> grads;
  for (Parameter& p : net->parameters()) grads.push_back(p.trainable ? p.grad.clone() : Tensor());
  Tensor dx = c.graph.input_dtype == DType::kF32 ? net->input_grad().clone() : Tensor();
  backward();
  for (size_t j = 0; j < grads.size(); ++j) {
    if (grads[j].defined()) {
      EXPECT_TRUE(grads[j].bit_equal(net->parameters()[j].grad)) << net->parameters()[j].name << " accumulates";
    }
  }
  if (dx.defined()) {
    EXPECT_TRUE(dx.bit_equal(net->input_grad())) << "the input gradient accumulates";
  }

  // Central differences against backward().
  auto loss_at = [&] { return weighted_sum(net->forward(x, Mode::kTrain), r); };
  auto probe = [&](Tensor& t, const Tensor& analytic, const std::string& name) {
    optest::expect_gradient(t, analytic, name, 16, loss_at);
  };
  if (dx.defined()) probe(x, dx, "input");
  for (size_t j = 0; j < grads.size(); ++j)
    if (grads[j].defined()) probe(net->parameters()[j].value, grads[j], net->parameters()[j].name);
}

class OpHarness : public ::testing::TestWithParam<std::string> {};

TEST_P(OpHarness, ShapesDeterminismAndGradients) {
  register_square_op();
  auto all = cases();
  ASSERT_TRUE(all.count(GetParam())) << "no harness case for " << GetParam();
  for (const Case& c : all.at(GetParam())) check_case(c);
}

std::vector<std::string> harness_ops() {
  register_square_op();
  return op_names();
}

INSTANTIATE_TEST_SUITE_P(EveryOp, OpHarness, ::testing::ValuesIn(harness_ops()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(OpRegistry, EveryRegisteredOpHasACase) {
  register_square_op();
  auto all = cases();
  for (const std::string& op : op_names()) EXPECT_TRUE(all.count(op)) << "op " << op << " has no harness case";
  EXPECT_GE(op_names().size(), 28u);
}

TEST(OpRegistry, UnknownOpsAndTakenNamesAreClearErrors) {
  GraphBuilder b({4});
  const Value mystery = b.node(raw("mystery", "Frobnicate", {b.input().ref()}));
  try {
    b.build(mystery);
    FAIL() << "an unknown op built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown op type 'Frobnicate'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("register_op"), std::string::npos) << e.what();
  }
  OpSchema s;
  s.name = "Linear";
  s.infer = [](const NodeSpec&, const ValueTypes& in) { return in; };
  EXPECT_THROW(register_op(s, [] { return std::unique_ptr<Kernel>(); }), Error);
}

TEST(OpRegistry, SchemaChecksAttributesDtypesAndOutputs) {
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([] {
              GraphBuilder b({4});
              NodeSpec n = raw("fc", "Linear", {b.input().ref()});
              n.ints["out_features"] = {2};
              n.ints["outfeatures"] = {2};
              b.build(b.node(n));
            }).find("unknown integer attribute 'outfeatures'"),
            std::string::npos);
  EXPECT_NE(message([] {
              GraphBuilder b({4});
              b.build(b.embedding("emb", b.input(), 10, 3));
            }).find("must be token ids (i32 or i64), got f32"),
            std::string::npos);
  EXPECT_NE(message([] {
              GraphBuilder b({4}, "input", DType::kI64);
              b.build(b.linear("fc", b.input(), 3));
            }).find("must be f32, got i64"),
            std::string::npos);
  EXPECT_NE(message([] {
              GraphBuilder b({4, 3});
              b.build(b.lstm("rnn", b.input(), RecurrentOptions(2)).output(2));
            }).find("names output 2, but LSTM has 2 output(s)"),
            std::string::npos);
  EXPECT_NE(message([] {
              GraphBuilder b({4, 3});
              b.build(b.reshape("r", b.input(), {5, -1}));
            }).find("cannot reshape [4,3]"),
            std::string::npos);
}

TEST(OpRegistry, MultiOutputAndIntegerGraphsRoundTripInFormat2) {
  GraphBuilder b({6}, "tokens", DType::kI64);
  const Value e = b.embedding("emb", b.input(), 10, 4, 0);
  const Value r = b.lstm("rnn", e, RecurrentOptions(3));
  GraphSpec g = b.build(b.linear("fc", r.output(1), 2));
  EXPECT_EQ(g.format_version(), 2u);
  GraphSpec back = GraphSpec::from_bytes(g.to_bytes());
  EXPECT_EQ(back, g);
  EXPECT_EQ(back.input_dtype, DType::kI64);
  EXPECT_EQ(back.find("rnn")->extra_output_shapes, std::vector<Shape>{Shape{3}});
  // A graph using neither stays in format 1.
  GraphBuilder old({4});
  EXPECT_EQ(old.build(old.linear("fc", old.input(), 2)).format_version(), 1u);
}

}  // namespace
}  // namespace strata
