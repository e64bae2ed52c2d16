// Trainer and metrics: confusion-matrix metrics against hand-computed values, an XOR smoke test,
// non-finite loss, early stopping, state round trip.
#include <gtest/gtest.h>

#include <cmath>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/early_stopping.h"
#include "strata/framework/train/runtime.h"
#include "strata/framework/train/trainer.h"
#include "tests/expect_error.h"

namespace strata {
namespace {

// Fixed in-memory data, no shuffling.
class ArraySource : public BatchSource {
 public:
  ArraySource(Tensor x, Tensor y, int64_t batch) : x_(std::move(x)), y_(std::move(y)), batch_(batch) {}
  int64_t num_batches() const override { return (x_.dim(0) + batch_ - 1) / batch_; }
  int64_t num_samples() const override { return x_.dim(0); }
  void start_epoch(int64_t) override { next_ = 0; }
  bool next(Batch& out) override {
    int64_t n = x_.dim(0);
    if (next_ >= n) return false;
    int64_t b = std::min(batch_, n - next_), row = x_.numel() / n;
    Shape xs = x_.shape();
    xs[0] = b;
    out.x = Tensor(xs);
    std::copy(x_.f32() + next_ * row, x_.f32() + (next_ + b) * row, out.x.f32());
    out.y = Tensor({b}, DType::kI64);
    std::copy(y_.data<int64_t>() + next_, y_.data<int64_t>() + next_ + b, out.y.data<int64_t>());
    out.size = b;
    next_ += b;
    return true;
  }

