#include "strata/framework/nn/internal/value_lifetimes.h"

#include <algorithm>

#include "strata/framework/graph/op_schema.h"

namespace strata::planning {

ValueGraph::ValueGraph(const GraphSpec& s) : spec(s) {
  const size_t n = spec.nodes.size();
  first_value.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    index_.emplace_back(spec.nodes[i].name, i);
    first_value[i + 1] = first_value[i] + spec.nodes[i].num_outputs();
    for (int k = 0; k < spec.nodes[i].num_outputs(); ++k) producer.push_back(i);
  }
  std::sort(index_.begin(), index_.end());
  num_values = first_value[n] + 1;
  input_slot = num_values - 1;
  consumers.assign(num_values, 0);
  for (const NodeSpec& node : spec.nodes)
    for (const std::string& in : node.inputs) ++consumers[slot_of(in)];
  output = slot_of(spec.output);
}

size_t ValueGraph::slot_of(const std::string& edge) const {
  if (edge == spec.input_name) return input_slot;
  const ValueRef ref = parse_value_ref(edge);
  const auto at = std::lower_bound(index_.begin(), index_.end(), std::make_pair(ref.node, size_t{0}));
  return first_value[at->second] + ref.output;  // the spec is validated: the node exists
}

ReluFusion plan_relu_fusion(const ValueGraph& values, bool enabled) {
  const GraphSpec& spec = values.spec;
  ReluFusion f{std::vector<bool>(values.num_nodes(), false), std::vector<bool>(values.num_nodes(), false)};
  if (!enabled) return f;
  for (size_t j = 0; j < values.num_nodes(); ++j) {
    const NodeSpec& relu = spec.nodes[j];
    if (!op_schema(relu.op, relu.name).is_relu || relu.inputs[0] == spec.input_name) continue;
    const size_t v = values.slot_of(relu.inputs[0]), i = values.producer[v];
    const NodeSpec& p = spec.nodes[i];
    if (op_schema(p.op, p.name).fuses_relu && p.num_outputs() == 1 && values.consumers[v] == 1 && v != values.output)
      f.fuses_relu[i] = f.fused[j] = true;
  }
  return f;
}

std::vector<bool> values_needing_grad(const ValueGraph& values, bool input_grad) {
  std::vector<bool> needs(values.num_values, false);
  needs[values.input_slot] = input_grad && values.spec.input_dtype == DType::kF32;
  for (size_t i = 0; i < values.num_nodes(); ++i) {
    const NodeSpec& n = values.spec.nodes[i];
    bool learns = false;
    for (const ParamSpec& p : n.params) learns = learns || p.trainable;
    for (const std::string& in : n.inputs) learns = learns || needs[values.slot_of(in)];
    for (int k = 0; k < n.num_outputs(); ++k) needs[values.first_value[i] + k] = learns;
  }
  return needs;
}

namespace {

// Per slot: the last forward step that reads it, and the first backward step that writes its
// gradient (its last consumer's backward, which runs first); -1 for none.
struct Reads {
  std::vector<int> last_read, first_grad_write;
};

Reads reads_of(const ValueGraph& values, const Timeline& t) {
  Reads r{std::vector<int>(values.num_values, -1), std::vector<int>(values.num_values, -1)};
  for (size_t j = 0; j < values.num_nodes(); ++j)
    for (const std::string& in : values.spec.nodes[j].inputs) {
      const size_t src = values.slot_of(in);
      if (src == values.input_slot) continue;
      r.last_read[src] = std::max(r.last_read[src], t.forward(j));
      int& w = r.first_grad_write[src];
      w = w < 0 ? t.backward(j) : std::min(w, t.backward(j));
    }
  return r;
}

}  // namespace

ValueLifetimes value_lifetimes(const ValueGraph& values, const ReluFusion& fusion, bool training) {
  const Timeline t{static_cast<int>(values.num_nodes())};
  const Reads reads = reads_of(values, t);
  const size_t out = values.output;
  ValueLifetimes life;
  life.data.resize(values.num_values - 1);
  if (training) life.grad.resize(values.num_values - 1);
  for (size_t v = 0; v + 1 < values.num_values; ++v) {
    const size_t i = values.producer[v];
    if (training) {  // a fused ReLU's output has a gradient buffer of its own
      if (v == out)
        life.grad[v] = Interval{t.user(), t.backward(i)};
      else if (reads.first_grad_write[v] >= 0)
        life.grad[v] = Interval{reads.first_grad_write[v], t.backward(i)};
    }
    if (fusion.fused[i]) continue;  // its data is its producer's buffer
    int end = reads.last_read[v];
    // A fused producer's buffer is also its ReLU's output: alive until the ReLU's output is.
    for (size_t j = 0; fusion.fuses_relu[i] && j < values.num_nodes(); ++j)
      if (fusion.fused[j] && values.slot_of(values.spec.nodes[j].inputs[0]) == v) {
        const size_t relu_out = values.first_value[j];
        end = std::max(end, relu_out == out ? Timeline::kKept : reads.last_read[relu_out]);
      }
    if (training || v == out) end = Timeline::kKept;
    life.data[v] = Interval{t.forward(i), std::max(end, t.forward(i))};
  }
  return life;
}

}  // namespace strata::planning
