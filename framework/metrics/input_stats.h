// Input statistics for drift detection (docs/serving.md "Input drift").
//
// At fit() the Trainer summarises the training inputs, as the dataset stores them (before
// normalisation and augmentation), into an InputReference recorded with every version
// (environment "data/train/input_stats"). A server keeps a window of the inputs it was sent and
// compares it with the served version's reference: per feature, an epsilon-smoothed population
// stability index (PSI) over the reference's decile bins and the shift of the mean in reference
// standard deviations.
//
// Features (the same function on both sides, so they always agree):
//   - f32 samples of at most 32 values: each value ("x[3]");
//   - images [C, H, W] with H, W >= 4: "mean" (mean intensity), "std" (intensity spread within
//     the image), "mean[c]" per channel when C > 1, and the mean intensity of each cell of a
//     4x4 grid ("cell[r,c]", over all channels);
//   - any other f32 sample: "mean", "std" and the means of 16 equal segments ("segment[k]").
// Integer inputs (token ids) have no features: their versions serve with drift "unknown".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata {

// Row-major [samples, names.size()] feature values of a batch.
struct DriftFeatures {
  std::vector<std::string> names;
  std::vector<float> values;
  int64_t samples = 0;
};
// x: [N, sample...]. Integer x gives no names (no features).
DriftFeatures drift_features(const Tensor& x);
// Only the feature names for samples of this shape and dtype (no data needed).
std::vector<std::string> drift_feature_names(const Shape& sample_shape, DType dtype);

struct FeatureReference {
  std::string name;
  double mean = 0, std = 0;
  std::vector<double> edges;        // 9 decile edges, ascending (ties allowed)
  std::vector<double> proportions;  // 10 bins: bin k holds edges[k-1] < v <= edges[k]
};

struct InputReference {
  int64_t samples = 0;  // how many training samples the statistics were computed from
  std::vector<FeatureReference> features;

  bool empty() const { return features.empty(); }
  // One line a feature: "<name> <mean> <std> <e1,...,e9> <p1,...,p10>" after a header line
  // "strata-input-stats 1 <samples>"; floats with 9 significant digits.
  std::string to_string() const;
  static InputReference parse(const std::string& text);  // kCorruption on malformed text
};

// Statistics of x's features over at most max_samples samples (evenly spaced when there are
// more, so the reference is deterministic). Empty for integer x or no samples.
InputReference input_reference(const Tensor& x, int64_t max_samples = 20000);

struct DriftThresholds {
  double warn = 0.1;      // PSI at or above it: the feature drifted ("warn")
  double alert = 0.25;    // PSI at or above it: the feature drifted strongly ("alert")
  double share = 0.5;     // the model alerts when at least this share of features alert
  double epsilon = 1e-4;  // added to every bin's proportion before the logarithm
};

struct FeatureDrift {
  std::string name;
  double psi = 0;
  double mean_shift_sigma = 0;  // (window mean - reference mean) / reference std (0 when std is 0)
  std::string status;           // ok | warn | alert
};

struct DriftReport {
  std::string status = "unknown";  // ok | warn | alert | unknown
  std::string reason;              // why "unknown"
  int64_t window = 0;              // samples compared
  double psi_max = 0;
  double drifted_share = 0;            // share of features at warn or alert
  std::vector<FeatureDrift> features;  // most drifted (highest PSI) first
};

// The model-level rule: "alert" when at least thresholds.share of the features alert; "warn"
// when any feature alerts or at least thresholds.share of them warn; else "ok".
// window: row-major [samples, ref.features.size()] feature values (drift_features' order).
DriftReport drift_report(const InputReference& ref, const std::vector<float>& window, int64_t samples,
                         const DriftThresholds& thresholds = {});

}  // namespace strata
