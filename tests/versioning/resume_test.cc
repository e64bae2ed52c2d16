// Bit-exact resume through the real Trainer and the version log: training 4 epochs straight
// equals training 2, stopping, resuming from main@2 for 2 more, in every parameter and
// optimizer-state bit and in the recorded (deterministic) metrics.
#include <gtest/gtest.h>

#include <filesystem>

#include "strata/datasets/data_loader.h"
#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/early_stopping.h"
#include "strata/framework/train/trainer.h"
#include "strata/models/models.h"
#include "strata/versioning/recorder.h"
#include "strata/versioning/run/run.h"
#include "strata/versioning/version_log.h"
#include "tests/expect_error.h"
#include "tests/versioning/shuffled_source.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using versioning::OpenMode;
using versioning::VersionLog;

struct RunSetup {
  GraphSpec graph;
  TrainerOptions options;
  Shape sample;
  int64_t vocab = 0;  // token ids instead of features
};

fs::path fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("strata_resume_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

void train(const RunSetup& s, const fs::path& dir, int64_t epochs, const std::string& resume) {
  versioning::vtest::ShuffledSource train_data(s.sample, 48, 16, s.vocab), val_data(s.sample, 24, 24, s.vocab);
  Network net(s.graph);
  Trainer trainer(net, s.options);
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.string(), OpenMode::kReadWrite);
  versioning::Recorder recorder(log);
  if (!resume.empty()) {
    auto id = log->resolve(resume);
    trainer.load_state(log->read_state(id));
    recorder.continue_from(id);
  }
  trainer.add_callback(&recorder);
  trainer.fit(train_data, &val_data, epochs);
}

void expect_same_bits(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
  }
}

void check_resume(const RunSetup& s, const std::string& name) {
  fs::path straight = fresh_dir(name + "_straight"), split = fresh_dir(name + "_split");
  train(s, straight, 4, "");
  train(s, split, 2, "");
  train(s, split, 4, "main@2");
  auto a = VersionLog::open(straight.string(), OpenMode::kReadOnly);
  auto b = VersionLog::open(split.string(), OpenMode::kReadOnly);
  auto ia = a->resolve("main@4"), ib = b->resolve("main@4");
  expect_same_bits(a->read_params(ia), b->read_params(ib));
  expect_same_bits(a->read_optim(ia), b->read_optim(ib));
  TrainState sa = a->read_state(ia), sb = b->read_state(ib);
  for (const char* key : {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "val/f1", "lr"})
    EXPECT_EQ(sa.metrics.at(key), sb.metrics.at(key)) << key;
  EXPECT_EQ(sa.counters, sb.counters);
  EXPECT_EQ(b->history("main").size(), 4u);  // resuming the head continued the branch
  fs::remove_all(straight);
  fs::remove_all(split);
}

TEST(Resume, MlpWithDropoutAndAdamIsBitExact) {
  RunSetup s;
  s.sample = {12};
  s.graph = Sequential({12}).linear(16).relu().dropout(0.3).linear(3).build();
  s.options = TrainerOptions().seed(4).optimizer(OptimizerOptions().kind("adam").lr(0.01)).progress(Progress::kQuiet);
  check_resume(s, "mlp");
}

TEST(Resume, LstmClassifierWithDropoutIsBitExact) {
  RunSetup s;
  s.sample = {7};
  s.vocab = 9;
  s.graph = models::recurrent_classifier(7, 9, 3,
                                         models::TextModelOptions().dim(6).hidden(5).layers(2).bidirectional(true).dropout(0.2));
  s.options = TrainerOptions().seed(6).optimizer(OptimizerOptions().kind("adam").lr(0.01)).progress(Progress::kQuiet);
  check_resume(s, "lstm");
}

TEST(Resume, TransformerClassifierWithDropoutIsBitExact) {
  RunSetup s;
  s.sample = {7};
  s.vocab = 9;
  s.graph = models::transformer_classifier(7, 9, 3, models::TextModelOptions().dim(8).heads(2).hidden(12).layers(2).dropout(0.2));
  s.options = TrainerOptions().seed(6).optimizer(OptimizerOptions().kind("adamw").lr(0.01)).progress(Progress::kQuiet);
  check_resume(s, "transformer");
}

TEST(Resume, CnnWithBatchNormSgdMomentumStepScheduleIsBitExact) {
  RunSetup s;
  s.sample = {1, 6, 6};
  s.graph =
      Sequential({1, 6, 6}).conv2d(Conv2dOptions(4, 3).padding(1)).batch_norm().relu().max_pool2d(2).flatten().linear(3).build();
  s.options = TrainerOptions()
                  .seed(8)
                  .optimizer(OptimizerOptions().kind("sgd").lr(0.05).momentum(0.9))
                  .schedule(ScheduleOptions().kind("step").step_size(1).gamma(0.5))
                  .progress(Progress::kQuiet);
  check_resume(s, "cnn");
}

