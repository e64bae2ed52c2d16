// ProgressCallback: the Trainer's display. With Progress::kBar it redraws one line on stderr
// during an epoch (bar, loss, samples/s, ETA); it prints one line per epoch on stdout (losses,
// validation metrics, time, throughput, and the version the recorder committed), and the reason
// when a callback stopped the fit early.
//
// The Trainer owns one (unless Progress::kQuiet) and runs it after every added callback, so the
// epoch line sees their annotations. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "strata/framework/train/callback.h"

namespace strata {

enum class Progress { kAuto, kBar, kLines, kQuiet };

class ProgressCallback : public Callback {
 public:
  // kAuto: a bar when stderr is a terminal, plain lines otherwise.
  explicit ProgressCallback(Progress mode);

  void on_fit_begin(const FitBeginInfo& info) override;
  void on_epoch_begin(int64_t epoch) override;
  void on_batch_end(const BatchEndInfo& info) override;
  void on_epoch_end(EpochEndInfo& info) override;
  void on_mid_epoch_snapshot(EpochEndInfo& info) override;
  void on_fit_end(bool failed) override;

 private:
  Progress mode_;
  int64_t target_epochs_ = 0;
  int64_t samples_ = 0;
  double loss_sum_ = 0;
  std::chrono::steady_clock::time_point epoch_start_;
};

}  // namespace strata
