// Model factories: shapes, parameter counts (equal to PyTorch's for the same layers) and one
// training step through each.
#include <gtest/gtest.h>

#include "strata/framework/core/error.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"
#include "strata/models/models.h"

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
  make_loss("softmax_cross_entropy")->compute(out, y, &net.output_grad());
  net.backward();
  double norm = 0;
  for (const Parameter& p : net.parameters())
    if (p.trainable)
      for (int64_t i = 0; i < p.grad.numel(); ++i) norm += p.grad.f32()[i] * p.grad.f32()[i];
  EXPECT_GT(norm, 0.0);
  EXPECT_THROW(models::by_name("vgg", {3, 32, 32}, 10), Error);
}

}  // namespace
}  // namespace strata
