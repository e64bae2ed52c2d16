// ONNX export (versioning/onnx/onnx_export.h): models exported, checked by python3-onnx's full checker
// and strict shape inference, and run in ONNX Runtime (npm onnxruntime-node) against Strata's own
// eval forward on real Fashion-MNIST images: max |difference| <= 1e-4. Unsupported ops and bad
// options are clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "strata/datasets/idx.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/nn/network.h"
#include "strata/models/models.h"
#include "strata/versioning/onnx/onnx_export.h"
#include "strata/versioning/run/quantize.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/tools/subprocess_util.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::TempDir;

// Where scripts/install_deps.sh puts onnxruntime-node.
std::string ort_dir() {
  if (const char* d = std::getenv("STRATA_ORT_DIR")) return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/strata/onnxruntime";
}

bool have_ort() { return std::filesystem::exists(ort_dir() + "/node_modules/onnxruntime-node/package.json"); }
bool have_onnx_checker() { return std::system("/usr/bin/python3 -c 'import onnx' 2>/dev/null") == 0; }

// A graph with every op the exporter maps, on [1, 28, 28] input.
GraphSpec every_op_graph() {
  GraphBuilder b({1, 28, 28});
  Value x = b.conv2d("conv1", b.input(), Conv2dOptions(4, 3).padding(1));
  x = b.batch_norm("bn1", x);
  x = b.leaky_relu("lrelu1", x, 0.1);
  Value left = b.max_pool2d("pool1", x, 2);
  Value right = b.avg_pool2d("pool2", x, 3, 2, 1);
  Value cat = b.concat("cat", {left, right});
  Value res = b.add("res", b.conv2d("conv2", cat, Conv2dOptions(8, 3).padding(1).bias(false)), cat);
  Value g = b.global_avg_pool("gap", b.gelu("gelu1", res));
  Value h = b.tanh("tanh1", b.linear("fc1", b.dropout("drop1", g, 0.5), 16));
  Value s = b.sigmoid("sig1", b.linear("fc2", b.batch_norm("bn2", h), 12, false));
  return b.build(b.softmax("softmax", b.linear("fc3", b.flatten("flat", b.relu("relu", s)), 10)));
}

GraphSpec lenet_with_batch_norm() {
  return Sequential({1, 28, 28})
      .conv2d(Conv2dOptions(8, 5).padding(2))
      .batch_norm()
      .relu()
      .max_pool2d(2)
      .conv2d(Conv2dOptions(16, 5).padding(2))
      .batch_norm()
      .relu()
      .max_pool2d(2)
      .flatten()
      .linear(32)
      .relu()
      .dropout(0.2)
      .linear(10)
      .build();
}

// Seeded parameters, with running statistics that are not the identity (BatchNorm's inference
// form must use them).
NamedTensors parameters(Network& net, uint64_t seed) {
  net.init_params(seed);
  NamedTensors p = net.state_tensors();
  CounterRng rng(seed, RngPurpose::kData);
  uint64_t k = 0;
  for (auto& [name, t] : p) {
    const bool mean = name.find("running_mean") != std::string::npos, var = name.find("running_var") != std::string::npos;
    const bool affine = name.find("bn") != std::string::npos || name.find("/bn") != std::string::npos;
    if (!mean && !var && !affine) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float u = rng.uniform(k++);
      t.f32()[i] = var ? 0.5f + u : (mean ? u - 0.5f : t.f32()[i] + 0.2f * (u - 0.5f));
    }
  }
  net.load_state_tensors(p);
  return p;
}

