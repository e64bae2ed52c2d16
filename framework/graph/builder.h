// Builders that produce a GraphSpec: Sequential for chains, GraphBuilder for DAGs (residual
// Add, Concat, attention). Every node gets a hierarchical name; parameters are named
// "<node>/<leaf>". build() validates everything once against the op schemas (unknown ops and
// inputs, attributes, cycles, duplicate names, dtypes, shapes) and throws strata::Error naming
// the node, so no shape check is needed at training time. A node's k-th output is "node:k".
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

struct SoftmaxOptions {
  STRATA_ARG(int64_t, axis) = -1;        // per-sample axis
  STRATA_ARG(std::string, mask);         // a keep-mask value [Tk] (padding_mask), "" for none
  STRATA_ARG(bool, causal) = false;      // key j > query i masked (decoders)
};

struct RecurrentOptions {
  explicit RecurrentOptions(int64_t hidden_size = 0) : hidden_size_(hidden_size) {}
  STRATA_ARG(int64_t, hidden_size) = 0;
  STRATA_ARG(int64_t, num_layers) = 1;
  STRATA_ARG(bool, bidirectional) = false;
};

struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {}
  STRATA_ARG(int64_t, dim) = 0;          // model width D (the input's last axis)
  STRATA_ARG(int64_t, heads) = 1;        // D must be a multiple
  STRATA_ARG(std::string, mask);         // keep-mask over the keys, "" for none
  STRATA_ARG(bool, causal) = false;
  STRATA_ARG(double, dropout) = 0.0;     // on the attention weights
};

class GraphBuilder {
 public:
  // input_dtype kI32/kI64 for token ids (per-sample shape e.g. {T}).
  explicit GraphBuilder(Shape input_shape, std::string input_name = "input", DType input_dtype = DType::kF32);

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
  std::string concat(const std::string& name, const std::vector<std::string>& xs, int64_t axis = 0);
  std::string softmax(const std::string& name, const std::string& x);
  std::string softmax(const std::string& name, const std::string& x, const SoftmaxOptions& options);

  // Sequences and text (x per sample [T, D] unless said otherwise; ids are the integer input).
  std::string embedding(const std::string& name, const std::string& ids, int64_t num_embeddings, int64_t dim,
                        int64_t padding_idx = -1);
  std::string positional_embedding(const std::string& name, const std::string& x);  // learned, [T, D]
  std::string padding_mask(const std::string& name, const std::string& ids, int64_t padding_idx = 0);
  std::string layer_norm(const std::string& name, const std::string& x, double eps = 1e-5);
  std::string reshape(const std::string& name, const std::string& x, const Shape& shape);  // one -1 allowed
  std::string transpose(const std::string& name, const std::string& x, const std::vector<int64_t>& perm);
  std::string slice(const std::string& name, const std::string& x, int64_t axis, int64_t start, int64_t end);
  std::string matmul(const std::string& name, const std::string& a, const std::string& b, bool transpose_b = false,
                     double alpha = 1.0);
  // Output "name" is the sequence [T, D*H], "name:1" the final hidden state [D*H].
  std::string lstm(const std::string& name, const std::string& x, const RecurrentOptions& options);
  std::string gru(const std::string& name, const std::string& x, const RecurrentOptions& options);
  // pooling: mean, max or last over the steps the keep-mask keeps (all without a mask).
  std::string sequence_pool(const std::string& name, const std::string& x, const std::string& pooling,
                            const std::string& mask = "");
  // Multi-head scaled dot-product attention with its q/k/v/out projections, as scoped nodes
  // under `name`: [T, D] -> [T, D].
  std::string multi_head_attention(const std::string& name, const std::string& x, const AttentionOptions& options);
  // Any node, for ops added later; attributes as in NodeSpec.
  std::string node(NodeSpec spec);

  // Prefix for the names of nodes added next ("" to clear): scope("block1") then conv2d("conv")
  // names the node "block1/conv".
  void set_scope(const std::string& scope) { scope_ = scope; }

  GraphSpec build(const std::string& output) const;

 private:
  std::string add_node(NodeSpec spec);
  std::string recurrent(const std::string& op, const std::string& name, const std::string& x, const RecurrentOptions& o);
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
