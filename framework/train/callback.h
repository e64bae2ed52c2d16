// Trainer callbacks (caffe Solver::Callback style). The version-log recorder (versioning/) and
// the TensorBoard writer (framework/summary) are callbacks; framework/ never includes versioning/.
//
// Order: callbacks run in the order they were added. A callback that sets an annotation (the
// recorder sets "version", "branch", "message") makes it visible to the callbacks after it and
// to the epoch summary line.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "framework/train/train_state.h"

namespace strata {

struct FitBeginInfo {
  int64_t start_epoch = 0;        // completed epochs before this fit() (0 for a fresh run)
  int64_t target_epochs = 0;      // train until this epoch (Keras "epochs")
  int64_t global_step = 0;        // steps completed before this fit()
  bool resumed = false;           // state was loaded from a snapshot
  // State at fit begin (graph, hparams, counters); its tensors are views, as in EpochEndInfo.
  const TrainState* state = nullptr;
};

struct EpochEndInfo {
  // After the epoch: params, optimizer slots, counters, metrics. The tensors share storage with
  // the live network and optimizer (as the gradients do): clone() what must outlive the call.
  const TrainState& state;
  const NamedTensors& gradients;  // gradients of the last step, one per trainable parameter
  std::map<std::string, std::string>& annotations;  // "version", "branch", "message", ...
};

struct BatchEndInfo {
  int64_t epoch = 0;              // 1-based epoch being trained
  int64_t batch = 0;              // 0-based batch index within the epoch
  int64_t global_step = 0;        // steps completed including this one
  double loss = 0;
  double lr = 0;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_fit_begin(const FitBeginInfo&) {}
  virtual void on_epoch_begin(int64_t /*epoch*/) {}
  virtual void on_batch_end(const BatchEndInfo&) {}
  virtual void on_epoch_end(EpochEndInfo&) {}
  // Called on normal return and when fit() stops with an error (failed = true). A recorder
  // must make every snapshot durable here before fit() returns.
  virtual void on_fit_end(bool /*failed*/) {}
};

}  // namespace strata
