// Trainer and metrics: confusion-matrix metrics against hand-computed values, an XOR smoke test,
// non-finite loss, early stopping, state round trip, data parallelism over threads.
#include "strata/framework/train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"
#include "strata/framework/train/early_stopping.h"
#include "strata/framework/train/runtime.h"
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
  auto options =
      TrainerOptions().seed(3).optimizer(OptimizerOptions().kind("sgd").lr(0.5).momentum(0.9)).progress(Progress::kQuiet);
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

namespace strata {
namespace {

// A Communicator over threads of this process (the Trainer's data-parallel logic without MPI):
// every collective meets at a barrier; sums are taken in rank order by every rank, so all get
// the same bits.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), posted_(static_cast<size_t>(n)) {}
  void barrier() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t gen = generation_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  int n_;
  std::vector<const void*> posted_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  uint64_t generation_ = 0;
};

class ThreadCommunicator : public Communicator {
 public:
  ThreadCommunicator(ThreadGroup& group, int rank) : g_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_.n_; }
  void allreduce_sum(float* data, size_t n) override { sum(data, n); }
  void allreduce_sum(double* data, size_t n) override { sum(data, n); }
  void broadcast(std::string& bytes, int root) override {
    post(&bytes);
    std::string copy = *static_cast<const std::string*>(g_.posted_[static_cast<size_t>(root)]);
    g_.barrier();
    bytes = copy;
  }
  std::vector<std::string> allgather(const std::string& mine) override {
    post(&mine);
    std::vector<std::string> all;
    for (const void* p : g_.posted_) all.push_back(*static_cast<const std::string*>(p));
    g_.barrier();
    return all;
  }
  void abort(int) override { std::abort(); }
  bool allows_other_threads() const override { return true; }
  int64_t reductions = 0;

 private:
  void post(const void* p) {
    g_.posted_[static_cast<size_t>(rank_)] = p;
    g_.barrier();
  }
  template <class T>
  void sum(T* data, size_t n) {
    ++reductions;
    post(data);
    std::vector<T> total(n, T(0));
    for (const void* p : g_.posted_)
      for (size_t i = 0; i < n; ++i) total[i] += static_cast<const T*>(p)[i];
    g_.barrier();
    std::copy(total.begin(), total.end(), data);
  }
  ThreadGroup& g_;
  int rank_;
};

// 13 samples of 3 features in 4 classes: a last batch of 1 (13 = 4 x 3 + 1), smaller than 2 ranks.
ArraySource blobs() {
  Tensor x({13, 3});
  Tensor y({13}, DType::kI64);
  for (int64_t i = 0; i < 13; ++i) {
    y.data<int64_t>()[i] = i % 4;
    for (int64_t j = 0; j < 3; ++j)
      x.f32()[i * 3 + j] = std::sin(0.7f * static_cast<float>(i * 3 + j)) + 0.5f * static_cast<float>(i % 4 == j);
  }
  return ArraySource(x, y, 4);
}

GraphSpec bn_net() { return Sequential({3}).linear(8).batch_norm().activation("tanh").linear(4).build(); }

TrainerOptions sgd() {
  return TrainerOptions().seed(5).latency_probes(0).optimizer(OptimizerOptions().kind("sgd").lr(0.1)).progress(Progress::kQuiet);
}

GraphSpec tanh_net() { return Sequential({3}).linear(8).activation("tanh").linear(4).build(); }

struct RankResult {
  NamedTensors params;
  std::map<std::string, double> metrics;
  int64_t reductions = 0;
};

// Trains `spec` for `epochs` on `ranks` threads; rank 0 optionally starts from `start`.
std::vector<RankResult> train_ranks(int ranks, int64_t epochs, const TrainState* start = nullptr, size_t bucket = 4 << 20,
                                    const GraphSpec& spec = bn_net(), bool overlap = false) {
  ThreadGroup group(ranks);
  std::vector<RankResult> out(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      Network net(spec);
      Trainer trainer(net, sgd());
      trainer.set_data_parallel(&comm, DataParallelOptions().bucket_bytes(bucket).overlap(overlap));
      if (start && r == 0) trainer.load_state(*start);
      ArraySource data = blobs();
      trainer.fit(data, &data, epochs);
      out[static_cast<size_t>(r)] = {net.state_tensors(), trainer.last_metrics(), comm.reductions};
    });
  for (auto& t : threads) t.join();
  return out;
}

