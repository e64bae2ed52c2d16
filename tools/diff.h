// `strata diff A B`: what changed between two versions (DESIGN "Diff"): per tensor the mean
// absolute difference D, max |a-b|, relative L2 change and cosine similarity (changed when
// D > eps), shape changes, the graph diff, metric deltas (B - A) and hyper-parameter changes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "framework/graph/graph_spec.h"
#include "framework/train/train_state.h"

namespace strata::tools {

struct TensorDiff {
  std::string name;
  std::string status;  // "changed", "same", "added", "removed", "reshaped"
  double mean_abs = 0, max_abs = 0, rel_l2 = 0, cosine = 1;
  Shape shape_a, shape_b;
};

struct GraphDiff {
  std::vector<std::string> added, removed;
  std::vector<std::string> changed;  // "name: what changed"
};

std::vector<TensorDiff> diff_tensors(const NamedTensors& a, const NamedTensors& b, double eps);
GraphDiff diff_graphs(const GraphSpec& a, const GraphSpec& b);

}  // namespace strata::tools
