#include "strata/framework/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "strata/framework/core/error.h"
#include "strata/framework/metrics/input_stats.h"
#include "strata/framework/train/internal/gradient_reducer.h"
#include "strata/framework/train/runtime.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t counter_or(const std::map<std::string, int64_t>& counters, const std::string& key, int64_t fallback) {
  auto it = counters.find(key);
  return it == counters.end() ? fallback : it->second;
}

std::string fmt_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Trainer::Trainer(Network& network, TrainerOptions options) : network_(network), options_(std::move(options)) {
  validate(options_.schedule());
  set_snapshot_every(options_.snapshot_every_steps(), options_.snapshot_every_minutes());
  optimizer_ = std::make_unique<Optimizer>(network_, options_.optimizer());
  loss_ = make_loss(options_.loss(), options_.loss_options());
  if (!network_.params_set()) network_.init_params(options_.seed());
  if (options_.progress() != Progress::kQuiet) progress_ = std::make_unique<ProgressCallback>(options_.progress());
}

void Trainer::set_snapshot_every(int64_t steps, double minutes) {
  if (steps < 0) throw_invalid("snapshot_every_steps must be >= 0, got " + std::to_string(steps));
  if (!(minutes >= 0) || !std::isfinite(minutes))
    throw_invalid("snapshot_every_minutes must be a finite number >= 0, got " + fmt_num(minutes));
  options_.snapshot_every_steps(steps).snapshot_every_minutes(minutes);
}

void Trainer::remove_callback(Callback* callback) {
  callbacks_.erase(std::remove(callbacks_.begin(), callbacks_.end(), callback), callbacks_.end());
}

template <class Fn>
void Trainer::for_each_callback(Fn&& fn) {
  for (Callback* cb : callbacks_) fn(*cb);
  if (progress_) fn(*progress_);
}

Trainer::~Trainer() = default;

std::map<std::string, std::string> Trainer::hparams() const {
  auto h = optimizer_->hparams();
  h["loss"] = loss_->name();
  h["seed"] = std::to_string(options_.seed());
  if (options_.schedule().kind() != "constant") h["schedule"] = options_.schedule().kind();
  if (options_.loss_options().label_smoothing() > 0) h["label_smoothing"] = fmt_num(options_.loss_options().label_smoothing());
  for (const auto& [k, v] : input_hparams_) h[k] = v;
  for (const auto& [k, v] : extra_hparams_) h[k] = v;  // set_hparam wins
  return h;
}

std::map<std::string, int64_t> Trainer::trainer_counters() const {
  return {{"epoch", epoch_},
          {"global_step", global_step_},
          {"optim/step", optimizer_->steps()},
          {"seed", static_cast<int64_t>(options_.seed())},
          {"loader/epoch", epoch_ + 1},
          {"loader/batch", 0}};
}

TrainState Trainer::current_state(bool deep_copy) const {
  TrainState s;
  s.graph = network_.spec();
  s.params = network_.state_tensors(deep_copy);
  s.optim = optimizer_->state(deep_copy);
  s.counters = callback_counters_;
  for (auto [key, value] : trainer_counters()) s.counters[key] = value;
  s.metrics = metrics_;
  s.hparams = hparams();
  s.environment = runtime_environment();
  s.environment.insert(data_provenance_.begin(), data_provenance_.end());
  s.environment.insert(rank_environment_.begin(), rank_environment_.end());
  return s;
}

TrainState Trainer::mid_epoch_state(int64_t epoch, const EpochProgress& progress, double lr) const {
  TrainState s = current_state(false);
  s.counters["loader/epoch"] = epoch;
  s.counters["loader/batch"] = progress.batches;
  s.counters["partial/loss_sum_bits"] = double_to_counter(progress.loss_sum);
  s.counters["partial/samples"] = progress.samples;
  s.counters["partial/correct"] = progress.correct;
  s.counters["partial/ms"] = static_cast<int64_t>(progress.seconds * 1000);
  s.metrics.clear();
  s.metrics["train/loss"] = progress.loss_sum / static_cast<double>(std::max<int64_t>(progress.samples, 1));
  if (loss_->classification())
    s.metrics["train/accuracy"] =
        static_cast<double>(progress.correct) / static_cast<double>(std::max<int64_t>(progress.samples * targets_per_sample_, 1));
  s.metrics["lr"] = lr;
  return s;
}

