// Post-training int8 quantization as a step of the history (versioning/run/quantize.h): the new
// version's place in the log, what it records, its weights on the int8 grid, how the Predictor
// serves it, and the refusals that write nothing.
#include "strata/versioning/run/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "strata/framework/graph/builder.h"
#include "strata/framework/graph/quantization.h"
#include "strata/framework/nn/network.h"
#include "strata/versioning/run/import.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/tensor_files.h"
#include "tests/expect_error.h"
#include "tests/framework/op_check.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

using vtest::TempDir;

// conv1 reads 1 channel (stays f32); conv2 and fc1 read ReLU/pooled values (int8).
GraphSpec small_cnn() {
  return Sequential({1, 8, 8})
      .conv2d(Conv2dOptions(4, 3).padding(1))
      .relu()
      .conv2d(Conv2dOptions(6, 3).padding(1))
      .relu()
      .max_pool2d(2)
      .flatten()
      .linear(5)
      .build();
}

// An f32 version of `graph`, trained on inputs normalised with mean 0.5, std 0.25.
CommitId commit_f32(VersionLog& log, const GraphSpec& graph, const std::string& branch = "main") {
  Network net(graph);
  net.init_params(11);
  TrainState s;
  s.graph = graph;
  s.params = net.state_tensors();
  s.counters["epoch"] = 3;
  s.hparams = {{"input/mean", "0.5"}, {"input/std", "0.25"}, {"lr", "0.01"}};
  s.environment["data/train/preprocess"] = "normalize mean 0.5 std 0.25; batch 8";
  return vtest::commit_state(log, s, {}, branch);
}

Tensor images(int64_t n, uint64_t seed) {
  Tensor x({n, 1, 8, 8});
  optest::fill_uniform(x, seed, 0.0f, 1.0f);
  return x;
}

// small_cnn in f32 on main, and its int8 child on branch int8 (calibrated on 200 images).
CommitId commit_f32_and_int8(VersionLog& log) {
  commit_f32(log, small_cnn());
  QuantizeRequest request;
  request.version = "main";
  request.calibration = images(200, 1);
  request.branch = "int8";
  return quantize(log, request).id;
}

std::vector<float> parse_list(const std::string& text) {
  std::vector<float> out;
  for (const char* p = text.c_str(); *p;) {
    char* end = nullptr;
    out.push_back(std::strtof(p, &end));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

TEST(Quantize, MakesAParamsOnlyChildWhoseWeightsLieOnTheirGrid) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  const CommitId source = commit_f32(*log, small_cnn());
  QuantizeRequest request;
  request.version = "main";
  request.calibration = images(64, 1);
  request.calibration_name = "cal.npy";
  request.samples = 50;
  const QuantizeReport report = quantize(*log, request);

  EXPECT_EQ(report.quantized, (std::vector<std::string>{"conv2", "fc1"}));
  EXPECT_EQ(report.kept_f32, (std::vector<std::string>{"conv1: fewer than 4 input channels, faster in f32"}));
  EXPECT_EQ(report.samples, 50);
  EXPECT_EQ(report.branch, "int8-" + short_hex(source));
  EXPECT_EQ(*log->head(report.branch), report.id);
  EXPECT_EQ(*log->head("main"), source);  // the f32 branch is untouched

  const CommitRecord record = log->read_record(report.id);
  EXPECT_EQ(record.parents, std::vector<CommitId>{source});
  EXPECT_EQ(record.optim_count, 0u);                  // params only
  EXPECT_EQ(record.hparams.at("input/mean"), "0.5");  // served with the parent's normalisation
  EXPECT_EQ(record.hparams.at("lr"), "0.01");
  EXPECT_EQ(record.hparams.at("quantize/from"), to_hex(source));
  EXPECT_EQ(record.hparams.at("quantize/calibration"), "cal.npy");
  EXPECT_EQ(record.hparams.at("quantize/calibration_samples"), "50");
  EXPECT_NE(record.hparams.at("quantize/method").find("[-63, 63]"), std::string::npos);
  EXPECT_EQ(record.environment.at("data/train/preprocess"), "normalize mean 0.5 std 0.25; batch 8");
  EXPECT_NE(record.environment.at("precision").find("int8 (2 "), std::string::npos);
  EXPECT_EQ(record.metrics.at("quantize/top1_agreement"), report.top1_agreement);

  // The fingerprint is of the 50 samples as the network saw them, normalised.
  Tensor used({50, 1, 8, 8});
  std::copy(request.calibration.f32(), request.calibration.f32() + used.numel(), used.f32());
  for (int64_t i = 0; i < used.numel(); ++i) used.f32()[i] = (used.f32()[i] - 0.5f) / 0.25f;
  EXPECT_EQ(report.fingerprint, to_hex(hash128(used.raw(), used.nbytes())));
  EXPECT_EQ(record.hparams.at("quantize/calibration_xxh3"), report.fingerprint);

  // The graph marks conv2 and fc1; the stored weights are s_w[o] * q with |q| <= 63, and the
  // recorded scales are the ones the kernels derive from them.
  const GraphSpec graph = log->read_graph(record.graph_id);
  EXPECT_FALSE(int8::node_quantization(*graph.find("conv1")));
  EXPECT_FLOAT_EQ(int8::node_quantization(*graph.find("conv2"))->input_scale,
                  std::strtof(record.hparams.at("quantize/conv2/input_scale").c_str(), nullptr));
  const NamedTensors params = log->read_params(report.id);
  const NamedTensors before = log->read_params(source);
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, w] = params[i];
    const bool quantized = name == "conv2/weight" || name == "fc1/weight";
    EXPECT_EQ(w.bit_equal(before[i].second), !quantized) << name;
    if (!quantized) continue;
    const std::vector<float> scales = int8::weight_scales(w);
    const std::string node = name.substr(0, name.find('/'));
    EXPECT_EQ(parse_list(record.hparams.at("quantize/" + node + "/weight_scales")), scales);
    const int64_t per = w.numel() / w.dim(0);
    for (int64_t k = 0; k < w.numel(); ++k) {
      const double q = w.f32()[k] / scales[static_cast<size_t>(k / per)];
      EXPECT_NEAR(q, std::round(q), 1e-3) << name;
      EXPECT_LE(std::abs(q), 63.001) << name;
    }
  }
}

