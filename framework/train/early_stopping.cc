#include "strata/framework/train/early_stopping.h"

#include <cmath>

#include "strata/framework/core/error.h"

namespace strata {
namespace {

// The best value is kept as its exact bits: a resumed run compares against the same value.
const char* const kBestKey = "early_stopping/best_bits";
const char* const kWaitKey = "early_stopping/wait";

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  if (options_.patience() < 1) throw_invalid("early stopping patience must be >= 1, got " + std::to_string(options_.patience()));
  if (!(options_.min_delta() >= 0)) throw_invalid("early stopping min_delta must be >= 0");
  load_state({});
}

void EarlyStopping::on_epoch_metrics(EpochMetricsInfo& info) {
  auto it = info.metrics.find(options_.monitor());
  if (it == info.metrics.end())
    throw Error(
        ErrorCode::kInvalidArgument,
        "early stopping watches '" + options_.monitor() + "', which epoch " + std::to_string(info.epoch) + " did not produce",
        "EarlyStopping", "pass validation data to fit(), or monitor a metric the run has");
  const double v = it->second;
  const bool improved = options_.higher_is_better() ? v > best_ + options_.min_delta() : v < best_ - options_.min_delta();
  if (improved) {
    best_ = v;
    wait_ = 0;
    return;
  }
  if (++wait_ >= options_.patience()) {
    info.stop = true;
    info.stop_reason = "early stopping: " + options_.monitor() + " has not improved for " + std::to_string(wait_) + " epochs";
  }
}

void EarlyStopping::save_state(std::map<std::string, int64_t>& counters) const {
  counters[kBestKey] = double_to_counter(best_);
  counters[kWaitKey] = wait_;
}

void EarlyStopping::load_state(const std::map<std::string, int64_t>& counters) {
  auto best = counters.find(kBestKey), wait = counters.find(kWaitKey);
  best_ = best != counters.end() ? counter_to_double(best->second) : (options_.higher_is_better() ? -INFINITY : INFINITY);
  wait_ = wait != counters.end() ? wait->second : 0;
}

}  // namespace strata