void Trainer::load_state(const TrainState& state) {
  if (!(state.graph == network_.spec()))
    throw Error(ErrorCode::kFailedPrecondition,
                "cannot resume: the saved graph (" + state.graph.graph_id().substr(0, 12) +
                    ") differs from this network's graph (" + network_.spec().graph_id().substr(0, 12) + ")",
                "", "resume with the same model flags, or warm-start the changed graph with align");
  auto seed_it = state.counters.find("seed");
  if (seed_it != state.counters.end() && static_cast<uint64_t>(seed_it->second) != options_.seed())
    throw Error(ErrorCode::kFailedPrecondition,
                "cannot resume: the saved run used seed " + std::to_string(seed_it->second) + ", this trainer seed " +
                    std::to_string(options_.seed()),
                "", "pass the original seed to resume exactly");
  network_.load_state_tensors(state.params);
  auto step_it = state.counters.find("optim/step");
  optimizer_->load_state(state.optim, step_it == state.counters.end() ? 0 : step_it->second);
  epoch_ = state.epoch();
  global_step_ = state.global_step();
  metrics_ = state.metrics;
  resume_progress_ = EpochProgress{};
  const auto& c = state.counters;
  if (int64_t batch = counter_or(c, "loader/batch", 0); batch > 0) {  // a mid-epoch snapshot
    if (counter_or(c, "loader/epoch", 0) != epoch_ + 1)
      throw Error(ErrorCode::kCorruption,
                  "the saved state is " + std::to_string(batch) + " batches into epoch " +
                      std::to_string(counter_or(c, "loader/epoch", 0)) + " but counts " + std::to_string(epoch_) +
                      " completed epochs",
                  "", "resume from an epoch's end (BRANCH@EPOCH) instead");
    resume_progress_.batches = batch;
    resume_progress_.loss_sum = counter_to_double(counter_or(c, "partial/loss_sum_bits", 0));
    resume_progress_.samples = counter_or(c, "partial/samples", 0);
    resume_progress_.correct = counter_or(c, "partial/correct", 0);
    resume_progress_.seconds = static_cast<double>(counter_or(c, "partial/ms", 0)) / 1000;
    metrics_.clear();
  }
  callback_counters_ = state.counters;
  for (const auto& [key, value] : trainer_counters()) callback_counters_.erase(key);
  for (const char* key : {"partial/loss_sum_bits", "partial/samples", "partial/correct", "partial/ms"})
    callback_counters_.erase(key);
  resumed_ = true;
}

EvalResult Trainer::evaluate(BatchSource& data) {
  auto start = Clock::now();
  EvalResult r;
  r.classification = loss_->classification();
  double loss_sum = 0;
  data.start_epoch(1);
  Batch batch;
  while (data.next(batch)) {
    if (!r.first_sample.defined()) {
      Shape one = batch.x.shape();
      one[0] = 1;
      r.first_sample = Tensor(one, batch.x.dtype());
      std::memcpy(r.first_sample.raw(), batch.x.raw(), r.first_sample.nbytes());
    }
    const Tensor& out = network_.forward(batch.x, Mode::kEval);
    if (r.classification && r.confusion.classes() == 0) r.confusion = ConfusionMatrix(out.shape().back());
    loss_sum += loss_->compute(out, batch.y, nullptr) * static_cast<double>(batch.size);
    if (r.classification)
      r.confusion.add_batch(out, batch.y, batch.size);
    else
      r.regression.add_batch(out, batch.y, batch.size);
    r.samples += batch.size;
  }
  r.loss = r.samples ? loss_sum / static_cast<double>(r.samples) : 0.0;
  r.seconds = seconds_since(start);
  return r;
}

