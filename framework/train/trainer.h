// Trainer: the training loop (fit / evaluate) over a Network, with an optimizer, a learning-rate
// schedule, a loss, per-epoch metrics and callbacks (early stopping, the version recorder,
// TensorBoard); its progress display is a callback it owns and runs last.
//
// The whole state needed to continue (parameters, optimizer slots, counters, metrics,
// hyper-parameters, graph) is exposed as a TrainState (state()) and accepted back
// (load_state()); the version log in versioning/ snapshots and restores it through callbacks.
// `epochs` means "train until epoch N" (Keras's epochs with initial_epoch), so a resumed fit()
// with the same N ends exactly where the uninterrupted run would.
// Not thread-safe; one thread drives a Trainer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/metrics/metrics.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/optim/optimizer.h"
#include "strata/framework/train/batch_source.h"
#include "strata/framework/train/callback.h"
#include "strata/framework/train/communicator.h"
#include "strata/framework/train/progress.h"

namespace strata {

class GradientReducer;

struct TrainerOptions {
  STRATA_ARG(uint64_t, seed) = 0;
  STRATA_ARG(OptimizerOptions, optimizer);
  STRATA_ARG(ScheduleOptions, schedule);
  STRATA_ARG(LossKind, loss) = LossKind::kSoftmaxCrossEntropy;
  STRATA_ARG(LossOptions, loss_options);
  STRATA_ARG(Progress, progress) = Progress::kAuto;   // kAuto: a bar on a terminal, plain lines otherwise
  STRATA_ARG(std::vector<std::string>, class_names);  // for the confusion matrix printout
  // Single-sample eval forwards timed after each epoch's validation, recorded as
  // infer/latency_ms_p50 and infer/latency_ms_p99 beside infer/samples_per_s (0: none of them).
  STRATA_ARG(int, latency_probes) = 50;
  // Mid-epoch snapshots, for long epochs: every N steps (global step a multiple of N) and/or
  // after M minutes without one, callbacks get on_mid_epoch_snapshot (the recorder commits a
  // version named branch@E.S, S steps after epoch E). Not at an epoch's last step, whose
  // end-of-epoch version follows. 0: none.
  STRATA_ARG(int64_t, snapshot_every_steps) = 0;
  STRATA_ARG(double, snapshot_every_minutes) = 0;
};

struct EvalResult {
  double loss = 0;
  ConfusionMatrix confusion;     // classification
  RegressionMetrics regression;  // regression losses
  bool classification = false;
  int64_t samples = 0;
  double seconds = 0;
  Tensor first_sample;  // the first sample seen, [1, ...]: the latency probe's input
};

struct FitResult {
  int64_t epochs_completed = 0;  // the epoch counter at the end (including resumed ones)
  bool stopped_early = false;    // a callback (EarlyStopping) ended the fit
  std::map<std::string, double> last_metrics;
};

class Trainer {
 public:
  // The network must outlive the trainer. Its parameters are initialised from options.seed()
  // unless they were already set (Network::load_state_tensors, Network::init_params: a warm
  // start) or load_state() is called before fit().
  Trainer(Network& network, TrainerOptions options);
  ~Trainer();

  // Not owned; called in the order added.
  void add_callback(Callback* callback) { callbacks_.push_back(callback); }
  void remove_callback(Callback* callback);
  // Changes TrainerOptions::snapshot_every_steps / _minutes (the run API sets them from its flags).
  void set_snapshot_every(int64_t steps, double minutes);
  // Data-parallel training over `comm` (one process per rank, each with this same program,
  // network, data and seed): every rank reads the same global batches and trains on its share of
  // each (rows [B r / N, B (r + 1) / N)); gradients are summed in buckets, each rank's weighted by
  // its share, so the step is the whole batch's; the loss, accuracy and sample counts are reduced,
  // and non-trainable buffers (batch-norm running statistics) averaged before every evaluation
  // and snapshot, so metrics and versions describe the whole batch and epoch. fit() begins from
  // rank 0's state (its resume or warm start reaches every rank) and checks at every epoch end that
  // the ranks' parameters are identical. Only rank 0 should record (versioning::Run does so when
  // the other ranks run without a log). Call before fit(); `comm` must outlive the trainer.
  // Dropout masks of rank r > 0 are drawn from seed ^ r (its rows are other samples).
  void set_data_parallel(Communicator* comm, DataParallelOptions options = {});
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int world_size() const { return comm_ ? comm_->size() : 1; }

  // Extra hyper-parameters recorded with every version ("model", "batch_size", ...).
  void set_hparam(const std::string& key, const std::string& value) { extra_hparams_[key] = value; }

  // `validation` is evaluated after every epoch (val/* metrics); `test`, when given, once, after
  // the last epoch (the one reaching `epochs`, or the one a callback stops at), as test/*
  // metrics of that epoch's version. Every version records the sources' provenance()
  // (environment "data/train/...", "data/val/...", "data/test/..."), the training source's
  // input_normalization() as hparams (set_hparam overrides them) and statistics of its
  // raw_inputs() ("data/train/input_stats", framework/metrics/input_stats.h).
  FitResult fit(BatchSource& train, BatchSource* validation, int64_t epochs, BatchSource* test = nullptr);
  EvalResult evaluate(BatchSource& data);

