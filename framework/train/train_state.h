// TrainState: everything needed to continue a training run, as named tensors and counters.
//
// The Trainer exposes its state this way so that versioning/ can snapshot and restore it
// without framework/ knowing about the version log (docs/design.md "Layers and data flow").
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// A double kept in an integer counter bit for bit (callbacks' and the trainer's running sums, so
// that a resume restores them exactly).
inline int64_t double_to_counter(double v) {
  int64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
inline double counter_to_double(int64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

struct TrainState {
  GraphSpec graph;
  // Parameters and buffers by full name ("fc1/weight", "bn1/running_mean"), canonical layout.
  NamedTensors params;
  // Optimizer slots, named "optim/<param>/<slot>" ("optim/fc1/weight/m").
  NamedTensors optim;
  // Integer state: "epoch" (completed epochs), "global_step", "seed", "loader/epoch",
  // "loader/batch", "optim/step", ... Everything the RNG streams and schedules are keyed by.
  std::map<std::string, int64_t> counters;
  // Metrics of the epoch just finished: "train/loss", "val/loss", "val/accuracy",
  // "val/precision", "val/recall", "val/f1", "time/epoch_s", "throughput/samples_per_s", "lr".
  std::map<std::string, double> metrics;
  // Hyper-parameters as text ("optimizer" -> "adam", "lr" -> "0.001", "batch_size" -> "128").
  std::map<std::string, std::string> hparams;
  // How the state was made: {"strata": "0.2.0", "onednn": "2.6.3"} (runtime_environment()).
  std::map<std::string, std::string> environment;

  int64_t epoch() const {
    auto it = counters.find("epoch");
    return it == counters.end() ? 0 : it->second;
  }
  int64_t global_step() const {
    auto it = counters.find("global_step");
    return it == counters.end() ? 0 : it->second;
  }
};

}  // namespace strata