namespace {

// The metrics of an evaluation, named "<prefix>/loss", "<prefix>/accuracy", ...
void add_eval_metrics(const EvalResult& v, const std::string& prefix, std::map<std::string, double>& metrics) {
  metrics[prefix + "/loss"] = v.loss;
  if (v.classification) {
    metrics[prefix + "/accuracy"] = v.confusion.accuracy();
    metrics[prefix + "/precision"] = v.confusion.precision();
    metrics[prefix + "/recall"] = v.confusion.recall();
    metrics[prefix + "/f1"] = v.confusion.f1();
  } else {
    metrics[prefix + "/mse"] = v.regression.mse();
    metrics[prefix + "/mae"] = v.regression.mae();
    metrics[prefix + "/r2"] = v.regression.r2();
  }
}

}  // namespace

// What every version of this fit records about its data: each source's provenance and, for a
// Predictor to serve a version as it was trained, the training inputs' normalisation and
// statistics (docs/serving.md).
void Trainer::record_sources(const BatchSource& train, const BatchSource* validation, const BatchSource* test) {
  data_provenance_.clear();
  for (auto [role, source] : {std::pair<const char*, const BatchSource*>{"train", &train}, {"val", validation}, {"test", test}})
    if (source)
      for (const auto& [key, value] : source->provenance()) data_provenance_[std::string("data/") + role + "/" + key] = value;
  input_hparams_ = train.input_normalization();
  if (train.batch_size() > 0) input_hparams_["batch_size"] = std::to_string(train.batch_size());
  if (const InputReference stats = input_reference(train.raw_inputs()); !stats.empty())
    data_provenance_["data/train/input_stats"] = stats.to_string();
}

FitResult Trainer::fit(BatchSource& train, BatchSource* validation, int64_t epochs, BatchSource* test) {
  if (epochs <= 0) throw_invalid("epochs must be > 0, got " + std::to_string(epochs));
  record_sources(train, validation, test);
  if (train.num_batches() <= 0) throw_invalid("the training data has no batches", "", "check the dataset and batch size");
  if (comm_) sync_from_rank0();
  if (world_size() > 1) {
    reducer_ = std::make_unique<GradientReducer>(*comm_, network_.parameters(), data_parallel_);
    network_.set_gradients_ready_hook([this](size_t first, size_t last) { reducer_->ready(first, last); });
  }
  // The hook and the reducer's thread end with this fit, however it ends.
  struct EndParallel {
    Trainer& t;
    ~EndParallel() {
      t.network_.set_gradients_ready_hook({});
      t.reducer_.reset();
    }
  } end_parallel{*this};
  for_each_callback([&](Callback& cb) { cb.load_state(callback_counters_); });
  // Callbacks get views of the live tensors (they run on this thread, between steps): a recorder
  // copies what it keeps, and a clone here would cost every epoch end a copy of the whole state.
  TrainState begin_state = current_state(false);
  FitBeginInfo begin{epoch_, epochs, global_step_, resumed_, &begin_state};
  for_each_callback([&](Callback& cb) { cb.on_fit_begin(begin); });

  FitResult result;
  try {
    last_snapshot_ = Clock::now();
    while (epoch_ < epochs && !result.stopped_early) {
      const int64_t epoch = epoch_ + 1;
      for_each_callback([&](Callback& cb) { cb.on_epoch_begin(epoch); });
      const auto start = Clock::now();
      // A resumed mid-epoch state goes on from where it stopped, its sums included.
      EpochProgress progress = resume_progress_;
      resume_progress_ = EpochProgress{};
      const EpochPass pass = train_epoch(train, epoch, progress, start);
      epoch_ = epoch;
      record_training_metrics(progress, pass, seconds_since(start) + progress.seconds);
      if (world_size() > 1) {
        average_buffers();
        check_ranks_agree(epoch);
      }
      EvalResult validation_eval;
      if (validation) validation_eval = evaluate(*validation);
      if (validation) add_eval_metrics(validation_eval, "val", metrics_);
      metrics_["time/epoch_s"] = seconds_since(start) + progress.seconds;
      if (validation) record_serving_metrics(validation_eval);
      result.stopped_early = end_epoch(epoch, epochs, test);
    }
  } catch (...) {
    for_each_callback([&](Callback& cb) { cb.on_fit_end(true); });
    throw;
  }
  for_each_callback([&](Callback& cb) { cb.on_fit_end(false); });
  std::map<std::string, std::string> done_notes;
  for_each_callback([&](Callback& cb) { cb.on_fit_done(done_notes); });
  resumed_ = false;
  result.epochs_completed = epoch_;
  result.last_metrics = metrics_;
  return result;
}