// The Predictor serves the quantized version in int8 with the parent's normalisation: its
// answers are the int8 network's, close to the f32 version's.
TEST(Quantize, ThePredictorServesItInInt8) {
  TempDir dir;
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    commit_f32_and_int8(*log);
  }
  Predictor f32(dir.path(), "main"), int8(dir.path(), "int8");
  EXPECT_EQ(int8.input_mean(), std::vector<float>{0.5f});
  const Tensor x = images(32, 2);
  const Tensor want = f32.predict(x).clone();
  const Tensor got = int8.predict(x).clone();

  Tensor normalised = x.clone();
  for (int64_t i = 0; i < x.numel(); ++i) normalised.f32()[i] = (x.f32()[i] - 0.5f) / 0.25f;
  Network net(int8.graph());
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  net.load_state_tensors(log->read_params(log->resolve("int8")));
  EXPECT_TRUE(net.forward(normalised, Mode::kEval).bit_equal(got));

  float range = 0, worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    range = std::max(range, std::abs(want.f32()[i]));
    worst = std::max(worst, std::abs(want.f32()[i] - got.f32()[i]));
  }
  EXPECT_GT(worst, 0.0f);  // it did run in int8
  EXPECT_LT(worst, 0.05f * range) << "largest |int8 - f32| " << worst << " of logits up to " << range;
}

// Export the quantized version's weights, import them with its graph: the import predicts the
// same bits, because it takes the graph's int8 marks and the version's input normalisation.
TEST(Quantize, AnExportedQuantizedVersionImportsAndPredictsTheSame) {
  TempDir dir;
  const std::string file = dir.sub("int8.safetensors");
  {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    const CommitId int8 = commit_f32_and_int8(*log);
    export_tensors(*log, int8, file, TensorFileFormat::kSafetensors, false);

    ImportRequest import;
    import.file = file;
    import.graph = log->read_graph(log->read_record(int8).graph_id);
    import.graph_source = "graph of int8";
    import.branch = "back";
    const ImportNormalisation norm = input_normalisation_of(*log, int8);
    EXPECT_EQ(norm.mean, "0.5");
    EXPECT_EQ(norm.std, "0.25");
    const CommitRecord back = log->read_record(import_params(*log, import, norm).id);
    EXPECT_EQ(back.hparams.at("input/mean"), "0.5");
    EXPECT_EQ(back.hparams.at("input/std"), "0.25");
    import.branch = "bare";
    import_params(*log, import);  // without the normalisation, as before it was carried
  }
  Predictor int8(dir.path(), "int8"), back(dir.path(), "back"), bare(dir.path(), "bare");
  const Tensor x = images(32, 3);
  const Tensor want = int8.predict(x).clone();
  EXPECT_TRUE(back.predict(x).bit_equal(want));
  EXPECT_FALSE(bare.predict(x).bit_equal(want));  // what an import without it would have served
  EXPECT_TRUE(bare.input_mean().empty());
}

