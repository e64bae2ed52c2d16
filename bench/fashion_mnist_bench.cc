// Strata side of bench/compare_pytorch.py: trains `steps` steps (forward + backward + Adam) of
// the MLP 784-512-256-10 or the LeNet-style CNN on Fashion-MNIST batches of 128 from the
// DataLoader, then evaluates the 10,000 test images; prints one JSON line with training and
// evaluation samples/s (median of `repeats` timed runs), GFLOP/s and peak resident memory.
//   fashion_mnist_bench mlp|cnn STEPS REPEATS
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "strata/datasets/data_loader.h"
#include "strata/datasets/idx.h"
#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/optim/optimizer.h"
#include "strata/models/models.h"

using namespace strata;
using Clock = std::chrono::steady_clock;

double forward_flops(const GraphSpec& g, int64_t batch) {
  double f = 0;
  for (const NodeSpec& n : g.nodes) {
    if (n.op == "Linear") f += 2.0 * batch * shape_numel(n.params[0].shape);
    if (n.op == "Conv2d") f += 2.0 * batch * shape_numel(n.params[0].shape) * n.output_shape[1] * n.output_shape[2];
  }
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  std::string model = argc > 1 ? argv[1] : "mlp";
  int steps = argc > 2 ? std::atoi(argv[2]) : 100, repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  Dataset train = load_fashion_mnist(kFashionMnistDir, true), test = load_fashion_mnist(kFashionMnistDir, false);
  auto options = DataLoaderOptions().batch_size(128).seed(1).threads(1);
  DataLoader train_loader(train, options), test_loader(test, DataLoaderOptions(options).shuffle(false).batch_size(1000));
  GraphSpec graph = models::by_name(model, {1, 28, 28}, 10);
  Network net(graph);
  Optimizer opt(net, OptimizerOptions().kind("adam"));
  auto loss = make_loss("softmax_cross_entropy");
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
  for (int i = 0; i < 5; ++i) step();  // warm-up: plans, page faults
  std::vector<double> train_rate, eval_rate;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    int64_t samples = 0;
    for (int i = 0; i < steps; ++i) samples += step();
    train_rate.push_back(samples / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    test_loader.start_epoch(1);
    Batch b;
    samples = 0;
    while (test_loader.next(b)) {
      net.forward(b.x, Mode::kEval);
      samples += b.size;
    }
    eval_rate.push_back(samples / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double train_sps = median(train_rate);
  std::printf("{\"framework\": \"strata\", \"model\": \"%s\", \"train_samples_per_s\": %.1f, \"eval_samples_per_s\": %.1f, "
              "\"train_gflops\": %.2f, \"peak_rss_mb\": %.1f}\n",
              model.c_str(), train_sps, median(eval_rate), 3 * forward_flops(graph, 128) / 128 * train_sps / 1e9,
              usage.ru_maxrss / 1024.0);
}
