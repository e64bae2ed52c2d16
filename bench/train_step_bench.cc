// One training step (forward + backward + Adam) of the MLP 784-512-256-10 and the LeNet-style
// CNN at batch 128: median of repeated timings, steps/s, samples/s and GFLOP/s (multiply-adds
// of forward + both backward GEMMs, counted as 2 FLOPs each). Run with OMP_NUM_THREADS=2.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "framework/core/rng.h"
#include "framework/loss/loss.h"
#include "framework/nn/network.h"
#include "framework/optim/optimizer.h"
#include "models/models.h"

using namespace strata;

double forward_flops(const GraphSpec& g, int64_t batch) {
  double f = 0;
  for (const NodeSpec& n : g.nodes) {
    if (n.op == "Linear") f += 2.0 * batch * shape_numel(n.params[0].shape);
    if (n.op == "Conv2d") f += 2.0 * batch * shape_numel(n.params[0].shape) * n.output_shape[1] * n.output_shape[2];
  }
  return f;
}

void bench(const char* name, const GraphSpec& g, int64_t batch, int steps, int repeats) {
  Network net(g);
  Optimizer opt(net, OptimizerOptions().kind_("adam"));
  auto loss = make_loss("softmax_cross_entropy");
  Shape xs = {batch};
  xs.insert(xs.end(), g.input_shape.begin(), g.input_shape.end());
  Tensor x(xs), y({batch}, DType::kI64);
  CounterRng rng(1, RngPurpose::kData);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = rng.uniform(i);
  for (int64_t i = 0; i < batch; ++i) y.data<int64_t>()[i] = i % 10;
  auto step = [&] {
    const Tensor& out = net.forward(x, Mode::kTrain);
    loss->compute(out, y, &net.output_grad());
    net.backward();
    opt.step(1e-3);
  };
  for (int i = 0; i < 5; ++i) step();  // warm-up: plan compilation, page faults
  std::vector<double> per_step;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step();
    per_step.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps);
  }
  std::sort(per_step.begin(), per_step.end());
  double s = per_step[per_step.size() / 2];
  double flops = 3 * forward_flops(g, batch);
  std::printf("%-4s batch %lld: %.2f ms/step  %.1f steps/s  %.0f samples/s  %.1f GFLOP/s\n", name,
              static_cast<long long>(batch), s * 1e3, 1 / s, batch / s, flops / s / 1e9);
}

int main(int argc, char** argv) {
  int steps = argc > 1 ? std::atoi(argv[1]) : 50;
  bench("mlp", models::mlp({1, 28, 28}, {784, 512, 256, 10}), 128, steps, 5);
  bench("cnn", models::lenet({1, 28, 28}, 10), 128, std::max(steps / 5, 5), 5);
}