// ---- mid-epoch snapshots ----

// Ends fit() at a batch, as a kill would (the recorder makes its versions durable on the way out).
struct StopAtStep : Callback {
  int64_t step;
  explicit StopAtStep(int64_t s) : step(s) {}
  void on_batch_end(const BatchEndInfo& info) override {
    if (info.global_step == step) throw std::runtime_error("stopped");
  }
};

// 10 batches per epoch from a DataLoader (seeks on resume) or a ShuffledSource (reads and drops).
std::unique_ptr<BatchSource> mid_epoch_source(bool loader, Dataset& storage) {
  if (!loader) return std::make_unique<versioning::vtest::ShuffledSource>(Shape{12}, 150, 16);
  versioning::vtest::ShuffledSource make(Shape{12}, 150, 150);
  Batch all;
  make.start_epoch(1);
  make.next(all);
  storage.x = all.x;
  storage.y = all.y;
  storage.num_classes = 3;
  return std::make_unique<DataLoader>(storage, DataLoaderOptions().batch_size(16).seed(3).threads(1));
}

// Trains to `epochs` with a mid-epoch snapshot every 4 steps; `stop_at` > 0 ends the run at
// that global step; `resume`: a version name to continue from.
void train_mid(bool loader, const fs::path& dir, int64_t epochs, const std::string& resume, int64_t stop_at) {
  Dataset storage;
  std::unique_ptr<BatchSource> data = mid_epoch_source(loader, storage);
  Network net(Sequential({12}).linear(16).relu().dropout(0.3).linear(3).build());
  Trainer trainer(net, TrainerOptions()
                           .seed(4)
                           .optimizer(OptimizerOptions().kind("adam").lr(0.01))
                           .progress(Progress::kQuiet)
                           .snapshot_every_steps(4));
  std::shared_ptr<VersionLog> log = VersionLog::open(dir.string(), OpenMode::kReadWrite);
  versioning::Recorder recorder(log);
  if (!resume.empty()) {
    auto id = log->resolve(resume);
    trainer.load_state(log->read_state(id));
    recorder.continue_from(id);
  }
  StopAtStep stop(stop_at);
  trainer.add_callback(&recorder);
  if (stop_at > 0) trainer.add_callback(&stop);
  try {
    trainer.fit(*data, nullptr, epochs);
  } catch (const std::runtime_error& e) {
    ASSERT_STREQ(e.what(), "stopped");
  }
}

void check_mid_epoch_resume(bool loader) {
  const std::string kind = loader ? "loader" : "source";
  fs::path straight = fresh_dir("mid_straight_" + kind), split = fresh_dir("mid_split_" + kind);
  train_mid(loader, straight, 3, "", 0);
  // Stopped at step 14 (epoch 2, batch 4), after the snapshot at step 12 (epoch 2, batch 2).
  train_mid(loader, split, 3, "", 14);
  {
    auto log = VersionLog::open(split.string(), OpenMode::kReadOnly);
    const versioning::CommitRecord head = log->read_record(*log->head("main"));
    EXPECT_EQ(head.epoch, 1);
    EXPECT_EQ(head.step_in_epoch(), 2);
    EXPECT_EQ(head.global_step, 12);
    EXPECT_EQ(log->resolve("main@1.2"), *log->head("main"));
    EXPECT_EQ(log->describe(*log->head("main")).substr(8), " (main@1.2)");
    EXPECT_EQ(head.message.substr(0, 11), "epoch 1.2: ");
    // main@1 is still the end of epoch 1, not a later mid-epoch version.
    EXPECT_EQ(log->read_record(log->resolve("main@1")).step_in_epoch(), 0);
    EXPECT_EQ(log->read_record(log->resolve("main@0.8")).global_step, 8);
    EXPECT_THROW(log->resolve("main@1.3"), Error);
  }
  train_mid(loader, split, 3, "main", 0);  // the head: 2 batches into epoch 2

  auto a = VersionLog::open(straight.string(), OpenMode::kReadOnly);
  auto b = VersionLog::open(split.string(), OpenMode::kReadOnly);
  for (const char* name : {"main@1.6", "main@2", "main@2.4", "main@2.8", "main@3"}) {
    auto ia = a->resolve(name), ib = b->resolve(name);
    expect_same_bits(a->read_params(ia), b->read_params(ib));
    expect_same_bits(a->read_optim(ia), b->read_optim(ib));
    TrainState sa = a->read_state(ia), sb = b->read_state(ib);
    sa.counters.erase("partial/ms");  // the epoch's training time so far: wall clock
    sb.counters.erase("partial/ms");
    EXPECT_EQ(sa.counters, sb.counters) << name;
    for (const char* key : {"train/loss", "train/accuracy", "lr"}) EXPECT_EQ(sa.metrics.at(key), sb.metrics.at(key)) << key;
    if (::testing::Test::HasFailure()) FAIL() << name << " differs from the uninterrupted run";
  }
  // Every 4 steps except at an epoch's last step (step 20, 30): 4, 8, 12, 16, 24, 28 + 3 ends.
  EXPECT_EQ(a->history("main").size(), 9u);
  fs::remove_all(straight);
  fs::remove_all(split);
}

