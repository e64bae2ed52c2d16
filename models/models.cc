#include "strata/models/models.h"

#include <optional>

#include "strata/framework/core/error.h"
#include "strata/framework/graph/builder.h"

namespace strata::models {

GraphSpec mlp(const Shape& input_shape, const std::vector<int64_t>& sizes, const std::string& activation, double dropout) {
  if (sizes.size() < 2) throw_invalid("mlp: sizes needs at least {inputs, classes}");
  if (sizes[0] != shape_numel(input_shape))
    throw_invalid("mlp: sizes[0] = " + std::to_string(sizes[0]) + " but the input " + shape_str(input_shape) + " has " +
                  std::to_string(shape_numel(input_shape)) + " features");
  Sequential s(input_shape);
  if (input_shape.size() > 1) s.flatten();
  for (size_t i = 1; i + 1 < sizes.size(); ++i) {
    s.linear(sizes[i]).activation(activation);
    if (dropout > 0) s.dropout(dropout);
  }
  s.linear(sizes.back());
  return s.build();
}

GraphSpec lenet(const Shape& input_shape, int64_t classes, double dropout) {
  Sequential s(input_shape);
  s.conv2d(Conv2dOptions(32, 5).padding(2)).relu().max_pool2d(2);
  s.conv2d(Conv2dOptions(64, 5).padding(2)).relu().max_pool2d(2);
  s.flatten().linear(256).relu();
  if (dropout > 0) s.dropout(dropout);
  s.linear(classes);
  return s.build();
}

GraphSpec resnet(const Shape& input_shape, int64_t classes, int64_t blocks_per_stage) {
  GraphBuilder b(input_shape);
  Value x = b.conv2d("stem/conv", b.input(), Conv2dOptions(16, 3).padding(1).bias(false));
  x = b.relu("stem/relu", b.batch_norm("stem/bn", x));
  int64_t in_channels = 16;
  const int64_t widths[] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (int64_t block = 0; block < blocks_per_stage; ++block) {
      int64_t out = widths[stage], stride = stage > 0 && block == 0 ? 2 : 1;
      b.set_scope("stage" + std::to_string(stage + 1) + "/block" + std::to_string(block + 1));
      Value h = b.conv2d("conv1", x, Conv2dOptions(out, 3).stride(stride).padding(1).bias(false));
      h = b.relu("relu1", b.batch_norm("bn1", h));
      h = b.batch_norm("bn2", b.conv2d("conv2", h, Conv2dOptions(out, 3).padding(1).bias(false)));
      Value shortcut = x;
      if (stride != 1 || in_channels != out)
        shortcut = b.batch_norm("proj_bn", b.conv2d("proj", x, Conv2dOptions(out, 1).stride(stride).bias(false)));
      x = b.relu("relu2", b.add("add", h, shortcut));
      in_channels = out;
    }
  }
  b.set_scope("");
  x = b.global_avg_pool("pool", x);
  return b.build(b.linear("fc", x, classes));
}

namespace {

Value recurrent(GraphBuilder& b, const std::string& name, const Value& x, const TextModelOptions& o) {
  RecurrentOptions r = RecurrentOptions(o.hidden()).num_layers(o.layers()).bidirectional(o.bidirectional());
  if (o.cell() == "lstm") return b.lstm(name, x, r);
  if (o.cell() == "gru") return b.gru(name, x, r);
  throw_invalid("unknown recurrent cell '" + o.cell() + "'", name, "use lstm or gru");
}

// Pre-norm Transformer blocks over x [T, D].
Value transformer_blocks(GraphBuilder& b, Value x, const std::optional<Value>& mask, bool causal, const TextModelOptions& o) {
  for (int64_t l = 1; l <= o.layers(); ++l) {
    const std::string block = "block" + std::to_string(l);
    b.set_scope(block);
    Value h = b.multi_head_attention("attn", b.layer_norm("ln1", x),
                                     AttentionOptions(o.dim(), o.heads()).mask(mask).causal(causal).dropout(o.dropout()));
    if (o.dropout() > 0) h = b.dropout("drop1", h, o.dropout());
    x = b.add("res1", x, h);
    Value f = b.linear("ff1", b.layer_norm("ln2", x), o.hidden());
    f = b.linear("ff2", b.gelu("gelu", f), o.dim());
    if (o.dropout() > 0) f = b.dropout("drop2", f, o.dropout());
    x = b.add("res2", x, f);
    b.set_scope("");
  }
  return b.layer_norm("ln_final", x);
}

}  // namespace

GraphSpec recurrent_classifier(int64_t seq_len, int64_t vocab, int64_t classes, const TextModelOptions& o) {
  GraphBuilder b({seq_len}, "tokens", DType::kI64);
  const Value mask = b.padding_mask("mask", b.input(), 0);
  Value h = recurrent(b, "rnn", b.embedding("embed", b.input(), vocab, o.dim(), 0), o);
  h = b.sequence_pool("pool", h, "mean", mask);
  if (o.dropout() > 0) h = b.dropout("dropout", h, o.dropout());
  return b.build(b.linear("classifier", h, classes));
}

GraphSpec transformer_classifier(int64_t seq_len, int64_t vocab, int64_t classes, const TextModelOptions& o) {
  GraphBuilder b({seq_len}, "tokens", DType::kI64);
  const Value mask = b.padding_mask("mask", b.input(), 0);
  Value x = b.positional_embedding("positions", b.embedding("embed", b.input(), vocab, o.dim(), 0));
  x = transformer_blocks(b, x, mask, false, o);
  return b.build(b.linear("classifier", b.sequence_pool("pool", x, "mean", mask), classes));
}

GraphSpec recurrent_language_model(int64_t seq_len, int64_t vocab, const TextModelOptions& o) {
  if (o.bidirectional()) throw_invalid("a language model cannot be bidirectional: it would read the tokens it predicts");
  GraphBuilder b({seq_len}, "tokens", DType::kI64);
  Value h = recurrent(b, "rnn", b.embedding("embed", b.input(), vocab, o.dim()), o);
  if (o.dropout() > 0) h = b.dropout("dropout", h, o.dropout());
  return b.build(b.linear("logits", h, vocab));
}

GraphSpec transformer_language_model(int64_t seq_len, int64_t vocab, const TextModelOptions& o) {
  GraphBuilder b({seq_len}, "tokens", DType::kI64);
  const Value x = b.positional_embedding("positions", b.embedding("embed", b.input(), vocab, o.dim()));
  return b.build(b.linear("logits", transformer_blocks(b, x, std::nullopt, true, o), vocab));
}

GraphSpec by_name(const std::string& name, const Shape& input_shape, int64_t classes, double dropout) {
  if (name == "mlp") return mlp(input_shape, {shape_numel(input_shape), 512, 256, classes}, "relu", dropout);
  if (name == "cnn" || name == "lenet") return lenet(input_shape, classes, dropout);
  if (name == "resnet") return resnet(input_shape, classes);
  throw_invalid("unknown model '" + name + "'", "", "use mlp, cnn or resnet");
}

}  // namespace strata::models
