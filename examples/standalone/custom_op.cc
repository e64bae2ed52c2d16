// custom_op_app: a user's own op, added from outside Strata through the public API alone.
// "Swish" (y = x sigmoid(beta x)) gets a schema and a plain C++ kernel, is registered with
// strata::register_op, used in a network between two Linear layers and trained; the program
// checks its gradient against central differences and that training lowers the loss.
#include <strata/framework/graph/builder.h>
#include <strata/framework/loss/loss.h>
#include <strata/framework/nn/kernel.h>
#include <strata/framework/nn/network.h>
#include <strata/framework/optim/optimizer.h>

#include <cmath>
#include <cstdio>
#include <memory>

namespace {

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

struct SwishKernel : strata::Kernel {
  void forward(const strata::KernelContext& c) override {
    const float beta = static_cast<float>(c.node->float_attr("beta", 1.0));
    const float* x = c.inputs[0].f32();
    float* y = const_cast<strata::Tensor&>(c.outputs[0]).f32();
    for (int64_t i = 0; i < c.inputs[0].numel(); ++i) y[i] = x[i] * sigmoid(beta * x[i]);
  }
  void backward(const strata::KernelContext& c) override {  // assigns dL/dx
    if (!c.input_grads[0].defined()) return;
    const float beta = static_cast<float>(c.node->float_attr("beta", 1.0));
    const float* x = c.inputs[0].f32();
    const float* dy = c.output_grads[0].f32();
    float* dx = const_cast<strata::Tensor&>(c.input_grads[0]).f32();
    for (int64_t i = 0; i < c.inputs[0].numel(); ++i) {
      float s = sigmoid(beta * x[i]);
      dx[i] = dy[i] * (s + beta * x[i] * s * (1 - s));
    }
  }
};

void register_swish() {
  strata::OpSchema schema;
  schema.name = "Swish";
  schema.attrs = {{"beta", strata::AttrSpec::Kind::kFloat, {}, 1.0, false, "slope of the gate"}};
  schema.doc = "x * sigmoid(beta x)";
  schema.infer = [](const strata::NodeSpec&, const strata::ValueTypes& in) { return in; };
  strata::register_op(schema, [] { return std::make_unique<SwishKernel>(); });
}

}  // namespace

int main() try {
  using namespace strata;
  register_swish();
  GraphBuilder b({6});
  NodeSpec swish;
  swish.name = "swish";
  swish.op = "Swish";
  swish.inputs = {b.linear("fc1", b.input(), 16).ref()};
  swish.floats["beta"] = 1.5;
  GraphSpec graph = b.build(b.linear("fc2", b.node(swish), 3));
  Network net(graph, NetworkOptions().input_grad(true));
  net.init_params(1);

  // Synthetic data: the class is the largest of the first three features.
  Tensor x({64, 6}), y({64}, DType::kI64);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = std::sin(0.37f * static_cast<float>(i * i % 101));
  for (int64_t s = 0; s < 64; ++s) {
    const float* r = x.f32() + s * 6;
    y.data<int64_t>()[s] = r[0] > r[1] ? (r[0] > r[2] ? 0 : 2) : (r[1] > r[2] ? 1 : 2);
  }
  auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);

  // The custom op's gradient, through the whole network, against central differences.
  const Tensor& out = net.forward(x, Mode::kTrain);
  loss->compute(out, y, &net.output_grad());
  net.backward();
  const float analytic = net.input_grad().f32()[3];
  const float saved = x.f32()[3];
  x.f32()[3] = saved + 1e-2f;
  const double up = loss->compute(net.forward(x, Mode::kTrain), y, nullptr);
  x.f32()[3] = saved - 1e-2f;
  const double down = loss->compute(net.forward(x, Mode::kTrain), y, nullptr);
  x.f32()[3] = saved;
  const double numeric = (up - down) / 2e-2;
  if (std::abs(numeric - analytic) > 1e-3 + 3e-2 * std::abs(numeric)) {
    std::fprintf(stderr, "gradient check failed: analytic %g, numeric %g\n", analytic, numeric);
    return 1;
  }

  Optimizer opt(net, OptimizerOptions().kind("adam").lr(0.01));
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    const Tensor& logits = net.forward(x, Mode::kTrain);
    last = loss->compute(logits, y, &net.output_grad());
    if (step == 0) first = last;
    net.backward();
    opt.step(0.01);
  }
  std::printf("custom op Swish: gradient %.5f (numeric %.5f); loss %.4f -> %.4f\n", analytic, numeric, first, last);
  return last < 0.5 * first ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
