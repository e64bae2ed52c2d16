#include "strata/models/models.h"

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
  std::string x = b.conv2d("stem/conv", b.input(), Conv2dOptions(16, 3).padding(1).bias(false));
  x = b.relu("stem/relu", b.batch_norm("stem/bn", x));
  int64_t in_channels = 16;
  const int64_t widths[] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (int64_t block = 0; block < blocks_per_stage; ++block) {
      int64_t out = widths[stage], stride = stage > 0 && block == 0 ? 2 : 1;
      b.set_scope("stage" + std::to_string(stage + 1) + "/block" + std::to_string(block + 1));
      std::string h = b.conv2d("conv1", x, Conv2dOptions(out, 3).stride(stride).padding(1).bias(false));
      h = b.relu("relu1", b.batch_norm("bn1", h));
      h = b.batch_norm("bn2", b.conv2d("conv2", h, Conv2dOptions(out, 3).padding(1).bias(false)));
      std::string shortcut = x;
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

GraphSpec by_name(const std::string& name, const Shape& input_shape, int64_t classes, double dropout) {
  if (name == "mlp") return mlp(input_shape, {shape_numel(input_shape), 512, 256, classes}, "relu", dropout);
  if (name == "cnn" || name == "lenet") return lenet(input_shape, classes, dropout);
  if (name == "resnet") return resnet(input_shape, classes);
  throw_invalid("unknown model '" + name + "'", "", "use mlp, cnn or resnet");
}

}  // namespace strata::models
