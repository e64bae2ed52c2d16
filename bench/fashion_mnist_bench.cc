// Strata side of bench/compare_pytorch.py: trains `steps` steps (forward + backward + Adam) of
// the MLP 784-512-256-10 or the LeNet-style CNN on Fashion-MNIST, or the small ResNet on
// synthetic 3x32x32 images, in batches of 128 from the DataLoader, then evaluates the test
// images in batches of 1000; prints one JSON line (bench_data.h) with training and evaluation
// samples/s (median and range of `repeats` timed runs), ms per step, the training GFLOP/s, the
// 2-thread sgemm peak measured here (dnnl_sgemm, 1024^3) and peak resident memory.
//   fashion_mnist_bench mlp|cnn|resnet STEPS REPEATS
#include <oneapi/dnnl/dnnl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_data.h"
#include "strata/datasets/data_loader.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/optim/optimizer.h"
#include "strata/models/models.h"

using namespace strata;
using Clock = std::chrono::steady_clock;

// Multiply-add FLOPs of one training step: forward, weight gradient, and the data gradient
// except where nothing before the layer learns (the network skips it there).
double train_flops(const GraphSpec& g, int64_t batch) {
  std::map<std::string, bool> learns_before = {{g.input_name, false}};
  double f = 0;
  for (const NodeSpec& n : g.nodes) {
    bool upstream = false;
    for (const std::string& in : n.inputs) upstream = upstream || learns_before[in];
    double fwd = 0;
    if (n.op == "Linear") fwd = 2.0 * batch * shape_numel(n.params[0].shape);
    if (n.op == "Conv2d") fwd = 2.0 * batch * shape_numel(n.params[0].shape) * n.output_shape[1] * n.output_shape[2];
    f += fwd * (upstream ? 3 : 2);
    learns_before[n.name] = upstream || !n.params.empty();
  }
  return f;
}

double sgemm_peak_gflops() {
  const int64_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<double> rates;
  for (int r = 0; r < 20; ++r) {
    auto t0 = Clock::now();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    rates.push_back(2.0 * n * n * n / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  }
  return *std::max_element(rates.begin(), rates.end());
}

int main(int argc, char** argv) {
  std::string model = argc > 1 ? argv[1] : "mlp";
  int steps = argc > 2 ? std::atoi(argv[2]) : 100, repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  bench::Data data = bench::load(model);
  Dataset train, test;
  train.x = data.train_x;
  train.y = data.train_y;
  train.num_classes = 10;
  test.x = data.test_x;
  test.y = Tensor({data.test_x.dim(0)}, DType::kI64);
  test.num_classes = 10;
  auto options = DataLoaderOptions().batch_size(128).seed(1).threads(1);
  DataLoader train_loader(train, options), test_loader(test, DataLoaderOptions(options).shuffle(false).batch_size(1000));
  Shape input(train.x.shape().begin() + 1, train.x.shape().end());
  GraphSpec graph = models::by_name(model, input, 10);
  Network net(graph);
  Optimizer opt(net, OptimizerOptions().kind("adam"));
  auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);
  int64_t epoch = 1;
  train_loader.start_epoch(epoch);
  auto step = [&] {
    Batch b;
    if (!train_loader.next(b)) {
      train_loader.start_epoch(++epoch);
      train_loader.next(b);
    }
    const Tensor& out = net.forward(b.x, Mode::kTrain);
    loss->compute(out, b.y, &net.output_grad());
    net.backward();
    opt.step(1e-3);
    return b.size;
  };
  auto evaluate = [&] {
    test_loader.start_epoch(1);
    Batch b;
    int64_t samples = 0;
    while (test_loader.next(b)) {
      net.forward(b.x, Mode::kEval);
      samples += b.size;
    }
    return samples;
  };
  for (int i = 0; i < 5; ++i) step();  // warm-up: plans, page faults
  evaluate();
  std::vector<double> train_rate, eval_rate;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    int64_t samples = 0;
    for (int i = 0; i < steps; ++i) samples += step();
    train_rate.push_back(samples / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    samples = evaluate();
    eval_rate.push_back(samples / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double train_sps = bench::median(train_rate);
  char extra[200];
  std::snprintf(extra, sizeof extra, ", \"train_gflops\": %.1f, \"sgemm_peak_gflops\": %.1f, \"activation_mb\": %.1f",
                train_flops(graph, 128) / 128 * train_sps / 1e9, sgemm_peak_gflops(), net.buffer_bytes() / 1048576.0);
  std::printf("%s\n", bench::json_line("strata", model, train_rate, eval_rate, usage.ru_maxrss / 1024.0, extra).c_str());
}
