// The run API (versioning::Run): fresh runs, continuing a branch, resuming an older version,
// warm starts, codecs, TensorBoard folders, and the errors a user meets; and the Predictor that
// serves what a run recorded.
#include "strata/versioning/run/run.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/trainer.h"
#include "strata/versioning/chunk_codec.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/shuffled_source.h"
#include "tests/versioning/test_util.h"

namespace strata::versioning {
namespace {

namespace fs = std::filesystem;
using vtest::ShuffledSource;
using vtest::TempDir;

GraphSpec small_mlp(int64_t hidden = 8) { return Sequential({12}).linear(hidden).relu().linear(3).build(); }

TrainerOptions quiet() { return TrainerOptions().seed(3).progress(Progress::kQuiet); }

RunOptions run_options(const std::string& log_dir) { return RunOptions().log_dir(log_dir).verbose(false); }

// One training program: a network, a Run with `options`, fit to `epochs`; returns the branch.
std::string train(const RunOptions& options, int64_t epochs, const GraphSpec& graph = small_mlp()) {
  ShuffledSource data({12}, 32, 16);
  Network net(graph);
  Trainer trainer(net, quiet());
  versioning::Run run(trainer, options);
  trainer.fit(data, &data, epochs);
  run.finish();
  return run.branch();
}

size_t event_files(const fs::path& dir) {
  if (!fs::is_directory(dir)) return 0;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find("tfevents") != std::string::npos;
  return n;
}

TEST(RunApi, FreshRunsGoOnMainThenMainNWithTheirOwnTensorBoardFolders) {
  TempDir dir;
  EXPECT_EQ(train(run_options(dir.path()), 1), "main");
  EXPECT_EQ(train(run_options(dir.path()), 1), "main-2");
  EXPECT_EQ(train(run_options(dir.path()), 1), "main-3");
  for (const char* branch : {"main", "main-2", "main-3"}) EXPECT_EQ(event_files(dir.sub("tb/") + branch), 1u) << branch;
  EXPECT_FALSE(fs::exists(dir.sub("tb/main-2-2")));
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  EXPECT_EQ(log->branches(), (std::vector<std::string>{"main", "main-2", "main-3"}));
}

TEST(RunApi, ResumingTheHeadContinuesAndAnOlderVersionBranches) {
  TempDir dir;
  train(run_options(dir.path()), 2);
  EXPECT_EQ(train(run_options(dir.path()).resume("main"), 3), "main");
  EXPECT_EQ(train(run_options(dir.path()).resume("main@1"), 3), "main-2");
  EXPECT_EQ(train(run_options(dir.path()).resume("main@2").branch("lr-sweep"), 3), "lr-sweep");
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  EXPECT_EQ(log->read_record(log->resolve("main")).epoch, 3);
  EXPECT_EQ(log->read_record(log->resolve("main-2@2")).parents, std::vector<CommitId>{log->resolve("main@1")});
  EXPECT_EQ(log->read_record(log->resolve("lr-sweep")).parents, std::vector<CommitId>{log->resolve("main@2")});
  // Resuming main@1 to epoch 3 retraces main: the same bits at epoch 3.
  EXPECT_TRUE(log->read_params(log->resolve("main-2@3"))[0].second.bit_equal(log->read_params(log->resolve("main@3"))[0].second));
  EXPECT_EQ(event_files(dir.sub("tb/main-2")), 1u);
  EXPECT_EQ(event_files(dir.sub("tb/lr-sweep")), 1u);
}

TEST(RunApi, WarmStartCopiesMatchingParametersIntoAChangedGraph) {
  TempDir dir;
  train(run_options(dir.path()), 1);
  ShuffledSource data({12}, 32, 16);
  GraphSpec wider = Sequential({12}).linear(8).relu().linear(8).relu().linear(3).build();
  Network net(wider);
  Trainer trainer(net, quiet());
  versioning::Run run(trainer, run_options(dir.path()).warm_start("main"));
  ASSERT_TRUE(run.warm_start_report().has_value());
  EXPECT_FALSE(run.warm_start_report()->matched.empty());
  EXPECT_FALSE(run.warm_start_report()->added.empty());
  EXPECT_EQ(run.branch().rfind("main-warm-", 0), 0u) << run.branch();
  // The Trainer did not overwrite what the warm start loaded: fc1's weight equals main's.
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  const Tensor main_w = log->read_tensor(log->resolve("main"), run.warm_start_report()->matched[0]);
  EXPECT_TRUE(net.find_parameter(run.warm_start_report()->matched[0])->value.bit_equal(main_w));
  trainer.fit(data, &data, 1);
  run.finish();
  EXPECT_EQ(run.log()->read_record(*run.log()->head(run.branch())).parents, std::vector<CommitId>{log->resolve("main")});
}

TEST(RunApi, WithoutALogDirectoryItAttachesNothing) {
  ShuffledSource data({12}, 32, 16);
  Network net(small_mlp());
  Trainer trainer(net, quiet());
  versioning::Run run(trainer, RunOptions().verbose(false));
  EXPECT_FALSE(run.has_log());
  EXPECT_EQ(run.branch(), "");
  EXPECT_EQ(run.tensorboard_dir(), "");
  trainer.fit(data, nullptr, 1);
  run.finish();
}

TEST(RunApi, CodecAndTensorBoardOptions) {
  TempDir dir;
  train(run_options(dir.path()).codec("shuffle+zstd").tensorboard(false), 1);
  EXPECT_FALSE(fs::exists(dir.sub("tb")));
  EXPECT_EQ(VersionLog::open(dir.path(), OpenMode::kReadOnly)->settings().codec, ChunkCodec::kShuffleZstd);
  expect_error([&] { train(run_options(dir.path()).codec("raw"), 1); }, ErrorCode::kInvalidArgument,
               {"created with codec shuffle+zstd"});
  expect_error([&] { train(run_options(dir.sub("other")).codec("lz4"), 1); }, ErrorCode::kInvalidArgument,
               {"unknown codec 'lz4'"});
}

TEST(RunApi, BadRequestsAreRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  expect_error([&] { train(RunOptions().resume("main"), 1); }, ErrorCode::kInvalidArgument, {"need a log directory"});
  expect_error([&] { train(run_options(dir.sub("new")).resume("main@1"), 1); }, ErrorCode::kNotFound,
               {"no version log", "main@1"});
  EXPECT_FALSE(fs::exists(dir.sub("new")));                  // no empty log left behind
  VersionLog::open(dir.sub("empty"), OpenMode::kReadWrite);  // a first run killed before its first epoch end
  expect_error([&] { train(run_options(dir.sub("empty")).resume("main"), 1); }, ErrorCode::kNotFound,
               {"no versions yet", "run without resume"});
  train(run_options(dir.path()), 1);
  expect_error([&] { train(run_options(dir.path()).resume("main").warm_start("main"), 1); }, ErrorCode::kInvalidArgument,
               {"exclude each other"});
  expect_error([&] { train(run_options(dir.path()).resume("nope@7"), 1); }, ErrorCode::kNotFound, {"nope"});
  expect_error([&] { train(run_options(dir.path()).resume("main"), 2, small_mlp(5)); }, ErrorCode::kFailedPrecondition,
               {"differs from this network's graph"});
  expect_error([&] { train(run_options(dir.path()).branch("bad name"), 1); }, ErrorCode::kInvalidArgument, {"bad name"});
  {  // A version without optimizer state, as imports and merges are, cannot be resumed exactly.
    auto writer = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    SnapshotRequest params_only;
    TrainState s = writer->read_state(writer->resolve("main"));
    params_only.state = &s;
    params_only.branch = "imported";
    params_only.include_optim = false;
    writer->commit(params_only);
  }
  expect_error([&] { train(run_options(dir.path()).resume("imported"), 2); }, ErrorCode::kFailedPrecondition,
               {"has no optimizer state", "--warm-start"});
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  EXPECT_EQ(log->branches(), (std::vector<std::string>{"imported", "main"}));
  EXPECT_EQ(log->all_versions().size(), 2u);
}

TEST(RunApi, ItsDestructorDetachesItsCallbacksFromTheTrainer) {
  TempDir dir;
  ShuffledSource data({12}, 32, 16);
  Network net(small_mlp());
  Trainer trainer(net, quiet());
  {
    versioning::Run run(trainer, run_options(dir.path()));
    trainer.fit(data, &data, 1);
  }                             // no finish(): the destructor waits for the commit
  trainer.fit(data, &data, 2);  // no recorder any more: nothing is committed, nothing dangles
  auto log = VersionLog::open(dir.path(), OpenMode::kReadOnly);
  EXPECT_EQ(log->all_versions().size(), 1u);
}

// A Predictor serves a version: the same outputs as the trained network's eval forward, while
// the log is open for writing, with the recorded input normalisation applied.
TEST(Predictor, ServesAVersionWhileTheLogIsOpenForWriting) {
  TempDir dir;
  ShuffledSource data({12}, 32, 16);
  Network net(small_mlp());
  Trainer trainer(net, quiet());
  trainer.set_hparam("input/mean", "0.5");
  trainer.set_hparam("input/std", "0.25");
  versioning::Run run(trainer, run_options(dir.path()));
  trainer.fit(data, &data, 2);
  run.finish();  // the run still holds the log open for writing

  Tensor x({5, 12});
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = static_cast<float>(i % 7) / 7.0f;
  Tensor normalized({5, 12});
  for (int64_t i = 0; i < x.numel(); ++i) normalized.f32()[i] = (x.f32()[i] - 0.5f) / 0.25f;
  const Tensor want = net.forward(normalized, Mode::kEval).clone();

  Predictor p(dir.path(), "main");
  EXPECT_EQ(p.name(), run.log()->describe(*run.log()->head("main")));
  EXPECT_EQ(p.input_mean(), std::vector<float>{0.5f});
  EXPECT_TRUE(p.predict(x).bit_equal(want));
  Tensor proba = p.predict_proba(x);
  for (int64_t r = 0; r < 5; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < 3; ++c) sum += proba.f32()[r * 3 + c];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  // Without normalisation it takes inputs as given.
  Predictor raw(dir.path(), "main@2", PredictorOptions().normalize_input(false));
  EXPECT_TRUE(raw.predict(normalized).bit_equal(want));
  EXPECT_TRUE(raw.input_mean().empty());
  // An older version serves its own parameters.
  Predictor first(dir.path(), "main@1");
  EXPECT_FALSE(first.predict(x).bit_equal(want));

  expect_error([&] { p.predict(Tensor({5, 11})); }, ErrorCode::kInvalidArgument, {"[5,11]", "[N,12]"});
  expect_error([&] { Predictor(dir.path(), "main@9"); }, ErrorCode::kNotFound, {"no version at epoch 9"});
  expect_error([&] { Predictor(dir.sub("nothing"), "main"); }, ErrorCode::kNotFound, {});
}

// The Trainer records the training source's normalisation itself (no set_hparam), so a version
// is served as it was trained.
TEST(Predictor, AppliesTheNormalisationTheTrainingSourceReported) {
  struct NormalisingSource : ShuffledSource {
    using ShuffledSource::ShuffledSource;
    std::map<std::string, std::string> input_normalization() const override {
      return {{"input/mean", "0.5"}, {"input/std", "0.25"}};
    }
  };
  TempDir dir;
  NormalisingSource data({12}, 32, 16);
  Network net(small_mlp());
  Trainer trainer(net, quiet());
  {
    versioning::Run run(trainer, run_options(dir.path()));
    trainer.fit(data, &data, 1);
  }
  Predictor p(dir.path(), "main");
  EXPECT_EQ(p.input_mean(), std::vector<float>{0.5f});
  EXPECT_EQ(p.input_std(), std::vector<float>{0.25f});
  EXPECT_TRUE(p.warnings().empty());
}

// A version made before the library recorded the normalisation: the provenance's text is used,
// with a warning; a provenance that says "normalised" in a way the Predictor cannot read is
// refused rather than served silently wrong.
TEST(Predictor, FallsBackToTheProvenanceOrRefuses) {
  TempDir dir;
  auto commit = [&](const std::string& branch, const std::string& preprocess) {
    auto log = VersionLog::open(dir.path(), OpenMode::kReadWrite);
    TrainState s = vtest::synthetic_state(1);
    s.environment["data/train/preprocess"] = preprocess;
    SnapshotRequest r;
    r.branch = branch;
    r.state = &s;
    log->commit(r);
  };
  commit("old", "first 600 of 60000 samples; normalize mean 0.286 std 0.353; shuffled, seed 1; batch 64");
  commit("custom", "my own standardization of every pixel; batch 64");
  commit("plain", "shuffled, seed 1; batch 64");
  Predictor old(dir.path(), "old");
  EXPECT_EQ(old.input_mean(), std::vector<float>{0.286f});
  EXPECT_EQ(old.input_std(), std::vector<float>{0.353f});
  ASSERT_EQ(old.warnings().size(), 1u);
  EXPECT_NE(old.warnings()[0].find("6 significant digits"), std::string::npos) << old.warnings()[0];
  expect_error([&] { Predictor(dir.path(), "custom"); }, ErrorCode::kFailedPrecondition,
               {"my own standardization", "normalize_input(false)"});
  Predictor custom(dir.path(), "custom", PredictorOptions().normalize_input(false));
  EXPECT_TRUE(custom.input_mean().empty());
  Predictor plain(dir.path(), "plain");
  EXPECT_TRUE(plain.input_mean().empty());
  EXPECT_TRUE(plain.warnings().empty());
}

}  // namespace
}  // namespace strata::versioning
