// EarlyStopping: the callback that ends fit() when a validation metric has stopped improving
// (Keras EarlyStopping). Its state, the best value so far and the epochs since, is saved in every
// version (counters "early_stopping/best_bits", the IEEE-754 bits of the best value, and
// "early_stopping/wait"), so a resumed run stops at the same epoch as an uninterrupted one.
//
// Not thread-safe; the Trainer calls it from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "strata/framework/core/options.h"
#include "strata/framework/train/callback.h"

namespace strata {

struct EarlyStoppingOptions {
  // Stop after this many epochs without improvement (>= 1).
  STRATA_ARG(int64_t, patience) = 5;
  // The metric watched (a TrainState::metrics key) and its direction.
  STRATA_ARG(std::string, monitor) = "val/loss";
  STRATA_ARG(bool, higher_is_better) = false;
  // An improvement must beat the best value by more than this.
  STRATA_ARG(double, min_delta) = 0;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});

  void on_epoch_metrics(EpochMetricsInfo& info) override;
  void save_state(std::map<std::string, int64_t>& counters) const override;
  void load_state(const std::map<std::string, int64_t>& counters) override;

  double best() const { return best_; }   // +-inf before the first epoch
  int64_t wait() const { return wait_; }  // epochs since the best one

 private:
  EarlyStoppingOptions options_;
  double best_;
  int64_t wait_ = 0;
};

}  // namespace strata
