// Model zoo: factories that return a GraphSpec (plain data; compile it with Network).
#pragma once

#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"

namespace strata::models {

// MLP on [C,H,W] or [F] input: flatten, hidden Linear+activation(+dropout) layers, Linear out.
// sizes = {784, 512, 256, 10}: input features, hidden widths..., classes.
GraphSpec mlp(const Shape& input_shape, const std::vector<int64_t>& sizes, const std::string& activation = "relu",
              double dropout = 0.0);

// LeNet-style CNN: conv5x5(32) relu pool2 -> conv5x5(64) relu pool2 -> fc(256) relu -> fc(classes).
// Padding 2 keeps 28x28 -> 14x14 -> 7x7 for Fashion-MNIST.
GraphSpec lenet(const Shape& input_shape, int64_t classes, double dropout = 0.0);

// Small ResNet for 3x32x32 input: stem conv3x3(16)+BN+ReLU, three stages of `blocks_per_stage`
// basic blocks (16, 32, 64 channels; stride 2 at stages 2 and 3, 1x1 projection shortcuts),
// global average pooling, fc(classes). Node names are scoped: "stage2/block1/conv1".
GraphSpec resnet(const Shape& input_shape, int64_t classes, int64_t blocks_per_stage = 1);

// ---- Sequence models over token ids: input i64 [T], id 0 is padding ----

struct TextModelOptions {
  STRATA_ARG(int64_t, dim) = 64;      // embedding / model width
  STRATA_ARG(int64_t, hidden) = 128;  // recurrent hidden size; Transformer feed-forward width
  STRATA_ARG(int64_t, layers) = 1;
  STRATA_ARG(int64_t, heads) = 4;           // Transformer
  STRATA_ARG(bool, bidirectional) = false;  // recurrent classifier
  STRATA_ARG(std::string, cell) = "lstm";   // recurrent: lstm or gru
  STRATA_ARG(double, dropout) = 0.0;
};

// Classifier: embedding -> LSTM/GRU -> mean over the non-padding steps -> dropout -> Linear.
GraphSpec recurrent_classifier(int64_t seq_len, int64_t vocab, int64_t classes, const TextModelOptions& options = {});

// Transformer encoder classifier: embedding + learned positions -> `layers` pre-norm blocks
// (x + MHA(LN x) with the padding mask, x + FF(LN x), GELU, dropout) -> LN -> mean over the
// non-padding steps -> Linear.
GraphSpec transformer_classifier(int64_t seq_len, int64_t vocab, int64_t classes, const TextModelOptions& options = {});

// Character language models, output [T, vocab] logits of the next token at every step:
// embedding -> LSTM/GRU layers -> dropout -> Linear; and a decoder-only Transformer (causal
// attention, no padding mask).
GraphSpec recurrent_language_model(int64_t seq_len, int64_t vocab, const TextModelOptions& options = {});
GraphSpec transformer_language_model(int64_t seq_len, int64_t vocab, const TextModelOptions& options = {});

// By name, for command lines: "mlp", "cnn" (lenet), "resnet".
GraphSpec by_name(const std::string& name, const Shape& input_shape, int64_t classes, double dropout = 0.0);

}  // namespace strata::models
