#include "strata/framework/graph/builder.h"

#include <algorithm>
#include <map>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/ops/op.h"

namespace strata {

GraphBuilder::GraphBuilder(Shape input_shape, std::string input_name) {
  spec_.input_shape = std::move(input_shape);
  spec_.input_name = std::move(input_name);
}

std::string GraphBuilder::add_node(NodeSpec spec) {
  if (!scope_.empty()) spec.name = scope_ + "/" + spec.name;
  std::string name = spec.name;
  spec_.nodes.push_back(std::move(spec));
  return name;
}

std::string GraphBuilder::node(NodeSpec spec) { return add_node(std::move(spec)); }

namespace {
NodeSpec make(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
  NodeSpec n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}
}  // namespace

std::string GraphBuilder::linear(const std::string& name, const std::string& x, int64_t out_features, bool bias) {
  NodeSpec n = make(name, "Linear", {x});
  n.ints["out_features"] = {out_features};
  n.ints["bias"] = {bias ? 1 : 0};
  return add_node(std::move(n));
}

std::string GraphBuilder::conv2d(const std::string& name, const std::string& x, const Conv2dOptions& o) {
  NodeSpec n = make(name, "Conv2d", {x});
  n.ints["out_channels"] = {o.out_channels()};
  n.ints["kernel"] = {o.kernel(), o.kernel()};
  n.ints["stride"] = {o.stride(), o.stride()};
  n.ints["padding"] = {o.padding(), o.padding()};
  n.ints["dilation"] = {o.dilation(), o.dilation()};
  n.ints["bias"] = {o.bias() ? 1 : 0};
  return add_node(std::move(n));
}

static NodeSpec pool(const std::string& name, const std::string& op, const std::string& x, int64_t k,
                     int64_t s, int64_t p) {
  NodeSpec n = make(name, op, {x});
  n.ints["kernel"] = {k, k};
  n.ints["stride"] = {s ? s : k, s ? s : k};
  n.ints["padding"] = {p, p};
  return n;
}

std::string GraphBuilder::max_pool2d(const std::string& name, const std::string& x, int64_t k, int64_t s, int64_t p) {
  return add_node(pool(name, "MaxPool2d", x, k, s, p));
}
std::string GraphBuilder::avg_pool2d(const std::string& name, const std::string& x, int64_t k, int64_t s, int64_t p) {
  return add_node(pool(name, "AvgPool2d", x, k, s, p));
}
std::string GraphBuilder::global_avg_pool(const std::string& name, const std::string& x) {
  return add_node(make(name, "GlobalAvgPool", {x}));
}
std::string GraphBuilder::batch_norm(const std::string& name, const std::string& x, double eps, double momentum) {
  NodeSpec n = make(name, "BatchNorm", {x});
  n.floats["eps"] = eps;
  n.floats["momentum"] = momentum;
  return add_node(std::move(n));
}
std::string GraphBuilder::relu(const std::string& name, const std::string& x) { return add_node(make(name, "ReLU", {x})); }
std::string GraphBuilder::leaky_relu(const std::string& name, const std::string& x, double slope) {
  NodeSpec n = make(name, "LeakyReLU", {x});
  n.floats["slope"] = slope;
  return add_node(std::move(n));
}
std::string GraphBuilder::sigmoid(const std::string& name, const std::string& x) { return add_node(make(name, "Sigmoid", {x})); }
std::string GraphBuilder::tanh(const std::string& name, const std::string& x) { return add_node(make(name, "Tanh", {x})); }
std::string GraphBuilder::gelu(const std::string& name, const std::string& x) { return add_node(make(name, "GELU", {x})); }

std::string GraphBuilder::activation(const std::string& kind, const std::string& name, const std::string& x) {
  if (kind == "relu") return relu(name, x);
  if (kind == "leaky_relu") return leaky_relu(name, x);
  if (kind == "sigmoid") return sigmoid(name, x);
  if (kind == "tanh") return tanh(name, x);
  if (kind == "gelu") return gelu(name, x);
  throw_invalid("unknown activation '" + kind + "'", name, "use relu, leaky_relu, sigmoid, tanh or gelu");
}

std::string GraphBuilder::dropout(const std::string& name, const std::string& x, double p) {
  NodeSpec n = make(name, "Dropout", {x});
  n.floats["p"] = p;
  return add_node(std::move(n));
}
std::string GraphBuilder::flatten(const std::string& name, const std::string& x) { return add_node(make(name, "Flatten", {x})); }
std::string GraphBuilder::add(const std::string& name, const std::string& a, const std::string& b) {
  return add_node(make(name, "Add", {a, b}));
}
std::string GraphBuilder::concat(const std::string& name, const std::vector<std::string>& xs) {
  return add_node(make(name, "Concat", xs));
}
std::string GraphBuilder::softmax(const std::string& name, const std::string& x) { return add_node(make(name, "Softmax", {x})); }

GraphSpec GraphBuilder::build(const std::string& output) const {
  GraphSpec g;
  g.input_name = spec_.input_name;
  g.input_shape = spec_.input_shape;
  g.output = output;
  if (spec_.input_shape.empty() || shape_numel(spec_.input_shape) <= 0)
    throw_invalid("graph input shape " + shape_str(spec_.input_shape) + " must be non-empty and positive");

  std::map<std::string, const NodeSpec*> by_name;
  for (const NodeSpec& n : spec_.nodes) {
    if (n.name.empty() || n.name == spec_.input_name)
      throw_invalid("node name '" + n.name + "' is empty or equals the input name");
    if (!by_name.emplace(n.name, &n).second) throw_invalid("duplicate node name '" + n.name + "'");
  }
  for (const NodeSpec& n : spec_.nodes) {
    const OpDef& def = op_def(n.op, n.name);
    int count = static_cast<int>(n.inputs.size());
    if (count < def.min_inputs || (def.max_inputs >= 0 && count > def.max_inputs))
      throw_invalid(n.op + "(" + n.name + "): takes " + std::to_string(def.min_inputs) +
                    (def.max_inputs == def.min_inputs ? "" : "+") + " inputs, got " + std::to_string(count));
    for (const std::string& in : n.inputs)
      if (in != spec_.input_name && !by_name.count(in))
        throw_invalid(n.op + "(" + n.name + "): unknown input node '" + in + "'", "",
                      "inputs must name nodes of this graph or '" + spec_.input_name + "'");
  }
  if (!by_name.count(output)) throw_invalid("unknown output node '" + output + "'");

  // Topological order (Kahn), stable with respect to insertion order; leftovers form a cycle.
  std::map<std::string, int> pending;
  for (const NodeSpec& n : spec_.nodes) {
    int deps = 0;
    for (const std::string& in : n.inputs) deps += in != spec_.input_name;
    pending[n.name] = deps;
  }
  std::set<std::string> done;
  std::map<std::string, Shape> shapes = {{spec_.input_name, spec_.input_shape}};
  while (g.nodes.size() < spec_.nodes.size()) {
    bool progressed = false;
    for (const NodeSpec& n : spec_.nodes) {
      if (done.count(n.name)) continue;
      bool ready = std::all_of(n.inputs.begin(), n.inputs.end(),
                               [&](const std::string& in) { return in == spec_.input_name || done.count(in); });
      if (!ready) continue;
      NodeSpec out = n;
      ShapeList in_shapes;
      for (const std::string& in : n.inputs) in_shapes.push_back(shapes.at(in));
      const OpDef& def = op_def(n.op, n.name);
      out.output_shape = def.infer(n, in_shapes);
      out.params = def.params(n, in_shapes);
      shapes[n.name] = out.output_shape;
      done.insert(n.name);
      g.nodes.push_back(std::move(out));
      progressed = true;
    }
    if (!progressed) {
      std::string cycle;
      for (const NodeSpec& n : spec_.nodes)
        if (!done.count(n.name)) cycle += (cycle.empty() ? "" : ", ") + n.name;
      throw_invalid("the graph has a cycle through nodes: " + cycle);
    }
  }
  return g;
}

Sequential::Sequential(Shape input_shape) : builder_(std::move(input_shape)) { last_ = builder_.input(); }

std::string Sequential::next_name(const std::string& stem) { return stem + std::to_string(++counts_[stem]); }

Sequential& Sequential::linear(int64_t out, bool bias) { last_ = builder_.linear(next_name("fc"), last_, out, bias); return *this; }
Sequential& Sequential::conv2d(const Conv2dOptions& o) { last_ = builder_.conv2d(next_name("conv"), last_, o); return *this; }
Sequential& Sequential::max_pool2d(int64_t k, int64_t s, int64_t p) { last_ = builder_.max_pool2d(next_name("pool"), last_, k, s, p); return *this; }
Sequential& Sequential::avg_pool2d(int64_t k, int64_t s, int64_t p) { last_ = builder_.avg_pool2d(next_name("avgpool"), last_, k, s, p); return *this; }
Sequential& Sequential::global_avg_pool() { last_ = builder_.global_avg_pool(next_name("gap"), last_); return *this; }
Sequential& Sequential::batch_norm(double eps, double m) { last_ = builder_.batch_norm(next_name("bn"), last_, eps, m); return *this; }
Sequential& Sequential::activation(const std::string& kind) { last_ = builder_.activation(kind, next_name(kind), last_); return *this; }
Sequential& Sequential::dropout(double p) { last_ = builder_.dropout(next_name("dropout"), last_, p); return *this; }
Sequential& Sequential::flatten() { last_ = builder_.flatten(next_name("flatten"), last_); return *this; }
Sequential& Sequential::softmax() { last_ = builder_.softmax(next_name("softmax"), last_); return *this; }

}  // namespace strata
