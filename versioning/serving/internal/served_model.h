// A served model: the version a ref points to, the versions loaded before it (kept for an
// instant rollback), its status and its window of recent inputs for drift (docs/serving.md).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "strata/framework/metrics/input_stats.h"
#include "strata/versioning/run/predictor.h"
#include "strata/versioning/serving/internal/inference_codec.h"

namespace strata::versioning::serving {

// One version loaded for serving: a warmed-up Predictor per inference worker (a Predictor is
// not thread-safe; worker i only ever uses predictors[i]) and what the status reports of it.
struct LoadedVersion {
  std::string id;    // full hex id
  std::string name;  // "1a2b3c4d (main@7)"
  Signature signature;
  std::vector<std::unique_ptr<Predictor>> predictors;
  std::vector<std::string> warnings;  // Predictor::warnings()
  std::vector<std::string> parents;   // full hex ids
  std::string data_fingerprint;       // of the training data, "" when unknown
  double loaded_at = 0;               // Unix seconds
  double load_seconds = 0;
};

// Opens the log read-only, builds `workers` Predictors of the version and runs each once on a
// zero sample, so the first request does not pay for plan compilation. Throws strata::Error.
std::shared_ptr<LoadedVersion> load_version(const std::string& log_dir, const std::string& version, int workers);

class ServedModel {
 public:
  ServedModel(std::string ref, std::shared_ptr<LoadedVersion> initial, int keep_versions, int64_t drift_window);

  const std::string& ref() const { return ref_; }
  std::shared_ptr<LoadedVersion> current() const;
  // The current or a kept version with this full id; nullptr when it is not loaded.
  std::shared_ptr<LoadedVersion> find(const std::string& id) const;

  // Makes `next` current (requests already holding the old one finish on it); the old one
  // joins the kept versions. Refuses (returns the reason) a version of another signature.
  std::string swap(std::shared_ptr<LoadedVersion> next);
  // Keeps a version loaded for pinned requests without serving it by default.
  void keep(std::shared_ptr<LoadedVersion> version);
  // The last reload's failure ("" clears it); `failed_id`: the version that failed, which the
  // poller does not try again until the ref points elsewhere.
  void set_load_error(const std::string& error, const std::string& failed_id = "");
  std::string failed_id() const;
  void set_checked(double unix_seconds);
  void set_draining(bool draining);

  // Appends the drift features of a request's inputs to the window (oldest dropped).
  void record_inputs(const Tensor& x);
  DriftReport drift(const DriftThresholds& thresholds = {}) const;
  // The /v2/models/<ref>/status body.
  std::string status_json() const;

 private:
  void keep_locked(std::shared_ptr<LoadedVersion> version);

  const std::string ref_;
  const int keep_versions_;
  const int64_t drift_window_;
  mutable std::mutex mu_;
  std::shared_ptr<LoadedVersion> current_;
  std::deque<std::shared_ptr<LoadedVersion>> kept_;  // most recent first, current excluded
  std::string previous_id_, last_load_error_, failed_id_;
  double last_checked_ = 0;
  bool draining_ = false;

  mutable std::mutex window_mu_;
  std::vector<std::string> feature_names_;
  std::vector<float> window_;  // ring of drift_window_ rows
  int64_t window_rows_ = 0, window_next_ = 0;
};

double unix_now();

}  // namespace strata::versioning::serving
