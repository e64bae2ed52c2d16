// Predictor: serves one version of a log from C++ without the training machinery
// (docs/design.md "Library, run API and deployment"; `strata predict` uses it).
//
//   versioning::Predictor p("runs/x", "main@7");   // or "main", a tag, an id prefix
//   Tensor probs = p.predict_proba(images);        // images f32 [N, 1, 28, 28] in [0, 1]
//
// The constructor opens the log read-only (no writer lock: it works while a training run
// writes the log), reads the version's graph and parameters, closes the log again, and builds
// an eval-mode network; a plan is compiled once per batch size.
//
// Input normalisation: predict() takes inputs as the dataset stores them ([0, 1] pixels) and
// applies the normalisation the version was trained with. The Trainer records the training
// DataLoader's normalisation as hparams "input/mean" and "input/std" (one value or one per
// channel). A version made before it did so, whose training data's provenance says
// "normalize mean M std S" but has no such hparams, gets that normalisation with a warning
// (warnings(): the provenance keeps 6 significant digits). A version whose provenance says
// its inputs were normalised in a way the Predictor cannot read is refused
// (kFailedPrecondition) rather than served silently wrong. PredictorOptions::normalize_input
// (false) turns all of this off: the caller then passes inputs normalised as in training.
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
#include "strata/framework/metrics/input_stats.h"
#include "strata/versioning/ids.h"

namespace strata {
class Network;
}

namespace strata::versioning {
struct CommitRecord;

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
  const std::vector<float>& input_mean() const { return mean_; }             // empty: none recorded / off
  const std::vector<float>& input_std() const { return std_; }
  // The graph's per-sample output shape (e.g. {10} for a 10-class classifier).
  const Shape& output_shape() const;
  // The training inputs' statistics (empty when the version recorded none), for drift checks.
  const InputReference& input_statistics() const { return input_stats_; }
  // What a caller should tell the user about how this version is served (empty: nothing).
  const std::vector<std::string>& warnings() const { return warnings_; }

  // x: [N, input_shape...] of the graph's input dtype (f32; i32/i64 token ids for text
  // models), kInvalidArgument naming both shapes and dtypes otherwise, or when an input is not
  // finite after the normalisation (a huge value overflows it). Returns the
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
  InputReference input_stats_;
  std::vector<std::string> warnings_;
  std::unique_ptr<Network> net_;
  Tensor normalized_;
};

}  // namespace strata::versioning
