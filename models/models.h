// Model zoo: factories that return a GraphSpec (plain data; compile it with Network).
#pragma once

#include <string>
#include <vector>

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

// By name, for command lines: "mlp", "cnn" (lenet), "resnet".
GraphSpec by_name(const std::string& name, const Shape& input_shape, int64_t classes, double dropout = 0.0);

}  // namespace strata::models