TEST(Resume, FromAMidEpochSnapshotIsBitExact) { check_mid_epoch_resume(false); }
TEST(Resume, FromAMidEpochSnapshotOfADataLoaderIsBitExact) { check_mid_epoch_resume(true); }

// Trains with early stopping through the run API (optionally resuming); returns the fit result.
FitResult train_with_early_stopping(const RunSetup& s, const fs::path& dir, int64_t epochs, const std::string& resume) {
  versioning::vtest::ShuffledSource train_data(s.sample, 48, 16, s.vocab), val_data(s.sample, 24, 24, s.vocab);
  Network net(s.graph);
  Trainer trainer(net, s.options);
  // min_delta makes the plateau certain: val/loss keeps falling, but soon by less than 0.02.
  EarlyStopping early_stopping(EarlyStoppingOptions().patience(2).min_delta(0.02));
  trainer.add_callback(&early_stopping);
  versioning::Run run(trainer, versioning::RunOptions().log_dir(dir.string()).resume(resume).tensorboard(false).verbose(false));
  FitResult result = trainer.fit(train_data, &val_data, epochs);
  run.finish();
  return result;
}

TEST(Resume, EarlyStoppingStopsAtTheSameEpochAndBitsAfterAResume) {
  RunSetup s;
  s.sample = {12};
  s.graph = Sequential({12}).linear(16).relu().linear(3).build();
  s.options = TrainerOptions().seed(4).optimizer(OptimizerOptions().kind("adam").lr(0.01)).progress(Progress::kQuiet);
  fs::path straight = fresh_dir("es_straight"), split = fresh_dir("es_split");
  const FitResult a = train_with_early_stopping(s, straight, 60, "");
  ASSERT_TRUE(a.stopped_early);
  const int64_t stop = a.epochs_completed;
  ASSERT_GE(stop, 4);
  ASSERT_LT(stop, 60);
  // Resume one epoch before the stop, when the patience counter is already 1: a run that
  // forgot it would train on past `stop`.
  EXPECT_FALSE(train_with_early_stopping(s, split, stop - 1, "").stopped_early);
  const FitResult b = train_with_early_stopping(s, split, 60, "main@" + std::to_string(stop - 1));
  EXPECT_TRUE(b.stopped_early);
  EXPECT_EQ(b.epochs_completed, stop);
  auto la = VersionLog::open(straight.string(), OpenMode::kReadOnly);
  auto lb = VersionLog::open(split.string(), OpenMode::kReadOnly);
  auto ia = la->resolve("main"), ib = lb->resolve("main");
  EXPECT_EQ(la->read_record(ia).epoch, stop);
  EXPECT_EQ(lb->read_record(ib).epoch, stop);
  expect_same_bits(la->read_params(ia), lb->read_params(ib));
  expect_same_bits(la->read_optim(ia), lb->read_optim(ib));
  const TrainState sa = la->read_state(ia), sb = lb->read_state(ib);
  EXPECT_EQ(sa.counters, sb.counters);
  EXPECT_EQ(sa.counters.at("early_stopping/wait"), 2);
  EXPECT_EQ(la->read_state(la->resolve("main@" + std::to_string(stop - 1))).counters.at("early_stopping/wait"), 1);
  fs::remove_all(straight);
  fs::remove_all(split);
}

TEST(Resume, IntoADifferentGraphIsRefused) {
  fs::path dir = fresh_dir("graph");
  RunSetup s;
  s.sample = {12};
  s.graph = Sequential({12}).linear(3).build();
  s.options = TrainerOptions().progress(Progress::kQuiet);
  train(s, dir, 1, "");
  RunSetup other = s;
  other.graph = Sequential({12}).linear(8).relu().linear(3).build();
  expect_error([&] { train(other, dir, 2, "main@1"); }, ErrorCode::kFailedPrecondition, {"differs from this network's graph"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace strata