Tensor fashion_mnist_images(int64_t n) {
  Tensor raw = read_idx(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz");
  Tensor x({n, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.f32()[i] = (static_cast<float>(raw.data<uint8_t>()[i]) / 255.0f - kFashionMnistMean) / kFashionMnistStd;
  return x;
}

struct Case {
  std::string name;
  GraphSpec graph;
};

// Runs `model` in ONNX Runtime on the input file (dims with the batch) and returns the largest
// |difference| from `want` (Strata's eval forward); fails the test on a wrong output shape.
double max_difference_in_ort(const TempDir& dir, const std::string& model, const std::string& input, const std::string& dims,
                             const Tensor& want) {
  const tools_test::CommandOutput run =
      tools_test::run_command("node " STRATA_SOURCE_DIR "/tests/versioning/onnx/onnx_run.js " + ort_dir() + " " + model + " " +
                              input + " " + dir.sub("y.f32") + " " + dims + " 2>&1");
  EXPECT_EQ(run.code, 0) << run.out;
  std::string shape = "[";
  for (int64_t d : want.shape()) shape += (shape.size() > 1 ? "," : "") + std::to_string(d);
  EXPECT_EQ(run.out, shape + "]");
  std::ifstream in(dir.sub("y.f32"), std::ios::binary);
  std::vector<float> got(static_cast<size_t>(want.numel()));
  in.read(reinterpret_cast<char*>(got.data()), static_cast<std::streamsize>(got.size() * sizeof(float)));
  EXPECT_TRUE(in.good()) << "ONNX Runtime wrote no output of " << shape << "]";
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) worst = std::max(worst, std::abs(double(got[i]) - want.f32()[i]));
  return worst;
}

// The full checker and strict shape inference of python3-onnx over the models.
void expect_onnx_checker_passes(const TempDir& dir, const std::string& models) {
  std::ofstream(dir.sub("check.py")) << "import onnx, sys\nfrom onnx import shape_inference\nfor p in sys.argv[1:]:\n"
                                        "    m = onnx.load(p)\n    onnx.checker.check_model(m, full_check=True)\n"
                                        "    shape_inference.infer_shapes(m, strict_mode=True)\n";
  const tools_test::CommandOutput checked = tools_test::run_command("/usr/bin/python3 " + dir.sub("check.py") + models + " 2>&1");
  EXPECT_EQ(checked.code, 0) << checked.out;
}

TEST(OnnxExport, ModelsMatchOnnxRuntimeOnRealImages) {
  if (!have_onnx_checker()) GTEST_SKIP() << "python3-onnx is not installed (scripts/install_deps.sh installs it)";
  if (!have_ort())
    GTEST_SKIP() << "onnxruntime-node is not installed in " << ort_dir()
                 << " (scripts/install_deps.sh installs it with npm; set STRATA_ORT_DIR to another copy)";
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const int64_t n = 16;
  const Tensor x = fashion_mnist_images(n);
  {
    std::ofstream out(dir.sub("x.f32"), std::ios::binary);
    out.write(static_cast<const char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
  }
  const std::vector<Case> cases = {{"mlp", models::mlp({1, 28, 28}, {784, 64, 32, 10}, "relu", 0.3)},
                                   {"lenet", models::lenet({1, 28, 28}, 10, 0.2)},
                                   {"lenet_bn", lenet_with_batch_norm()},
                                   {"resnet", models::resnet({1, 28, 28}, 10)},
                                   {"every_op", every_op_graph()}};
  std::string models_arg;
  uint64_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Network net(c.graph);
    const NamedTensors params = parameters(net, seed++);
    const Tensor want = net.forward(x, Mode::kEval).clone();
    const std::string model = dir.sub(c.name + ".onnx");
    const int opset = c.name == "mlp" ? 13 : 17;
    std::ofstream(model, std::ios::binary) << graph_to_onnx(c.graph, params, {{"case", c.name}}, OnnxOptions().opset(opset));
    models_arg += " " + model;
    const double worst = max_difference_in_ort(dir, model, dir.sub("x.f32"), "16 1 28 28", want);
    EXPECT_LE(worst, 1e-4) << c.name;
    std::printf("%-9s max |onnxruntime - strata| = %.3g\n", c.name.c_str(), worst);
  }
  expect_onnx_checker_passes(dir, models_arg);
}

// A quantized version (versioning/run/quantize.h) exports in QDQ form, and ONNX Runtime agrees
// with Strata's int8 kernels within the quantization error: their largest difference is a
// small part of the int8 version's own distance from the f32 one. (They are not bit-equal: a
// value that float rounding puts on the other side of a half step quantizes one step away.)
TEST(OnnxExport, QuantizedVersionsExportAsQdqAndMatchOnnxRuntime) {
  if (!have_onnx_checker()) GTEST_SKIP() << "python3-onnx is not installed (scripts/install_deps.sh installs it)";
  if (!have_ort()) GTEST_SKIP() << "onnxruntime-node is not installed in " << ort_dir();
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const Tensor x = fashion_mnist_images(64);
  {
    std::ofstream out(dir.sub("x.f32"), std::ios::binary);
    out.write(static_cast<const char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
  }
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
  std::string models_arg;
  uint64_t seed = 1;
  for (const Case& c : {Case{"lenet", models::lenet({1, 28, 28}, 10, 0.2)},
                        Case{"mlp", models::mlp({1, 28, 28}, {784, 64, 32, 10}, "relu", 0)}}) {
    SCOPED_TRACE(c.name);
    Network f32(c.graph);
    TrainState state;
    state.graph = c.graph;
    state.params = parameters(f32, seed++);
    vtest::commit_state(*log, state, {}, c.name);
    QuantizeRequest request;
    request.version = c.name;
    request.calibration = x;  // already normalised: the version records no normalisation
    request.branch = c.name + "-int8";
    const QuantizeReport q = quantize(*log, request);
    EXPECT_GE(q.quantized.size(), 2u);
    Network int8(log->read_graph(log->read_record(q.id).graph_id));
    int8.load_state_tensors(log->read_params(q.id));
    const Tensor want = int8.forward(x, Mode::kEval).clone();
    const std::string model = dir.sub(c.name + "-int8.onnx");
    export_onnx(*log, q.id, model, OnnxOptions().opset(c.name == "mlp" ? 13 : 17));
    models_arg += " " + model;
    const Tensor f32_logits = f32.forward(x, Mode::kEval);
    double quantization_error = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
      quantization_error = std::max(quantization_error, std::abs(double(want.f32()[i]) - f32_logits.f32()[i]));
    const double worst = max_difference_in_ort(dir, model, dir.sub("x.f32"), "64 1 28 28", want);
    EXPECT_LE(worst, 0.25 * quantization_error) << c.name;
    std::printf("%-6s int8: max |onnxruntime - strata int8| = %.3g, max |strata int8 - f32| = %.3g\n", c.name.c_str(), worst,
                quantization_error);
  }
  expect_onnx_checker_passes(dir, models_arg);
}

// Every sequence op in one graph over token ids: the two pooled branches, a final state and a
// sliced, transposed, concatenated and multiplied sequence.
GraphSpec every_sequence_op_graph() {
  GraphBuilder b({9}, "tokens", DType::kI64);
  Value mask = b.padding_mask("mask", b.input(), 0);
  Value e = b.positional_embedding("pos", b.embedding("embed", b.input(), 13, 6, 0));
  Value rnn = b.gru("gru", b.layer_norm("ln", e), RecurrentOptions(4).bidirectional(true));
  Value seq = b.concat("cat", {rnn, b.slice("first6", e, 1, 0, 6)}, 1);  // [9, 14]
  Value scores = b.matmul("scores", seq, seq, true, 0.25);               // [9, 9]
  Value attn = b.softmax("attn", scores, SoftmaxOptions().mask(mask).causal(true));
  Value mixed = b.matmul("mixed", attn, b.transpose("seq_tt", b.transpose("seq_t", seq, {1, 0}), {1, 0}));
  Value pooled_max = b.sequence_pool("max", mixed, "max", mask);
  Value pooled_last = b.sequence_pool("last", b.reshape("same", mixed, {9, 14}), "last", mask);
  Value last_unmasked = b.sequence_pool("last_all", mixed, "last");
  Value h = b.concat("heads", {pooled_max, pooled_last, last_unmasked, rnn.output(1)});
  return b.build(b.linear("out", h, 5));
}

TEST(OnnxExport, TextModelsMatchOnnxRuntime) {
  if (!have_onnx_checker()) GTEST_SKIP() << "python3-onnx is not installed (scripts/install_deps.sh installs it)";
  if (!have_ort()) GTEST_SKIP() << "onnxruntime-node is not installed in " << ort_dir();
  TempDir dir;
  const int64_t n = 6, steps = 9;
  Tensor ids({n, steps}, DType::kI64);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t t = 0; t < steps; ++t) ids.data<int64_t>()[s * steps + t] = t < 2 + s ? 1 + (7 * s + 5 * t) % 12 : 0;
  {
    std::ofstream out(dir.sub("ids.i64"), std::ios::binary);
    out.write(static_cast<const char*>(ids.raw()), static_cast<std::streamsize>(ids.nbytes()));
  }
  const models::TextModelOptions o = models::TextModelOptions().dim(8).hidden(6).heads(2).layers(2);
  const std::vector<std::pair<Case, int>> cases = {
      {{"lstm_classifier", models::recurrent_classifier(steps, 13, 4, models::TextModelOptions(o).bidirectional(true))}, 17},
      {{"gru_classifier", models::recurrent_classifier(steps, 13, 4, models::TextModelOptions(o).cell("gru"))}, 13},
      {{"transformer_classifier", models::transformer_classifier(steps, 13, 4, o)}, 17},
      {{"transformer_classifier_opset13", models::transformer_classifier(steps, 13, 4, o)}, 13},
      {{"transformer_lm", models::transformer_language_model(steps, 13, o)}, 17},
      {{"lstm_lm", models::recurrent_language_model(steps, 13, o)}, 17},
      {{"every_sequence_op", every_sequence_op_graph()}, 17}};
  std::string models_arg;
  uint64_t seed = 1;
  for (const auto& [c, opset] : cases) {
    SCOPED_TRACE(c.name);
    Network net(c.graph);
    net.init_params(seed++);
    NamedTensors params = net.state_tensors();
    for (auto& [name, t] : params) {  // off the initialisers (layer norms' ones and zeros)
      CounterRng rng(seed, RngPurpose::kData, std::hash<std::string>{}(name));
      for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] += 0.2f * (rng.uniform(i) - 0.5f);
    }
    net.load_state_tensors(params);
    const Tensor want = net.forward(ids, Mode::kEval).clone();
    const std::string model = dir.sub(c.name + ".onnx");
    std::ofstream(model, std::ios::binary) << graph_to_onnx(c.graph, params, {{"case", c.name}}, OnnxOptions().opset(opset));
    models_arg += " " + model;
    const double worst = max_difference_in_ort(dir, model, dir.sub("ids.i64"), "6 9", want);
    EXPECT_LE(worst, 1e-4) << c.name;
    std::printf("%-31s opset %d max |onnxruntime - strata| = %.3g\n", c.name.c_str(), opset, worst);
  }
  expect_onnx_checker_passes(dir, models_arg);
}

TEST(OnnxExport, AVersionCarriesItsNameAndIsRefusedWhereOnnxCannotFollow) {
  TempDir dir;
  auto log = VersionLog::open(dir.sub("log"), OpenMode::kReadWrite);
  TrainState s;
  s.graph = models::mlp({1, 28, 28}, {784, 8, 10});
  Network net(s.graph);
  s.params = parameters(net, 3);
  SnapshotRequest r;
  r.state = &s;
  r.branch = "main";
  const CommitId id = log->commit(r).id;
  const OnnxReport report = export_onnx(*log, id, dir.sub("m.onnx"), OnnxOptions().batch(4));
  EXPECT_EQ(report.initializers, 4u);
  const std::string bytes = [&] {
    std::ifstream in(dir.sub("m.onnx"), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  EXPECT_EQ(bytes.size(), report.file_bytes);
  for (const std::string& part : {to_hex(id), log->describe(id), std::string("strata_version_id")})
    EXPECT_NE(bytes.find(part), std::string::npos) << part;
  if (have_onnx_checker()) {
    std::ofstream(dir.sub("meta.py")) << "import onnx, sys\nm = onnx.load(sys.argv[1])\n"
                                         "onnx.checker.check_model(m, full_check=True)\n"
                                         "print({p.key: p.value for p in m.metadata_props}['strata_version'],"
                                         " [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim])\n";
    const tools_test::CommandOutput meta =
        tools_test::run_command("/usr/bin/python3 " + dir.sub("meta.py") + " " + dir.sub("m.onnx") + " 2>&1");
    EXPECT_EQ(meta.out, log->describe(id) + " [4, 1, 28, 28]\n");
  }
  GraphSpec odd = s.graph;
  odd.nodes[1].op = "Frobnicate";
  expect_error([&] { graph_to_onnx(odd, s.params, {}); }, ErrorCode::kInvalidArgument,
               {"Frobnicate has no ONNX equivalent", odd.nodes[1].name});
  expect_error([&] { graph_to_onnx(s.graph, s.params, {}, OnnxOptions().opset(12)); }, ErrorCode::kInvalidArgument, {"opset 12"});
  expect_error([&] { graph_to_onnx(s.graph, {}, {}); }, ErrorCode::kInvalidArgument, {"is missing"});
}

}  // namespace
}  // namespace strata::versioning
