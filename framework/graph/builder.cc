#include "strata/framework/graph/builder.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/op_schema.h"

namespace strata {

GraphBuilder::GraphBuilder(Shape input_shape, std::string input_name, DType input_dtype) {
  register_builtin_op_schemas();
  spec_.input_shape = std::move(input_shape);
  spec_.input_name = std::move(input_name);
  spec_.input_dtype = input_dtype;
}

Value GraphBuilder::add_node(NodeSpec spec) {
  if (!scope_.empty()) spec.name = scope_ + "/" + spec.name;
  Value out(spec.name);
  spec_.nodes.push_back(std::move(spec));
  return out;
}

Value GraphBuilder::node(NodeSpec spec) { return add_node(std::move(spec)); }

namespace {
NodeSpec make(const std::string& name, const std::string& op, const std::vector<Value>& inputs) {
  NodeSpec n;
  n.name = name;
  n.op = op;
  for (const Value& v : inputs) n.inputs.push_back(v.ref());
  return n;
}
}  // namespace

Value GraphBuilder::linear(const std::string& name, const Value& x, int64_t out_features, bool bias) {
  NodeSpec n = make(name, "Linear", {x});
  n.ints["out_features"] = {out_features};
  n.ints["bias"] = {bias ? 1 : 0};
  return add_node(std::move(n));
}

Value GraphBuilder::conv2d(const std::string& name, const Value& x, const Conv2dOptions& o) {
  NodeSpec n = make(name, "Conv2d", {x});
  n.ints["out_channels"] = {o.out_channels()};
  n.ints["kernel"] = {o.kernel(), o.kernel()};
  n.ints["stride"] = {o.stride(), o.stride()};
  n.ints["padding"] = {o.padding(), o.padding()};
  n.ints["dilation"] = {o.dilation(), o.dilation()};
  n.ints["bias"] = {o.bias() ? 1 : 0};
  return add_node(std::move(n));
}

static NodeSpec pool(const std::string& name, const std::string& op, const Value& x, int64_t k, int64_t s, int64_t p) {
  NodeSpec n = make(name, op, {x});
  n.ints["kernel"] = {k, k};
  n.ints["stride"] = {s ? s : k, s ? s : k};
  n.ints["padding"] = {p, p};
  return n;
}

Value GraphBuilder::max_pool2d(const std::string& name, const Value& x, int64_t k, int64_t s, int64_t p) {
  return add_node(pool(name, "MaxPool2d", x, k, s, p));
}
Value GraphBuilder::avg_pool2d(const std::string& name, const Value& x, int64_t k, int64_t s, int64_t p) {
  return add_node(pool(name, "AvgPool2d", x, k, s, p));
}
Value GraphBuilder::global_avg_pool(const std::string& name, const Value& x) {
  return add_node(make(name, "GlobalAvgPool", {x}));
}
Value GraphBuilder::batch_norm(const std::string& name, const Value& x, double eps, double momentum) {
  NodeSpec n = make(name, "BatchNorm", {x});
  n.floats["eps"] = eps;
  n.floats["momentum"] = momentum;
  return add_node(std::move(n));
}
Value GraphBuilder::relu(const std::string& name, const Value& x) { return add_node(make(name, "ReLU", {x})); }
Value GraphBuilder::leaky_relu(const std::string& name, const Value& x, double slope) {
  NodeSpec n = make(name, "LeakyReLU", {x});
  n.floats["slope"] = slope;
  return add_node(std::move(n));
}
Value GraphBuilder::sigmoid(const std::string& name, const Value& x) { return add_node(make(name, "Sigmoid", {x})); }
Value GraphBuilder::tanh(const std::string& name, const Value& x) { return add_node(make(name, "Tanh", {x})); }
Value GraphBuilder::gelu(const std::string& name, const Value& x) { return add_node(make(name, "GELU", {x})); }

Value GraphBuilder::activation(const std::string& kind, const std::string& name, const Value& x) {
  if (kind == "relu") return relu(name, x);
  if (kind == "leaky_relu") return leaky_relu(name, x);
  if (kind == "sigmoid") return sigmoid(name, x);
  if (kind == "tanh") return tanh(name, x);
  if (kind == "gelu") return gelu(name, x);
  throw_invalid("unknown activation '" + kind + "'", name, "use relu, leaky_relu, sigmoid, tanh or gelu");
}

Value GraphBuilder::dropout(const std::string& name, const Value& x, double p) {
  NodeSpec n = make(name, "Dropout", {x});
  n.floats["p"] = p;
  return add_node(std::move(n));
}
Value GraphBuilder::flatten(const std::string& name, const Value& x) { return add_node(make(name, "Flatten", {x})); }
Value GraphBuilder::add(const std::string& name, const Value& a, const Value& b) { return add_node(make(name, "Add", {a, b})); }
Value GraphBuilder::concat(const std::string& name, const std::vector<Value>& xs, int64_t axis) {
  NodeSpec n = make(name, "Concat", xs);
  if (axis != 0) n.ints["axis"] = {axis};  // the default stays unwritten: old graphs keep their bytes
  return add_node(std::move(n));
}
Value GraphBuilder::softmax(const std::string& name, const Value& x) { return add_node(make(name, "Softmax", {x})); }

Value GraphBuilder::softmax(const std::string& name, const Value& x, const SoftmaxOptions& o) {
  NodeSpec n = make(name, "Softmax", {x});
  if (o.mask()) n.inputs.push_back(o.mask()->ref());
  if (o.axis() != -1) n.ints["axis"] = {o.axis()};
  if (o.causal()) n.ints["causal"] = {1};
  return add_node(std::move(n));
}

Value GraphBuilder::embedding(const std::string& name, const Value& ids, int64_t num_embeddings, int64_t dim,
                              int64_t padding_idx) {
  NodeSpec n = make(name, "Embedding", {ids});
  n.ints["num_embeddings"] = {num_embeddings};
  n.ints["embedding_dim"] = {dim};
  n.ints["padding_idx"] = {padding_idx};
  return add_node(std::move(n));
}
Value GraphBuilder::positional_embedding(const std::string& name, const Value& x) {
  return add_node(make(name, "PositionalEmbedding", {x}));
}
Value GraphBuilder::padding_mask(const std::string& name, const Value& ids, int64_t padding_idx) {
  NodeSpec n = make(name, "PaddingMask", {ids});
  n.ints["padding_idx"] = {padding_idx};
  return add_node(std::move(n));
}
Value GraphBuilder::layer_norm(const std::string& name, const Value& x, double eps) {
  NodeSpec n = make(name, "LayerNorm", {x});
  n.floats["eps"] = eps;
  return add_node(std::move(n));
}
Value GraphBuilder::reshape(const std::string& name, const Value& x, const Shape& shape) {
  NodeSpec n = make(name, "Reshape", {x});
  n.ints["shape"] = shape;
  return add_node(std::move(n));
}
Value GraphBuilder::transpose(const std::string& name, const Value& x, const std::vector<int64_t>& perm) {
  NodeSpec n = make(name, "Transpose", {x});
  n.ints["perm"] = perm;
  return add_node(std::move(n));
}
Value GraphBuilder::slice(const std::string& name, const Value& x, int64_t axis, int64_t start, int64_t end) {
  NodeSpec n = make(name, "Slice", {x});
  n.ints["axis"] = {axis};
  n.ints["start"] = {start};
  n.ints["end"] = {end};
  return add_node(std::move(n));
}
Value GraphBuilder::matmul(const std::string& name, const Value& a, const Value& b, bool transpose_b, double alpha) {
  NodeSpec n = make(name, "MatMul", {a, b});
  n.ints["transpose_b"] = {transpose_b ? 1 : 0};
  n.floats["alpha"] = alpha;
  return add_node(std::move(n));
}
Value GraphBuilder::recurrent(const std::string& op, const std::string& name, const Value& x, const RecurrentOptions& o) {
  NodeSpec n = make(name, op, {x});
  n.ints["hidden_size"] = {o.hidden_size()};
  n.ints["num_layers"] = {o.num_layers()};
  n.ints["bidirectional"] = {o.bidirectional() ? 1 : 0};
  return add_node(std::move(n));
}
Value GraphBuilder::lstm(const std::string& name, const Value& x, const RecurrentOptions& o) {
  return recurrent("LSTM", name, x, o);
}
Value GraphBuilder::gru(const std::string& name, const Value& x, const RecurrentOptions& o) {
  return recurrent("GRU", name, x, o);
}
Value GraphBuilder::sequence_pool(const std::string& name, const Value& x, const std::string& pooling,
                                  std::optional<Value> mask) {
  int64_t mode = pooling == "mean" ? 0 : pooling == "max" ? 1 : pooling == "last" ? 2 : -1;
  if (mode < 0) throw_invalid("unknown sequence pooling '" + pooling + "'", name, "use mean, max or last");
  NodeSpec n = make(name, "SequencePool", {x});
  if (mask) n.inputs.push_back(mask->ref());
  n.ints["mode"] = {mode};
  return add_node(std::move(n));
}

Value GraphBuilder::multi_head_attention(const std::string& name, const Value& x, const AttentionOptions& o) {
  // Scoped nodes: <name>/q, k, v (Linear), heads split [T, H, dh] -> [H, T, dh], scores
  // q k^T / sqrt(dh) [H, T, T], masked softmax, dropout, context [H, T, dh] -> [T, D], out.
  const int64_t d = o.dim(), h = o.heads();
  if (d <= 0 || h <= 0 || d % h != 0)
    throw_invalid("multi_head_attention: dim " + std::to_string(d) + " must be a positive multiple of heads " + std::to_string(h),
                  name);
  const int64_t dh = d / h;
  std::string saved = scope_;
  scope_ = scope_.empty() ? name : scope_ + "/" + name;
  auto split = [&](const std::string& leaf) {
    const Value proj = linear(leaf, x, d);
    const Value r = reshape(leaf + "_heads", proj, {-1, h, dh});
    return transpose(leaf + "_t", r, {1, 0, 2});
  };
  const Value q = split("q"), k = split("k"), v = split("v");
  const Value scores = matmul("scores", q, k, /*transpose_b=*/true, 1.0 / std::sqrt(static_cast<double>(dh)));
  Value p = softmax("softmax", scores, SoftmaxOptions().mask(o.mask()).causal(o.causal()));
  if (o.dropout() > 0) p = dropout("attn_dropout", p, o.dropout());
  const Value ctx = matmul("context", p, v);
  const Value merged = reshape("merge", transpose("context_t", ctx, {1, 0, 2}), {-1, d});
  const Value out = linear("out", merged, d);
  scope_ = saved;
  return out;
}

namespace {

// Attributes the schema does not know, of the wrong kind, or missing when required.
void check_attributes(const NodeSpec& n, const OpSchema& schema) {
  auto find = [&](const std::string& key) -> const AttrSpec* {
    for (const AttrSpec& a : schema.attrs)
      if (a.name == key) return &a;
    return nullptr;
  };
  auto known = [&] {
    std::string list;
    for (const AttrSpec& a : schema.attrs) list += (list.empty() ? "" : ", ") + a.name;
    return list.empty() ? std::string("none") : list;
  };
  for (const auto& [key, v] : n.ints) {
    const AttrSpec* a = find(key);
    if (!a || a->kind != AttrSpec::Kind::kInts)
      throw_invalid(n.op + "(" + n.name + "): unknown integer attribute '" + key + "'", "",
                    "attributes of " + n.op + ": " + known());
  }
  for (const auto& [key, v] : n.floats) {
    const AttrSpec* a = find(key);
    if (!a || a->kind != AttrSpec::Kind::kFloat)
      throw_invalid(n.op + "(" + n.name + "): unknown real attribute '" + key + "'", "",
                    "attributes of " + n.op + ": " + known());
  }
  for (const AttrSpec& a : schema.attrs)
    if (a.required && !(a.kind == AttrSpec::Kind::kInts ? n.ints.count(a.name) : n.floats.count(a.name)))
      throw_invalid(n.op + "(" + n.name + "): attribute '" + a.name + "' is required");
}

bool is_integer(DType t) { return t == DType::kI32 || t == DType::kI64; }

}  // namespace

GraphSpec GraphBuilder::build(const Value& output_value) const {
  const std::string& output = output_value.ref();
  GraphSpec g;
  g.input_name = spec_.input_name;
  g.input_shape = spec_.input_shape;
  g.input_dtype = spec_.input_dtype;
  g.output = output;
  if (spec_.input_shape.empty() || shape_numel(spec_.input_shape) <= 0)
    throw_invalid("graph input shape " + shape_str(spec_.input_shape) + " must be non-empty and positive");
  if (g.input_dtype != DType::kF32 && !is_integer(g.input_dtype))
    throw_invalid(std::string("graph input dtype must be f32, i32 or i64, got ") + dtype_name(g.input_dtype));

  std::map<std::string, const NodeSpec*> by_name;
  for (const NodeSpec& n : spec_.nodes) {
    if (n.name.empty() || n.name == spec_.input_name || n.name.find(':') != std::string::npos)
      throw_invalid("node name '" + n.name + "' is empty, equals the input name or contains ':'");
    if (!by_name.emplace(n.name, &n).second) throw_invalid("duplicate node name '" + n.name + "'");
  }
  // The node an edge names, or null for the graph input; throws on an unknown node or output.
  auto producer = [&](const std::string& edge, const std::string& who) -> const NodeSpec* {
    if (edge == spec_.input_name) return nullptr;
    ValueRef ref = parse_value_ref(edge);
    auto it = by_name.find(ref.node);
    if (it == by_name.end())
      throw_invalid(who + "unknown input node '" + edge + "'", "",
                    "inputs must name nodes of this graph (\"node\" or \"node:k\" for output k) or '" + spec_.input_name + "'");
    int outputs = op_schema(it->second->op, it->second->name).num_outputs;
    if (ref.output >= outputs)
      throw_invalid(who + "'" + edge + "' names output " + std::to_string(ref.output) + ", but " + it->second->op + " has " +
                    std::to_string(outputs) + " output(s)");
    return it->second;
  };
  for (const NodeSpec& n : spec_.nodes) {
    const OpSchema& schema = op_schema(n.op, n.name);
    int count = static_cast<int>(n.inputs.size());
    if (count < schema.min_inputs || (schema.max_inputs >= 0 && count > schema.max_inputs))
      throw_invalid(n.op + "(" + n.name + "): takes " + std::to_string(schema.min_inputs) +
                    (schema.max_inputs == schema.min_inputs ? ""
                     : schema.max_inputs < 0                ? "+"
                                                            : "-" + std::to_string(schema.max_inputs)) +
                    " inputs, got " + std::to_string(count));
    check_attributes(n, schema);
    for (const std::string& in : n.inputs) producer(in, n.op + "(" + n.name + "): ");
  }
  producer(output, "output: ");

  // Topological order (Kahn), stable with respect to insertion order; leftovers form a cycle.
  std::set<std::string> done;
  std::map<std::string, ValueType> types = {{spec_.input_name, {spec_.input_dtype, spec_.input_shape}}};
  auto type_of = [&](const std::string& edge) {
    if (edge == spec_.input_name) return types.at(edge);
    ValueRef ref = parse_value_ref(edge);
    return types.at(ref.node + ":" + std::to_string(ref.output));
  };
  while (g.nodes.size() < spec_.nodes.size()) {
    bool progressed = false;
    for (const NodeSpec& n : spec_.nodes) {
      if (done.count(n.name)) continue;
      bool ready = std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& in) {
        return in == spec_.input_name || done.count(parse_value_ref(in).node);
      });
      if (!ready) continue;
      const OpSchema& schema = op_schema(n.op, n.name);
      ValueTypes in_types;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        ValueType t = type_of(n.inputs[k]);
        bool wants_ids = std::count(schema.integer_inputs.begin(), schema.integer_inputs.end(), static_cast<int>(k)) > 0;
        if (wants_ids != is_integer(t.dtype))
          throw_invalid(n.op + "(" + n.name + "): input " + std::to_string(k) + " (" + n.inputs[k] + ") must be " +
                            (wants_ids ? "token ids (i32 or i64)" : "f32") + ", got " + dtype_name(t.dtype),
                        "",
                        wants_ids ? "feed the graph input (GraphBuilder with DType::kI64)" : "embed token ids first (Embedding)");
        in_types.push_back(std::move(t));
      }
      NodeSpec out = n;
      ValueTypes outs = schema.infer(n, in_types);
      if (static_cast<int>(outs.size()) != schema.num_outputs)
        throw_invalid(n.op + "(" + n.name + "): its schema inferred " + std::to_string(outs.size()) + " outputs, declares " +
                      std::to_string(schema.num_outputs));
      out.output_shape = outs[0].shape;
      out.extra_output_shapes.clear();
      for (size_t k = 0; k < outs.size(); ++k) {
        if (outs[k].dtype != DType::kF32) throw_invalid(n.op + "(" + n.name + "): node outputs must be f32");
        if (k > 0) out.extra_output_shapes.push_back(outs[k].shape);
        types[n.name + ":" + std::to_string(k)] = outs[k];
      }
      out.params = schema.params ? schema.params(n, in_types) : std::vector<ParamSpec>{};
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

Sequential::Sequential(Shape input_shape) : builder_(std::move(input_shape)), last_(builder_.input()) {}

std::string Sequential::next_name(const std::string& stem) { return stem + std::to_string(++counts_[stem]); }

Sequential& Sequential::linear(int64_t out, bool bias) {
  last_ = builder_.linear(next_name("fc"), last_, out, bias);
  return *this;
}
Sequential& Sequential::conv2d(const Conv2dOptions& o) {
  last_ = builder_.conv2d(next_name("conv"), last_, o);
  return *this;
}
Sequential& Sequential::max_pool2d(int64_t k, int64_t s, int64_t p) {
  last_ = builder_.max_pool2d(next_name("pool"), last_, k, s, p);
  return *this;
}
Sequential& Sequential::avg_pool2d(int64_t k, int64_t s, int64_t p) {
  last_ = builder_.avg_pool2d(next_name("avgpool"), last_, k, s, p);
  return *this;
}
Sequential& Sequential::global_avg_pool() {
  last_ = builder_.global_avg_pool(next_name("gap"), last_);
  return *this;
}
Sequential& Sequential::batch_norm(double eps, double m) {
  last_ = builder_.batch_norm(next_name("bn"), last_, eps, m);
  return *this;
}
Sequential& Sequential::activation(const std::string& kind) {
  last_ = builder_.activation(kind, next_name(kind), last_);
  return *this;
}
Sequential& Sequential::dropout(double p) {
  last_ = builder_.dropout(next_name("dropout"), last_, p);
  return *this;
}
Sequential& Sequential::flatten() {
  last_ = builder_.flatten(next_name("flatten"), last_);
  return *this;
}
Sequential& Sequential::softmax() {
  last_ = builder_.softmax(next_name("softmax"), last_);
  return *this;
}

}  // namespace strata
