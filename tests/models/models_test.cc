// Model factories: shapes, parameter counts (equal to PyTorch's for the same layers) and one
// training step through each.
#include "strata/models/models.h"

#include <gtest/gtest.h>

#include <cmath>

#include "strata/framework/core/error.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"

namespace strata {
namespace {

int64_t trainable(const GraphSpec& g) {
  int64_t n = 0;
  for (const ParamSpec& p : g.all_params())
    if (p.trainable) n += shape_numel(p.shape);
  return n;
}

TEST(Models, MlpShapesAndCount) {
  GraphSpec g = models::mlp({1, 28, 28}, {784, 512, 256, 10});
  EXPECT_EQ(trainable(g), 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);  // 535818
  EXPECT_EQ(g.find(g.output)->output_shape, (Shape{10}));
  EXPECT_THROW(models::mlp({1, 28, 28}, {100, 10}), Error);
}

TEST(Models, LenetShapesAndCount) {
  GraphSpec g = models::lenet({1, 28, 28}, 10);
  EXPECT_EQ(g.find("pool2")->output_shape, (Shape{64, 7, 7}));
  EXPECT_EQ(trainable(g), (32 * 25 + 32) + (64 * 32 * 25 + 64) + (3136 * 256 + 256) + (256 * 10 + 10));
}

TEST(Models, ResnetTrainsOneStep) {
  GraphSpec g = models::resnet({3, 32, 32}, 10);
  EXPECT_NE(g.find("stage2/block1/proj"), nullptr);
  EXPECT_EQ(g.find("stage3/block1/relu2")->output_shape, (Shape{64, 8, 8}));
  Network net(g);
  Tensor x({2, 3, 32, 32});
  x.fill(0.5f);
  Tensor y({2}, DType::kI64);
  const Tensor& out = net.forward(x, Mode::kTrain);
  EXPECT_EQ(out.shape(), (Shape{2, 10}));
  make_loss(LossKind::kSoftmaxCrossEntropy)->compute(out, y, &net.output_grad());
  net.backward();
  double norm = 0;
  for (const Parameter& p : net.parameters())
    if (p.trainable)
      for (int64_t i = 0; i < p.grad.numel(); ++i) norm += p.grad.f32()[i] * p.grad.f32()[i];
  EXPECT_GT(norm, 0.0);
  EXPECT_THROW(models::by_name("vgg", {3, 32, 32}, 10), Error);
}

// One training step through a token model; returns the output shape.
Shape train_step(const GraphSpec& g, int64_t batch, int64_t vocab, bool sequence_targets) {
  Network net(g);
  net.init_params(1);
  const int64_t t = g.input_shape[0];
  Tensor x({batch, t}, DType::kI64);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<int64_t>()[i] = i % 5 == 4 ? 0 : 1 + i % (vocab - 1);
  const Tensor& out = net.forward(x, Mode::kTrain);
  Tensor y = sequence_targets ? Tensor({batch, t}, DType::kI64) : Tensor({batch}, DType::kI64);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<int64_t>()[i] = i % 3;
  double loss = make_loss(LossKind::kSoftmaxCrossEntropy)->compute(out, y, &net.output_grad());
  EXPECT_TRUE(std::isfinite(loss));
  net.backward();
  for (const Parameter& p : net.parameters()) {
    if (!p.trainable) continue;
    double norm = 0;
    for (int64_t i = 0; i < p.grad.numel(); ++i) norm += p.grad.f32()[i] * p.grad.f32()[i];
    EXPECT_GT(norm, 0.0) << p.name << " gets no gradient";
  }
  return out.shape();
}

TEST(Models, TextClassifiersTrainOneStep) {
  models::TextModelOptions o = models::TextModelOptions().dim(8).hidden(6).heads(2).layers(2).dropout(0.1);
  EXPECT_EQ(train_step(models::recurrent_classifier(10, 12, 4, o), 3, 12, false), (Shape{3, 4}));
  EXPECT_EQ(train_step(models::recurrent_classifier(10, 12, 4, o.cell("gru").bidirectional(true)), 3, 12, false), (Shape{3, 4}));
  GraphSpec t = models::transformer_classifier(10, 12, 4, o);
  EXPECT_NE(t.find("block2/attn/softmax"), nullptr);
  EXPECT_EQ(train_step(t, 3, 12, false), (Shape{3, 4}));
  // PyTorch's parameter count for LSTM(8 -> 6, 1 layer): 4*6*(8+6) + 2*4*6.
  GraphSpec one = models::recurrent_classifier(10, 12, 4, models::TextModelOptions().dim(8).hidden(6));
  EXPECT_EQ(trainable(one), 12 * 8 + (4 * 6 * (8 + 6) + 2 * 4 * 6) + (6 * 4 + 4));
}

TEST(Models, LanguageModelsPredictEveryStep) {
  models::TextModelOptions o = models::TextModelOptions().dim(8).hidden(6).heads(2).layers(2);
  EXPECT_EQ(train_step(models::recurrent_language_model(9, 11, o), 2, 11, true), (Shape{2, 9, 11}));
  EXPECT_EQ(train_step(models::transformer_language_model(9, 11, o), 2, 11, true), (Shape{2, 9, 11}));
  EXPECT_THROW(models::recurrent_language_model(9, 11, o.bidirectional(true)), Error);
  EXPECT_THROW(models::recurrent_classifier(9, 11, 2, o.cell("rnn")), Error);
}

TEST(Models, CausalLanguageModelIgnoresTheFuture) {
  // Changing token t must not change the logits of steps before t.
  GraphSpec g = models::transformer_language_model(6, 7, models::TextModelOptions().dim(8).heads(2).hidden(8).layers(2));
  Network net(g);
  net.init_params(2);
  Tensor x({1, 6}, DType::kI64);
  for (int64_t i = 0; i < 6; ++i) x.data<int64_t>()[i] = 1 + i;
  Tensor a = net.forward(x, Mode::kEval).clone();
  x.data<int64_t>()[4] = 2;
  const Tensor& b = net.forward(x, Mode::kEval);
  for (int64_t i = 0; i < 4 * 7; ++i) EXPECT_EQ(a.f32()[i], b.f32()[i]) << i;
  bool later_changed = false;
  for (int64_t i = 4 * 7; i < 6 * 7; ++i) later_changed |= a.f32()[i] != b.f32()[i];
  EXPECT_TRUE(later_changed);
}

}  // namespace
}  // namespace strata