Trainer::EpochPass Trainer::train_epoch(BatchSource& train, int64_t epoch, EpochProgress& progress, Clock::time_point start) {
  EpochPass pass;
  metric_sum_seconds_ = 0;
  const double reduce_before = reducer_ ? reducer_->reduce_seconds() : 0;
  const double blocking_before = reducer_ ? reducer_->blocking_seconds() : 0;
  if (progress.batches > 0)
    train.start_epoch_at(epoch, progress.batches);
  else
    train.start_epoch(epoch);
  pass.lr = options_.optimizer().lr();
  const int64_t total = train.num_batches();
  Batch batch;
  while (train.next(batch)) {
    // Seeds differ per rank: rank r's rows are other samples than rank 0's.
    network_.set_step_key(options_.seed() ^ static_cast<uint64_t>(rank()), epoch, global_step_);
    pass.lr = scheduled_lr(options_.schedule(), options_.optimizer().lr(), epoch - 1, global_step_);
    const auto [loss, correct] = train_step(batch, epoch, progress.batches, pass.lr);
    progress.correct += correct;
    progress.loss_sum += loss * static_cast<double>(batch.size);
    progress.samples += batch.size;
    ++progress.batches;
    BatchEndInfo info{epoch, progress.batches - 1, global_step_, loss, pass.lr, total, batch.size};
    for_each_callback([&](Callback& cb) { cb.on_batch_end(info); });
    if (progress.batches < total && snapshot_due()) {
      EpochProgress saved = progress;
      saved.seconds += seconds_since(start);
      snapshot_mid_epoch(epoch, saved, pass.lr);
    }
  }
  if (reducer_) {
    pass.reduce_seconds = reducer_->reduce_seconds() - reduce_before;
    pass.blocking_seconds = reducer_->blocking_seconds() - blocking_before + metric_sum_seconds_;
  }
  return pass;
}

std::pair<double, int64_t> Trainer::train_step(const Batch& batch, int64_t epoch, int64_t batch_index, double lr) {
  double loss = 0;
  int64_t correct = 0;
  targets_per_sample_ = batch.y.numel() / std::max<int64_t>(batch.y.dim(0), 1);  // T for a sequence
  if (world_size() == 1) {
    const Tensor& out = network_.forward(batch.x, Mode::kTrain);
    loss = loss_->compute(out, batch.y, &network_.output_grad());
    if (loss_->classification()) correct = count_top1_hits(out, batch.y, batch.size);
  } else {
    // This rank's share of the global batch; a share can be empty (a last batch smaller than
    // the world): its gradient is then zero.
    const int64_t lo = batch.size * rank() / world_size(), hi = batch.size * (rank() + 1) / world_size();
    // Each rank's loss is its rows' mean, so its gradient counts with weight rows / batch: the
    // sum over the ranks is the gradient of the whole batch's mean loss.
    reducer_->begin(static_cast<float>(static_cast<double>(hi - lo) / static_cast<double>(batch.size)));
    double loss_sum = 0;
    if (hi > lo) {
      const Tensor x = batch.x.rows(lo, hi), y = batch.y.rows(lo, hi);
      const Tensor& out = network_.forward(x, Mode::kTrain);
      loss_sum = loss_->compute(out, y, &network_.output_grad()) * static_cast<double>(hi - lo);
      if (loss_->classification()) correct = count_top1_hits(out, y, hi - lo);
      network_.backward();  // hands each node's gradients to the reducer as they are done
    } else {
      network_.zero_gradients_as_backward();
    }
    std::tie(loss_sum, correct) = finish_step(loss_sum, correct);
    loss = loss_sum / static_cast<double>(batch.size);
  }
  if (!std::isfinite(loss))
    throw Error(
        ErrorCode::kNumerical,
        "non-finite loss (" + fmt_num(loss) + ") at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch_index),
        last_version_.empty() ? "no version was committed in this run" : "last good version: " + last_version_,
        "lower the learning rate or enable gradient clipping, then resume from the last good version");
  if (world_size() == 1) network_.backward();
  optimizer_->step(lr);
  ++global_step_;
  return {loss, correct};
}

