// Diff of two versions (docs/design.md "Diff"): per tensor the mean absolute difference D, max |a-b|,
// relative L2 change and cosine similarity (changed when D > eps), shape changes, the graph diff,
// metric deltas (B - A) and hyper-parameter changes. `strata diff` prints what diff_versions
// returns.
//
// Free functions; diff_versions reads through the log's const methods (thread-safe as those are).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/train/train_state.h"
#include "strata/versioning/version_log.h"

namespace strata::versioning {

struct TensorDiff {
  std::string name;
  std::string status;  // "changed", "same", "added", "removed", "reshaped"
  double mean_abs = 0, max_abs = 0, rel_l2 = 0, cosine = 1;
  Shape shape_a, shape_b;
};

struct GraphDiff {
  std::vector<std::string> added, removed;  // "name (op)"
  std::vector<std::string> changed;         // "name: what changed"
};

struct VersionDiff {
  CommitId a{}, b{};
  double eps = 0;
  std::string graph_a, graph_b;     // graph ids
  std::vector<TensorDiff> tensors;  // structural changes first, then by mean_abs, largest first
  GraphDiff graph;                  // empty when the graph ids are equal
  // Every metric of either version: (a, b), NaN where one lacks it.
  std::map<std::string, std::pair<double, double>> metrics;
  // Hyper-parameters that differ: (a, b), "" where unset.
  std::map<std::string, std::pair<std::string, std::string>> hparams;
  // Data the versions were trained on that differs, per role ("train", "val", "test"): the
  // fingerprints (a, b; "" where not recorded), and the sources and preprocessing when they differ.
  struct DataChange {
    std::string fingerprint_a, fingerprint_b, source_a, source_b, preprocess_a, preprocess_b;
  };
  std::map<std::string, DataChange> data;
  // Environment entries that differ (threads, isa, strata, onednn, host, ...), data/* excluded.
  std::map<std::string, std::pair<std::string, std::string>> environment;

  size_t changed_tensors() const;
};

// Parameters of A against those of B (by name; A's order decides nothing: see TensorDiff order).
std::vector<TensorDiff> diff_tensors(const NamedTensors& a, const NamedTensors& b, double eps);
GraphDiff diff_graphs(const GraphSpec& a, const GraphSpec& b);
// The whole diff of two versions, named as VersionLog::resolve accepts (kNotFound otherwise).
VersionDiff diff_versions(const VersionLog& log, const std::string& a, const std::string& b, double eps);

}  // namespace strata::versioning
