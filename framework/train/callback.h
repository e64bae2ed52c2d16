// Trainer callbacks (caffe Solver::Callback style). The version-log recorder (versioning/) and
// the TensorBoard writer (framework/summary) are callbacks; framework/ never includes versioning/.
//
// Order: callbacks run in the order they were added; the Trainer's own progress display runs
// after them. A callback that sets an annotation (the recorder sets "version", "branch",
// "message") makes it visible to the callbacks after it and to the epoch summary line.
//
// At the end of an epoch every callback first sees the metrics (on_epoch_metrics: early
// stopping decides there), then saves its state (save_state), and only then is the epoch's
// TrainState built and passed to on_epoch_end (where the recorder snapshots it). So a
// callback's state is part of every version, whatever the order the callbacks were added in.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/framework/train/train_state.h"

namespace strata {

struct FitBeginInfo {
  int64_t start_epoch = 0;    // completed epochs before this fit() (0 for a fresh run)
  int64_t target_epochs = 0;  // train until this epoch (Keras "epochs")
  int64_t global_step = 0;    // steps completed before this fit()
  bool resumed = false;       // state was loaded from a snapshot
  // State at fit begin (graph, hparams, counters); its tensors are views, as in EpochEndInfo.
  const TrainState* state = nullptr;
};

struct EpochEndInfo {
  // After the epoch: params, optimizer slots, counters, metrics. The tensors share storage with
  // the live network and optimizer (as the gradients do): clone() what must outlive the call.
  const TrainState& state;
  const NamedTensors& gradients;                    // gradients of the last step, one per trainable parameter
  std::map<std::string, std::string>& annotations;  // "version", "branch", "message", ...
};

struct BatchEndInfo {
  int64_t epoch = 0;        // 1-based epoch being trained
  int64_t batch = 0;        // 0-based batch index within the epoch
  int64_t global_step = 0;  // steps completed including this one
  double loss = 0;
  double lr = 0;
  int64_t batches_in_epoch = 0;  // batches of the whole epoch
  int64_t samples = 0;           // samples in this batch
};

struct EpochMetricsInfo {
  int64_t epoch = 0;                             // 1-based epoch just trained (and validated)
  const std::map<std::string, double>& metrics;  // as in TrainState::metrics
  bool stop = false;                             // set: fit() ends after this epoch
  std::string stop_reason;                       // printed and annotated as "stop"
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_fit_begin(const FitBeginInfo&) {}
  virtual void on_epoch_begin(int64_t /*epoch*/) {}
  virtual void on_batch_end(const BatchEndInfo&) {}
  virtual void on_epoch_metrics(EpochMetricsInfo&) {}
  virtual void on_epoch_end(EpochEndInfo&) {}
  // A mid-epoch snapshot point (TrainerOptions::snapshot_every_steps / _minutes), between two
  // steps: the state resumes exactly from here (its counters say how far into the epoch:
  // "loader/batch", and the "partial/..." sums of the epoch's training metrics); its metrics
  // describe the epoch so far. The recorder commits it; per-epoch writers ignore it.
  virtual void on_mid_epoch_snapshot(EpochEndInfo&) {}
  // State that must survive a resume (early stopping's best value and patience counter), as
  // counters under the callback's own prefix. save_state writes it before every epoch-end
  // snapshot (it lands in TrainState::counters); load_state gets it back at every fit begin,
  // from a restored TrainState or from this trainer's last save (empty map: a fresh run).
  virtual void save_state(std::map<std::string, int64_t>& /*counters*/) const {}
  virtual void load_state(const std::map<std::string, int64_t>& /*counters*/) {}
  // Called on normal return and when fit() stops with an error (failed = true). A recorder
  // must make every snapshot durable here before fit() returns.
  virtual void on_fit_end(bool /*failed*/) {}
  // After every callback's on_fit_end(false) (so the recorder's last version is durable): what
  // became known only then, as annotations ("snapshot/bytes" of the last commit and
  // "snapshot/bytes_step"), for the callbacks after the one that set it (the TensorBoard writer).
  virtual void on_fit_done(std::map<std::string, std::string>& /*annotations*/) {}
};

}  // namespace strata
