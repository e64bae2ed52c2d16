// Trainer: the training loop (fit / evaluate) over a Network, with an optimizer, a learning-rate
// schedule, a loss, per-epoch metrics, a progress display and callbacks.
//
// The whole state needed to continue (parameters, optimizer slots, counters, metrics,
// hyper-parameters, graph) is exposed as a TrainState (state()) and accepted back
// (load_state()); the version log in versioning/ snapshots and restores it through callbacks.
// `epochs` means "train until epoch N" (Keras's epochs with initial_epoch), so a resumed fit()
// with the same N ends exactly where the uninterrupted run would.
// Not thread-safe; one thread drives a Trainer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/loss/loss.h"
#include "framework/metrics/metrics.h"
#include "framework/nn/network.h"
#include "framework/optim/optimizer.h"
#include "framework/train/batch_source.h"
#include "framework/train/callback.h"

namespace strata {

enum class Progress { kAuto, kBar, kLines, kQuiet };

struct TrainerOptions {
  uint64_t seed = 0;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  std::string loss = "softmax_cross_entropy";
  LossOptions loss_options;
  int64_t early_stopping_patience = 0;  // epochs without val/loss improvement (0 = off)
  Progress progress = Progress::kAuto;  // kAuto: a bar on a terminal, plain lines otherwise
  std::vector<std::string> class_names; // for the confusion matrix printout

  TrainerOptions& seed_(uint64_t v) { seed = v; return *this; }
  TrainerOptions& optimizer_(OptimizerOptions v) { optimizer = std::move(v); return *this; }
  TrainerOptions& schedule_(ScheduleOptions v) { schedule = std::move(v); return *this; }
  TrainerOptions& loss_(std::string v, LossOptions o = {}) { loss = std::move(v); loss_options = o; return *this; }
  TrainerOptions& early_stopping_(int64_t patience) { early_stopping_patience = patience; return *this; }
  TrainerOptions& progress_(Progress v) { progress = v; return *this; }
};

struct EvalResult {
  double loss = 0;
  ConfusionMatrix confusion;      // classification
  RegressionMetrics regression;   // regression losses
  bool classification = false;
  int64_t samples = 0;
  double seconds = 0;
};

struct FitResult {
  int64_t epochs_completed = 0;   // the epoch counter at the end (including resumed ones)
  bool stopped_early = false;
  std::map<std::string, double> last_metrics;
};

class Trainer {
 public:
  // The network must outlive the trainer. Parameters are initialised from options.seed unless
  // load_state() is called before fit().
  Trainer(Network& network, TrainerOptions options);
  ~Trainer();

  // Not owned; called in the order added.
  void add_callback(Callback* callback) { callbacks_.push_back(callback); }
  // Extra hyper-parameters recorded with every version ("model", "batch_size", ...).
  void set_hparam(const std::string& key, const std::string& value) { extra_hparams_[key] = value; }

  FitResult fit(BatchSource& train, BatchSource* validation, int64_t epochs);
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
  // Everything needed to continue; deep_copy false: tensors are views of the live ones.
  TrainState current_state(bool deep_copy) const;
  std::map<std::string, std::string> hparams() const;
  void print_epoch_line(int64_t epoch, int64_t target, const std::map<std::string, std::string>& notes) const;

  Network& network_;
  TrainerOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  std::vector<Callback*> callbacks_;
  std::map<std::string, std::string> extra_hparams_;
  std::map<std::string, double> metrics_;
  int64_t epoch_ = 0, global_step_ = 0;
  bool resumed_ = false;
  std::string last_version_;  // the recorder's latest annotation, named when training fails
};

}  // namespace strata
