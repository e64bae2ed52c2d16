// Builders that produce a GraphSpec: Sequential for chains, GraphBuilder for DAGs (residual
// Add, Concat). Every node gets a hierarchical name; parameters are named "<node>/<leaf>".
// build() validates everything once (unknown inputs, cycles, duplicate names, shapes) and
// throws strata::Error naming the node, so no shape check is needed at training time.
#pragma once

#include <string>
#include <map>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata {

struct Conv2dOptions {
  Conv2dOptions(int64_t out_channels, int64_t kernel) : out_channels_(out_channels), kernel_(kernel) {}
  STRATA_ARG(int64_t, out_channels) = 0;
  STRATA_ARG(int64_t, kernel) = 3;
  STRATA_ARG(int64_t, stride) = 1;
  STRATA_ARG(int64_t, padding) = 0;
  STRATA_ARG(int64_t, dilation) = 1;
  STRATA_ARG(bool, bias) = true;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(Shape input_shape, std::string input_name = "input");

  const std::string& input() const { return spec_.input_name; }

  // Each returns the new node's name, to be used as another node's input. Names may contain
  // '/' scopes ("block1/conv"); a name set by scope() is prefixed automatically.
  std::string linear(const std::string& name, const std::string& x, int64_t out_features, bool bias = true);
  std::string conv2d(const std::string& name, const std::string& x, const Conv2dOptions& options);
  std::string max_pool2d(const std::string& name, const std::string& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  std::string avg_pool2d(const std::string& name, const std::string& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  std::string global_avg_pool(const std::string& name, const std::string& x);
  std::string batch_norm(const std::string& name, const std::string& x, double eps = 1e-5, double momentum = 0.1);
  std::string relu(const std::string& name, const std::string& x);
  std::string leaky_relu(const std::string& name, const std::string& x, double slope = 0.01);
  std::string sigmoid(const std::string& name, const std::string& x);
  std::string tanh(const std::string& name, const std::string& x);
  std::string gelu(const std::string& name, const std::string& x);
  std::string activation(const std::string& kind, const std::string& name, const std::string& x);
  std::string dropout(const std::string& name, const std::string& x, double p);
  std::string flatten(const std::string& name, const std::string& x);
  std::string add(const std::string& name, const std::string& a, const std::string& b);
  std::string concat(const std::string& name, const std::vector<std::string>& xs);
  std::string softmax(const std::string& name, const std::string& x);
  // Any node, for ops added later; attributes as in NodeSpec.
  std::string node(NodeSpec spec);

  // Prefix for the names of nodes added next ("" to clear): scope("block1") then conv2d("conv")
  // names the node "block1/conv".
  void set_scope(const std::string& scope) { scope_ = scope; }

  GraphSpec build(const std::string& output) const;

 private:
  std::string add_node(NodeSpec spec);
  GraphSpec spec_;
  std::string scope_;
};

// A chain of layers with automatic names: linear -> "fc1", "fc2"; conv2d -> "conv1"; relu ->
// "relu1"; ...
class Sequential {
 public:
  explicit Sequential(Shape input_shape);
  Sequential& linear(int64_t out_features, bool bias = true);
  Sequential& conv2d(const Conv2dOptions& options);
  Sequential& max_pool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Sequential& avg_pool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Sequential& global_avg_pool();
  Sequential& batch_norm(double eps = 1e-5, double momentum = 0.1);
  Sequential& activation(const std::string& kind);  // relu, leaky_relu, sigmoid, tanh, gelu
  Sequential& relu() { return activation("relu"); }
  Sequential& dropout(double p);
  Sequential& flatten();
  Sequential& softmax();
  GraphSpec build() const { return builder_.build(last_); }

 private:
  std::string next_name(const std::string& stem);
  GraphBuilder builder_;
  std::string last_;
  std::map<std::string, int> counts_;
};

}  // namespace strata