 private:
  Tensor x_, y_;
  int64_t batch_, next_ = 0;
};

ArraySource xor_data() {
  Tensor x = Tensor::from_vector({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  Tensor y({4}, DType::kI64);
  int64_t labels[] = {0, 1, 1, 0};
  std::copy(labels, labels + 4, y.data<int64_t>());
  return ArraySource(x, y, 4);
}

GraphSpec xor_net() { return Sequential({2}).linear(8).activation("tanh").linear(2).build(); }

TEST(Metrics, ConfusionMatrixByHand) {
  ConfusionMatrix m(3);
  int64_t truth[] = {0, 0, 1, 1, 2, 2}, pred[] = {0, 1, 1, 1, 2, 0};
  for (int i = 0; i < 6; ++i) m.add(truth[i], pred[i]);
  EXPECT_EQ(m.at(0, 1), 1);
  EXPECT_EQ(m.at(2, 0), 1);
  EXPECT_DOUBLE_EQ(m.accuracy(), 4.0 / 6.0);
  EXPECT_NEAR(m.precision(), (0.5 + 2.0 / 3.0 + 1.0) / 3.0, 1e-15);
  EXPECT_NEAR(m.recall(), (0.5 + 1.0 + 0.5) / 3.0, 1e-15);
  EXPECT_NEAR(m.f1(), (0.5 + 0.8 + 2.0 / 3.0) / 3.0, 1e-15);
  EXPECT_THROW(m.add(3, 0), Error);
}

TEST(Metrics, RegressionByHand) {
  RegressionMetrics r;
  Tensor out = Tensor::from_vector({4, 1}, {1, 2, 3, 5}), t = Tensor::from_vector({4, 1}, {1, 2, 3, 4});
  r.add_batch(out, t, 4);
  EXPECT_DOUBLE_EQ(r.mse(), 0.25);
  EXPECT_DOUBLE_EQ(r.mae(), 0.25);
  EXPECT_DOUBLE_EQ(r.r2(), 1.0 - 1.0 / 5.0);  // SS_tot = 5 around mean 2.5
}

TEST(Trainer, LearnsXor) {
  Network net(xor_net());
  Trainer trainer(net, TrainerOptions().seed(1).optimizer(OptimizerOptions().kind("adam").lr(0.05)).progress(Progress::kQuiet));
  ArraySource data = xor_data();
  FitResult r = trainer.fit(data, &data, 150);
  EXPECT_EQ(r.epochs_completed, 150);
  EXPECT_LT(r.last_metrics.at("train/loss"), 0.05);
  EXPECT_DOUBLE_EQ(r.last_metrics.at("val/accuracy"), 1.0);
  EXPECT_EQ(trainer.global_step(), 150);
  // How fast the version serves, measured at each epoch end.
  EXPECT_GT(r.last_metrics.at("infer/samples_per_s"), 0);
  EXPECT_GT(r.last_metrics.at("infer/latency_ms_p50"), 0);
  EXPECT_GE(r.last_metrics.at("infer/latency_ms_p99"), r.last_metrics.at("infer/latency_ms_p50"));
  Network quiet_net(xor_net());
  Trainer no_probe(quiet_net, TrainerOptions().seed(1).latency_probes(0).progress(Progress::kQuiet));
  EXPECT_EQ(no_probe.fit(data, &data, 1).last_metrics.count("infer/latency_ms_p50"), 0u);
}

TEST(Trainer, NonFiniteLossStopsWithClearError) {
  Network net(xor_net());
  Trainer trainer(net, TrainerOptions().progress(Progress::kQuiet));
  // A corrupt sample (NaN feature) poisons the loss of its batch.
  Tensor x = Tensor::from_vector({4, 2}, {0, 0, 0, 1, NAN, 0, 1, 1});
  Tensor y({4}, DType::kI64);
  ArraySource data(x, y, 4);
  expect_error([&] { trainer.fit(data, nullptr, 50); }, ErrorCode::kNumerical, {"non-finite loss"});
}

TEST(Trainer, EarlyStoppingAndResumeEqualsStraight) {
  auto options = TrainerOptions().seed(3).optimizer(OptimizerOptions().kind("sgd").lr(0.5).momentum(0.9)).progress(Progress::kQuiet);
  ArraySource data = xor_data();
  Network straight_net(xor_net());
  Trainer straight(straight_net, options);
  straight.fit(data, &data, 6);

  Network first_net(xor_net());
  Trainer first(first_net, options);
  first.fit(data, &data, 3);
  TrainState saved = first.state();
  Network second_net(xor_net());
  Trainer second(second_net, options);
  second.load_state(saved);
  second.fit(data, &data, 6);
  NamedTensors a = straight.state().params, b = second.state().params;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
  EXPECT_EQ(straight.state().metrics.at("val/loss"), second.state().metrics.at("val/loss"));

  Network other(Sequential({2}).linear(3).build());
  Trainer wrong(other, options);
  EXPECT_THROW(wrong.load_state(saved), Error);
}

TEST(Runtime, ThreadCountsAreBounded) {
  const int before = num_threads();
  expect_error([] { set_num_threads(100000); }, ErrorCode::kInvalidArgument, {"100000", "limit"});
  expect_error([] { set_num_threads(0); }, ErrorCode::kInvalidArgument, {">= 1"});
  EXPECT_EQ(num_threads(), before);
  EXPECT_GE(max_threads(), 64);
}

TEST(Trainer, KeepsWeightsAlreadyLoadedIntoTheNetwork) {
  // A warm start loads weights before the Trainer exists; the Trainer must not re-initialise them.
  Network source(xor_net());
  source.init_params(42);
  Network net(xor_net());
  net.load_state_tensors(source.state_tensors());
  Trainer trainer(net, TrainerOptions().seed(1).progress(Progress::kQuiet));
  NamedTensors kept = net.state_tensors(), from = source.state_tensors();
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_TRUE(kept[i].second.bit_equal(from[i].second)) << kept[i].first;

  // A network nobody initialised gets the Trainer's seed: the same as init_params(seed).
  Network fresh(xor_net()), reference(xor_net());
  Trainer seeded(fresh, TrainerOptions().seed(7).progress(Progress::kQuiet));
  reference.init_params(7);
  NamedTensors a = fresh.state_tensors(), b = reference.state_tensors();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.bit_equal(b[i].second)) << a[i].first;
}

// Records what the Trainer tells a callback and stops after `stop_at` epochs.
class StopAfter : public Callback {
 public:
  explicit StopAfter(int64_t stop_at) : stop_at_(stop_at) {}
  void on_epoch_metrics(EpochMetricsInfo& info) override {
    metrics_seen = info.metrics.count("val/loss") > 0;
    if (info.epoch == stop_at_) {
      info.stop = true;
      info.stop_reason = "enough";
    }
  }
  void save_state(std::map<std::string, int64_t>& counters) const override { counters["stop_after/saves"] = ++saves_; }
  void load_state(const std::map<std::string, int64_t>& counters) override {
    auto it = counters.find("stop_after/saves");
    saves_ = it == counters.end() ? 0 : it->second;
  }
  void on_epoch_end(EpochEndInfo& info) override {
    snapshot_counter = info.state.counters.at("stop_after/saves");
    stop_note = info.annotations.count("stop") ? info.annotations.at("stop") : "";
  }
  bool metrics_seen = false;
  int64_t snapshot_counter = 0;
  std::string stop_note;

 private:
  int64_t stop_at_;
  mutable int64_t saves_ = 0;
};

TEST(Trainer, CallbacksDecideOnMetricsAndTheirStateIsInTheSnapshot) {
  Network net(xor_net());
  Trainer trainer(net, TrainerOptions().seed(1).progress(Progress::kQuiet));
  ArraySource data = xor_data();
  StopAfter cb(3);
  trainer.add_callback(&cb);
  FitResult r = trainer.fit(data, &data, 10);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.epochs_completed, 3);
  EXPECT_TRUE(cb.metrics_seen);
  EXPECT_EQ(cb.snapshot_counter, 3);  // saved before the epoch-end state was built
  EXPECT_EQ(cb.stop_note, "enough");
  EXPECT_EQ(trainer.state().counters.at("stop_after/saves"), 3);

  // A restored state gives the callback its counters back at the next fit.
  Network net2(xor_net());
  Trainer resumed(net2, TrainerOptions().seed(1).progress(Progress::kQuiet));
  resumed.load_state(trainer.state());
  StopAfter cb2(5);
  resumed.add_callback(&cb2);
  resumed.fit(data, &data, 10);
  EXPECT_EQ(cb2.snapshot_counter, 5);  // 3 restored + epochs 4 and 5
  EXPECT_THROW(EarlyStopping(EarlyStoppingOptions().patience(0)), Error);
}

}  // namespace
}  // namespace strata
