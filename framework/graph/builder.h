// Builders that produce a GraphSpec: Sequential for chains, GraphBuilder for DAGs (residual
// Add, Concat, attention). Every node gets a hierarchical name; parameters are named
// "<node>/<leaf>". build() validates everything once against the op schemas (unknown ops and
// inputs, attributes, cycles, duplicate names, dtypes, shapes) and throws strata::Error naming
// the node, so no shape check is needed at training time. Values (a node's outputs, the input)
// are handles the builder returns; a node's k-th output is "node:k" in the spec.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata {

// A value of the graph being built: the input, or an output of a node added to a GraphBuilder.
// Only the builder makes one, so a node's name cannot stand where a value belongs: swapped
// arguments do not compile. ref() is the edge as GraphSpec writes it ("fc1", "rnn:1", "input").
class Value {
 public:
  const std::string& ref() const { return ref_; }
  // The node's k-th output ("rnn:1": a recurrent layer's final hidden state).
  // output(0) is the node itself, written as GraphSpec writes it ("rnn", never "rnn:0").
  Value output(int k) const {
    const std::string node = ref_.substr(0, ref_.find(':'));
    return Value(k == 0 ? node : node + ":" + std::to_string(k));
  }
  bool operator==(const Value& other) const { return ref_ == other.ref_; }

 private:
  friend class GraphBuilder;
  explicit Value(std::string ref) : ref_(std::move(ref)) {}
  std::string ref_;
};

struct Conv2dOptions {
  Conv2dOptions(int64_t out_channels, int64_t kernel) : out_channels_(out_channels), kernel_(kernel) {}
  STRATA_ARG(int64_t, out_channels) = 0;
  STRATA_ARG(int64_t, kernel) = 3;
  STRATA_ARG(int64_t, stride) = 1;
  STRATA_ARG(int64_t, padding) = 0;
  STRATA_ARG(int64_t, dilation) = 1;
  STRATA_ARG(bool, bias) = true;
};

struct SoftmaxOptions {
  STRATA_ARG(int64_t, axis) = -1;          // per-sample axis
  STRATA_ARG(std::optional<Value>, mask);  // a keep-mask value [Tk] (padding_mask)
  STRATA_ARG(bool, causal) = false;        // key j > query i masked (decoders)
};

struct RecurrentOptions {
  explicit RecurrentOptions(int64_t hidden_size = 0) : hidden_size_(hidden_size) {}
  STRATA_ARG(int64_t, hidden_size) = 0;
  STRATA_ARG(int64_t, num_layers) = 1;
  STRATA_ARG(bool, bidirectional) = false;
};

struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {}
  STRATA_ARG(int64_t, dim) = 0;            // model width D (the input's last axis)
  STRATA_ARG(int64_t, heads) = 1;          // D must be a multiple
  STRATA_ARG(std::optional<Value>, mask);  // keep-mask over the keys
  STRATA_ARG(bool, causal) = false;
  STRATA_ARG(double, dropout) = 0.0;  // on the attention weights
};

class GraphBuilder {
 public:
  // input_dtype kI32/kI64 for token ids (per-sample shape e.g. {T}).
  explicit GraphBuilder(Shape input_shape, std::string input_name = "input", DType input_dtype = DType::kF32);

  Value input() const { return Value(spec_.input_name); }

  // Each returns the new node's output, to be used as another node's input. Names may contain
  // '/' scopes ("block1/conv"); a name set by scope() is prefixed automatically.
  Value linear(const std::string& name, const Value& x, int64_t out_features, bool bias = true);
  Value conv2d(const std::string& name, const Value& x, const Conv2dOptions& options);
  Value max_pool2d(const std::string& name, const Value& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Value avg_pool2d(const std::string& name, const Value& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Value global_avg_pool(const std::string& name, const Value& x);
  Value batch_norm(const std::string& name, const Value& x, double eps = 1e-5, double momentum = 0.1);
  Value relu(const std::string& name, const Value& x);
  Value leaky_relu(const std::string& name, const Value& x, double slope = 0.01);
  Value sigmoid(const std::string& name, const Value& x);
  Value tanh(const std::string& name, const Value& x);
  Value gelu(const std::string& name, const Value& x);
  Value activation(const std::string& kind, const std::string& name, const Value& x);
  Value dropout(const std::string& name, const Value& x, double p);
  Value flatten(const std::string& name, const Value& x);
  Value add(const std::string& name, const Value& a, const Value& b);
  Value concat(const std::string& name, const std::vector<Value>& xs, int64_t axis = 0);
  Value softmax(const std::string& name, const Value& x);
  Value softmax(const std::string& name, const Value& x, const SoftmaxOptions& options);

  // Sequences and text (x per sample [T, D] unless said otherwise; ids are the integer input).
  Value embedding(const std::string& name, const Value& ids, int64_t num_embeddings, int64_t dim, int64_t padding_idx = -1);
  Value positional_embedding(const std::string& name, const Value& x);  // learned, [T, D]
  Value padding_mask(const std::string& name, const Value& ids, int64_t padding_idx = 0);
  Value layer_norm(const std::string& name, const Value& x, double eps = 1e-5);
  Value reshape(const std::string& name, const Value& x, const Shape& shape);  // one -1 allowed
  Value transpose(const std::string& name, const Value& x, const std::vector<int64_t>& perm);
  Value slice(const std::string& name, const Value& x, int64_t axis, int64_t start, int64_t end);
  Value matmul(const std::string& name, const Value& a, const Value& b, bool transpose_b = false, double alpha = 1.0);
  // The output is the sequence [T, D*H]; its output(1) the final hidden state [D*H].
  Value lstm(const std::string& name, const Value& x, const RecurrentOptions& options);
  Value gru(const std::string& name, const Value& x, const RecurrentOptions& options);
  // pooling: mean, max or last over the steps the keep-mask keeps (all without a mask).
  Value sequence_pool(const std::string& name, const Value& x, const std::string& pooling,
                      std::optional<Value> mask = std::nullopt);
  // Multi-head scaled dot-product attention with its q/k/v/out projections, as scoped nodes
  // under `name`: [T, D] -> [T, D].
  Value multi_head_attention(const std::string& name, const Value& x, const AttentionOptions& options);
  // Any node, for ops added later; attributes as in NodeSpec.
  Value node(NodeSpec spec);

  // Prefix for the names of nodes added next ("" to clear): scope("block1") then conv2d("conv")
  // names the node "block1/conv".
  void set_scope(const std::string& scope) { scope_ = scope; }

  GraphSpec build(const Value& output) const;

 private:
  Value add_node(NodeSpec spec);
  Value recurrent(const std::string& op, const std::string& name, const Value& x, const RecurrentOptions& o);
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
  Value last_;
  std::map<std::string, int> counts_;
};

}  // namespace strata
