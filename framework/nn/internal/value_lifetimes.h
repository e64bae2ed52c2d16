// The values of a graph and when each one is alive in a step: the bookkeeping half of Network's
// planning, pure over GraphSpec (no oneDNN), so tests check it on its own. Internal to framework/.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/graph/graph_spec.h"

namespace strata::planning {

// Every output of every node ("node:k"), then the graph input, as dense slots.
struct ValueGraph {
  explicit ValueGraph(const GraphSpec& spec);
  // The slot an edge ("node", "node:k" or the input's name) reads.
  size_t slot_of(const std::string& edge) const;
  size_t num_nodes() const { return first_value.size() - 1; }

  const GraphSpec& spec;
  std::vector<size_t> first_value;  // node i's output k is slot first_value[i] + k; [num_nodes] = the input
  std::vector<size_t> producer;     // per slot but the input
  std::vector<int> consumers;       // per slot: how many node inputs read it
  size_t num_values = 0, input_slot = 0, output = 0;

 private:
  std::vector<std::pair<std::string, size_t>> index_;  // node name -> node, sorted by name
};

// A ReLU fused into its producer (OpSchema::fuses_relu, is_relu) when it is the producer's only
// consumer and its input is not the graph output. Per node.
struct ReluFusion {
  std::vector<bool> fuses_relu;  // this node applies the ReLU that follows it
  std::vector<bool> fused;       // this ReLU is done by its producer; its output is the producer's buffer
};
ReluFusion plan_relu_fusion(const ValueGraph& values, bool enabled);

// Per slot: does anything upstream learn, so that a gradient flowing into this value is read?
// True where a node at or before the producer has a trainable parameter, and for the graph input
// when `input_grad`; never for an integer input.
std::vector<bool> values_needing_grad(const ValueGraph& values, bool input_grad);

// A training step's timeline: node i's forward at i, the caller writes the output gradient at
// n, node i's backward at 2n - i.
struct Timeline {
  static constexpr int kKept = 1 << 30;  // live until the next step (or for good)
  int n = 0;
  int forward(size_t i) const { return static_cast<int>(i); }
  int user() const { return n; }
  int backward(size_t i) const { return 2 * n - static_cast<int>(i); }
};

struct Interval {
  int first = 0, last = 0;
  bool operator==(const Interval& o) const { return first == o.first && last == o.last; }
};

// When each node output's data and gradient are alive. Activations stay alive for the whole
// training step (backward reads them); in evaluation an activation lives until its last
// consumer has run. data: nullopt for a fused ReLU's output (its producer's buffer). grad
// (training only, else empty): nullopt where nothing writes the gradient (an LSTM's unused
// final state), which then is a zero tensor of its own.
struct ValueLifetimes {
  std::vector<std::optional<Interval>> data, grad;  // per slot but the input
};
ValueLifetimes value_lifetimes(const ValueGraph& values, const ReluFusion& fusion, bool training);

}  // namespace strata::planning