  // Deep copy of everything needed to continue.
  TrainState state() const { return current_state(true); }
  // Restores a state; the graph must equal this network's graph (kFailedPrecondition otherwise).
  void load_state(const TrainState& state);

  int64_t epoch() const { return epoch_; }
  int64_t global_step() const { return global_step_; }
  Network& network() { return network_; }
  Optimizer& optimizer() { return *optimizer_; }
  const std::map<std::string, double>& last_metrics() const { return metrics_; }

 private:
  // How far the epoch in progress has come: what a mid-epoch snapshot saves and a resume
  // restores, so that the epoch's metrics come out as if it had never stopped.
  struct EpochProgress {
    int64_t batches = 0;  // batches trained in this epoch
    double loss_sum = 0;  // sum of loss x batch size
    int64_t samples = 0;
    int64_t correct = 0;  // top-1 hits (classification; per token for sequences)
    double seconds = 0;   // training time spent on the epoch before this fit()
  };
  // What an epoch's training pass leaves for its metrics: the last learning rate and, when data
  // parallel, the seconds in the gradient sums and those the training thread waited.
  struct EpochPass {
    double lr = 0, reduce_seconds = 0, blocking_seconds = 0;
  };
  // fit()'s parts: the training steps of an epoch from where `progress` stands (mid-epoch
  // snapshots included); one step, returning its loss and top-1 hits; the epoch's metrics; and
  // its end (decision, test, commit), returning whether a callback stopped the fit.
  EpochPass train_epoch(BatchSource& train, int64_t epoch, EpochProgress& progress, std::chrono::steady_clock::time_point start);
  std::pair<double, int64_t> train_step(const Batch& batch, int64_t epoch, int64_t batch_index, double lr);
  bool snapshot_due() const;
  void snapshot_mid_epoch(int64_t epoch, const EpochProgress& progress, double lr);
  void record_training_metrics(const EpochProgress& progress, const EpochPass& pass, double train_seconds);
  void record_serving_metrics(const EvalResult& validation);
  bool end_epoch(int64_t epoch, int64_t epochs, BatchSource* test);
  // Everything needed to continue; deep_copy false: tensors are views of the live ones.
  TrainState current_state(bool deep_copy) const;
  // The state in the middle of epoch `epoch` (views), with its progress and partial metrics.
  TrainState mid_epoch_state(int64_t epoch, const EpochProgress& progress, double lr) const;
  // The counters the trainer itself owns (epoch, steps, seed, loader position).
  std::map<std::string, int64_t> trainer_counters() const;
  std::map<std::string, std::string> hparams() const;
  void record_sources(const BatchSource& train, const BatchSource* validation, const BatchSource* test);
  // Data parallelism (trainer_data_parallel.cc): rank 0's state onto every rank, and each rank's
  // environment into distributed/* (called first in fit).
  void sync_from_rank0();
  // Sums the gradients of this rank's rows of the batch over the ranks (the reducer got them
  // during backward); returns the whole batch's {loss sum, top-1 hits} from this rank's.
  std::pair<double, int64_t> finish_step(double loss_sum, int64_t correct);
  // Averages non-trainable buffers over the ranks (before evaluation and snapshots).
  void average_buffers();
  // Throws when the ranks' parameters differ (they must stay identical).
  void check_ranks_agree(int64_t epoch);
  // The added callbacks, then the progress display.
  template <class Fn>
  void for_each_callback(Fn&& fn);

  Network& network_;
  TrainerOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  std::vector<Callback*> callbacks_;
  std::unique_ptr<ProgressCallback> progress_;
  // Counters owned by callbacks (save_state / load_state), as last saved or restored.
  std::map<std::string, int64_t> callback_counters_;
  std::map<std::string, std::string> extra_hparams_;
  std::map<std::string, std::string> data_provenance_;  // "data/<role>/<key>", set by fit()
  std::map<std::string, std::string> input_hparams_;    // the training source's normalisation and batch size, set by fit()
  std::map<std::string, double> metrics_;
  int64_t epoch_ = 0, global_step_ = 0;
  EpochProgress resume_progress_;   // from a mid-epoch state (load_state); batches 0: none
  int64_t targets_per_sample_ = 1;  // accuracy denominators: T for per-token targets [N,T]
  bool resumed_ = false;
  std::string last_version_;      // the recorder's latest annotation, named when training fails
  Communicator* comm_ = nullptr;  // data parallelism; null: this process alone
  DataParallelOptions data_parallel_;
  std::map<std::string, std::string> rank_environment_;  // "distributed/...", set by sync_from_rank0
  std::unique_ptr<GradientReducer> reducer_;             // during a data-parallel fit
  double metric_sum_seconds_ = 0;                        // this epoch: the per-step loss / accuracy all-reduce
  std::chrono::steady_clock::time_point last_snapshot_;  // the last version or mid-epoch snapshot
};

}  // namespace strata