bool Trainer::snapshot_due() const {
  const double every_seconds = 60 * options_.snapshot_every_minutes();
  return (options_.snapshot_every_steps() > 0 && global_step_ % options_.snapshot_every_steps() == 0) ||
         (every_seconds > 0 && seconds_since(last_snapshot_) >= every_seconds);
}

void Trainer::snapshot_mid_epoch(int64_t epoch, const EpochProgress& progress, double lr) {
  if (world_size() > 1) average_buffers();
  for_each_callback([&](Callback& cb) { cb.save_state(callback_counters_); });
  TrainState snapshot = mid_epoch_state(epoch, progress, lr);
  NamedTensors grads;
  std::map<std::string, std::string> notes;
  EpochEndInfo snap{snapshot, grads, notes};
  for_each_callback([&](Callback& cb) { cb.on_mid_epoch_snapshot(snap); });
  if (notes.count("version")) last_version_ = notes["version"];
  last_snapshot_ = Clock::now();
}

void Trainer::record_training_metrics(const EpochProgress& progress, const EpochPass& pass, double train_seconds) {
  const int64_t seen = progress.samples;
  metrics_.clear();
  metrics_["train/loss"] = progress.loss_sum / std::max<int64_t>(seen, 1);
  if (loss_->classification())
    metrics_["train/accuracy"] =
        seen ? static_cast<double>(progress.correct) / static_cast<double>(seen * targets_per_sample_) : 0.0;
  metrics_["lr"] = pass.lr;
  metrics_["throughput/samples_per_s"] = seen / std::max(train_seconds, 1e-9);
  if (world_size() > 1) {
    // Per step: time in the gradient all-reduces (waiting for slower ranks included), and what
    // the sums cost the training thread (packing, the all-reduces it ran or waited for, the loss
    // and accuracy sums): with overlap, the part backward did not hide.
    const double steps = static_cast<double>(std::max<int64_t>(progress.batches, 1));
    metrics_["time/allreduce_ms_per_step"] = 1000 * pass.reduce_seconds / steps;
    metrics_["time/allreduce_blocking_ms_per_step"] = 1000 * pass.blocking_seconds / steps;
  }
}

void Trainer::record_serving_metrics(const EvalResult& validation) {
  if (validation.samples == 0 || options_.latency_probes() <= 0) return;
  // How fast this version serves: throughput at the validation batch, and single-sample latency
  // (eval forwards do not touch the training state, so exact resume holds).
  metrics_["infer/samples_per_s"] = validation.samples / std::max(validation.seconds, 1e-9);
  const Tensor& sample = validation.first_sample;
  const LatencyStats latency = measure_latency([&] { network_.forward(sample, Mode::kEval); }, options_.latency_probes());
  metrics_["infer/latency_ms_p50"] = latency.p50_ms;
  metrics_["infer/latency_ms_p99"] = latency.p99_ms;
}

bool Trainer::end_epoch(int64_t epoch, int64_t epochs, BatchSource* test) {
  // Decisions on the metrics first, then the callbacks' state, then the snapshot: a version
  // holds the state that produced the decision (callback.h).
  EpochMetricsInfo decision{epoch, metrics_, false, {}};
  for_each_callback([&](Callback& cb) { cb.on_epoch_metrics(decision); });
  if (test && (epoch == epochs || decision.stop)) add_eval_metrics(evaluate(*test), "test", metrics_);
  for_each_callback([&](Callback& cb) { cb.save_state(callback_counters_); });
  TrainState snapshot = current_state(false);
  NamedTensors grads;
  for (const Parameter& p : network_.parameters())
    if (p.trainable) grads.emplace_back(p.name, p.grad);
  std::map<std::string, std::string> notes;
  if (decision.stop) notes["stop"] = decision.stop_reason;
  EpochEndInfo info{snapshot, grads, notes};
  for_each_callback([&](Callback& cb) { cb.on_epoch_end(info); });
  if (notes.count("version")) last_version_ = notes["version"];
  last_snapshot_ = Clock::now();
  return decision.stop;
}

}  // namespace strata