float max_abs_diff(const NamedTensors& a, const NamedTensors& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t j = 0; j < a[i].second.numel(); ++j)
      worst = std::max(worst, std::abs(a[i].second.f32()[j] - b[i].second.f32()[j]));
  return worst;
}

void expect_ranks_bit_equal(const std::vector<RankResult>& r) {
  for (size_t k = 1; k < r.size(); ++k)
    for (size_t i = 0; i < r[0].params.size(); ++i)
      EXPECT_TRUE(r[0].params[i].second.bit_equal(r[k].params[i].second)) << "rank " << k << " " << r[0].params[i].first;
}

TEST(DataParallel, RanksMatchOneProcessWithTheSameGlobalBatch) {
  Network net(tanh_net());
  Trainer alone(net, sgd());
  ArraySource data = blobs();
  alone.fit(data, &data, 5);
  for (int ranks : {2, 3}) {
    const std::vector<RankResult> r = train_ranks(ranks, 5, nullptr, 4 << 20, tanh_net());
    expect_ranks_bit_equal(r);
    // The whole batch's gradient, up to the rounding of other partial sums (20 steps, one of
    // them a batch of 1 that leaves a rank without rows).
    EXPECT_LT(max_abs_diff(net.state_tensors(), r[0].params), 1e-6f) << ranks << " ranks";
    EXPECT_NEAR(r[0].metrics.at("train/loss"), alone.last_metrics().at("train/loss"), 1e-6);
    EXPECT_EQ(r[0].metrics.at("train/accuracy"), alone.last_metrics().at("train/accuracy"));
    EXPECT_EQ(r[0].metrics.at("val/accuracy"), alone.last_metrics().at("val/accuracy"));
  }
}

TEST(DataParallel, BatchNormStatisticsAreAveragedSoEveryRankRecordsTheSame) {
  // Each rank normalises its own rows while training (as PyTorch's DDP without SyncBatchNorm);
  // the running statistics are averaged before every evaluation and snapshot, so every rank
  // holds (and rank 0 records) the same ones, and the ranks agree in every bit.
  for (int ranks : {2, 3}) {
    const std::vector<RankResult> r = train_ranks(ranks, 3);
    expect_ranks_bit_equal(r);
    EXPECT_EQ(r[0].metrics.at("val/loss"), r[1].metrics.at("val/loss"));
  }
}

TEST(DataParallel, BucketSizeAndOverlapWithBackwardChangeNothingButHowTheSumsRun) {
  for (int ranks : {2, 3}) {
    const std::vector<RankResult> big = train_ranks(ranks, 2);
    const std::vector<RankResult> small = train_ranks(ranks, 2, nullptr, 64);  // 16 floats: many buckets a step
    const std::vector<RankResult> overlapped = train_ranks(ranks, 2, nullptr, 64, bn_net(), true);
    for (size_t i = 0; i < big[0].params.size(); ++i) {
      EXPECT_TRUE(big[0].params[i].second.bit_equal(small[0].params[i].second)) << big[0].params[i].first;
      EXPECT_TRUE(big[0].params[i].second.bit_equal(overlapped[0].params[i].second)) << big[0].params[i].first;
    }
    EXPECT_GT(small[0].reductions, big[0].reductions);
    EXPECT_EQ(overlapped[0].reductions, small[0].reductions);
  }
}

TEST(DataParallel, RankZerosResumedStateReachesEveryRankAndResumeIsBitExact) {
  const std::vector<RankResult> straight = train_ranks(2, 4);
  TrainState at2;
  {
    ThreadGroup group(2);
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
      threads.emplace_back([&, r] {
        ThreadCommunicator comm(group, r);
        Network net(bn_net());
        Trainer trainer(net, sgd());
        trainer.set_data_parallel(&comm);
        ArraySource data = blobs();
        trainer.fit(data, &data, 2);
        if (r == 0) at2 = trainer.state();
      });
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(at2.environment.at("distributed/world_size"), "2");
  const std::vector<RankResult> resumed = train_ranks(2, 4, &at2);
  for (int k = 0; k < 2; ++k)
    for (size_t i = 0; i < straight[0].params.size(); ++i)
      EXPECT_TRUE(straight[0].params[i].second.bit_equal(resumed[static_cast<size_t>(k)].params[i].second))
          << "rank " << k << " " << straight[0].params[i].first;
}

}  // namespace
}  // namespace strata