TEST(Quantize, AnImportRefusesANormalisationThatDoesNotFit) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  const CommitId f32 = commit_f32(*log, small_cnn());
  const std::string file = dir.sub("w.safetensors");
  export_tensors(*log, f32, file, TensorFileFormat::kSafetensors, false);
  ImportRequest import;
  import.file = file;
  import.graph = small_cnn();
  import.branch = "imported";
  const auto branches = log->branches();
  auto refused = [&](ImportNormalisation norm, std::vector<std::string> words) {
    expect_error([&] { import_params(*log, import, norm); }, ErrorCode::kInvalidArgument, words);
  };
  refused({"0.5", ""}, {"both a mean and a std"});
  refused({"0.5,abc", "1"}, {"input/mean = '0.5,abc'", "not a list of numbers"});
  refused({"0.5,0.5", "1"}, {"2 values for 1 channels"});
  refused({"0.5", "0"}, {"input/std must be > 0"});
  refused({"0.5", "inf"}, {"not a list of numbers"});
  // A version whose inputs were normalised in a way it did not record: the caller must say.
  TrainState unknown;
  unknown.graph = small_cnn();
  unknown.params = log->read_params(f32);
  unknown.environment["data/train/preprocess"] = "standardized per image; batch 8";
  const CommitId standardized = vtest::commit_state(*log, unknown, {}, "standardized");
  expect_error([&] { input_normalisation_of(*log, standardized); }, ErrorCode::kFailedPrecondition,
               {"standardized per image", "--input-mean", "--no-input-normalisation"});
  EXPECT_EQ(input_normalisation_of(*log, f32).mean, "0.5");
  import_params(*log, import, {"0.25", "2"});
  EXPECT_EQ(Predictor(dir.path(), "imported").input_std(), std::vector<float>{2.0f});
}

TEST(Quantize, RefusalsWriteNothing) {
  TempDir dir;
  auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
  commit_f32(*log, small_cnn());
  // A Linear fed the normalised inputs directly sees negative values: nothing to quantize.
  commit_f32(*log, Sequential({1, 8, 8}).flatten().linear(3).build(), "mlp");
  QuantizeRequest request;
  request.version = "main";
  request.calibration = images(16, 1);
  request.branch = "int8";
  quantize(*log, request);
  const auto branches = log->branches();

  QuantizeRequest again = request;
  again.version = "int8";
  again.branch = "int8-again";
  expect_error([&] { quantize(*log, again); }, ErrorCode::kFailedPrecondition, {"already quantized", "parent"});
  expect_error([&] { quantize(*log, request); }, ErrorCode::kAlreadyExists, {"'int8' exists", "--branch"});
  QuantizeRequest bad_shape = request;
  bad_shape.branch = "other";
  bad_shape.calibration = Tensor({16, 1, 28, 28});
  expect_error([&] { quantize(*log, bad_shape); }, ErrorCode::kInvalidArgument, {"[16,1,28,28]", "[N,1,8,8]"});
  QuantizeRequest not_finite = bad_shape;
  not_finite.calibration = images(16, 1);
  not_finite.calibration.f32()[5] = std::nanf("");
  expect_error([&] { quantize(*log, not_finite); }, ErrorCode::kInvalidArgument, {"not finite"});
  QuantizeRequest mlp = request;
  mlp.version = "mlp";
  mlp.branch = "mlp-int8";
  expect_error([&] { quantize(*log, mlp); }, ErrorCode::kFailedPrecondition, {"no Linear or Conv2d node"});
  EXPECT_EQ(log->branches(), branches);
}

}  // namespace
}  // namespace strata::versioning
