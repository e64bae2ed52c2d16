// Predictor: serves one version of a log from C++ without the training machinery
// (DESIGN "Library, run API and deployment"; `strata predict` uses it).
//
//   versioning::Predictor p("runs/x", "main@7");   // or "main", a tag, an id prefix
//   Tensor probs = p.predict_proba(images);        // images f32 [N, 1, 28, 28] in [0, 1]
//
// The constructor opens the log read-only (no writer lock: it works while a training run
// writes the log), reads the version's graph and parameters, closes the log again, and builds
// an eval-mode network; a plan is compiled once per batch size. When the version recorded how
// its inputs were normalised (hparams "input/mean" and "input/std", one value or one per
// channel, as the examples record them), predict() applies it, so inputs are given as the
// dataset stores them ([0, 1] pixels), unless PredictorOptions::normalize_input is off.
//
// Not thread-safe: one Predictor per thread (each has its own network and buffers).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/core/tensor.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/versioning/ids.h"

namespace strata {
class Network;
}

namespace strata::versioning {

struct PredictorOptions {
  STRATA_ARG(bool, normalize_input) = true;  // apply the version's recorded input normalisation
};

class Predictor {
 public:
  Predictor(const std::string& log_dir, const std::string& version, PredictorOptions options = {});
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;

  const CommitId& version() const { return id_; }
  const std::string& name() const { return name_; }  // "1a2b3c4d (main@7)"
  const GraphSpec& graph() const { return graph_; }
  const std::map<std::string, double>& metrics() const { return metrics_; }  // as recorded
  const std::vector<float>& input_mean() const { return mean_; }  // empty: none recorded / off
  const std::vector<float>& input_std() const { return std_; }

  // x: f32 [N, input_shape...] (kInvalidArgument naming both shapes otherwise). Returns the
  // graph's output [N, ...], e.g. a classifier's logits; valid until the next call.
  const Tensor& predict(const Tensor& x);
  // Softmax of predict() over the last axis: class probabilities, rows summing to 1.
  Tensor predict_proba(const Tensor& x);

 private:
  CommitId id_{};
  std::string name_;
  GraphSpec graph_;
  std::map<std::string, double> metrics_;
  std::vector<float> mean_, std_;
  std::unique_ptr<Network> net_;
  Tensor normalized_;
};

}  // namespace strata::versioning
