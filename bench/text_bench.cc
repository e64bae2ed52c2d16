// Strata side of bench/text_pytorch.py: the LSTM classifier and the Transformer encoder
// classifier of models/ on synthetic token ids (the same formula on both sides: per sample i,
// length 3 + i % 14 of T = 16, ids 1 + (7919 i + 104729 t) % 59, padding 0, label i % 8),
// batches of 64, Adam. A warm-up of 20 steps, then REPEATS timed repetitions of one epoch (200
// steps over 12,800 samples) and of inference over 6,400 samples in batches of 512; prints one
// JSON line with the median and range of training and inference samples/s.
//   text_bench lstm|transformer REPEATS THREADS
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "strata/framework/loss/loss.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/optim/optimizer.h"
#include "strata/framework/train/runtime.h"
#include "strata/models/models.h"

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int64_t kVocab = 60, kSteps = 16, kClasses = 8, kBatch = 64, kTrain = 12800, kEval = 6400, kEvalBatch = 512;

void make_data(int64_t n, Tensor& x, Tensor& y) {
  x = Tensor({n, kSteps}, DType::kI64);
  y = Tensor({n}, DType::kI64);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t length = 3 + i % 14;
    for (int64_t t = 0; t < kSteps; ++t)
      x.data<int64_t>()[i * kSteps + t] = t < length ? 1 + (7919 * i + 104729 * t) % (kVocab - 1) : 0;
    y.data<int64_t>()[i] = i % kClasses;
  }
}

Tensor rows(const Tensor& t, int64_t begin, int64_t count) {
  Shape s = t.shape();
  s[0] = count;
  Tensor out(s, t.dtype());
  const size_t row = t.nbytes() / static_cast<size_t>(t.dim(0));
  std::copy(static_cast<const char*>(t.raw()) + begin * row, static_cast<const char*>(t.raw()) + (begin + count) * row,
            static_cast<char*>(out.raw()));
  return out;
}

struct Stats {
  double median, low, high;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

int main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "lstm";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  set_num_threads(argc > 3 ? std::atoi(argv[3]) : 2);
  auto options = models::TextModelOptions().dim(64).hidden(128).heads(4).layers(model == "lstm" ? 1 : 2);
  GraphSpec g = model == "lstm" ? models::recurrent_classifier(kSteps, kVocab, kClasses, options)
                                : models::transformer_classifier(kSteps, kVocab, kClasses, options);
  Network net(g, NetworkOptions().weight_init(argc > 4 ? argv[4] : ""));
  net.init_params(1);
  Optimizer opt(net, OptimizerOptions().kind("adam").lr(1e-3));
  auto loss = make_loss(LossKind::kSoftmaxCrossEntropy);
  Tensor x, y, ex, ey;
  make_data(kTrain, x, y);
  make_data(kEval, ex, ey);
  std::vector<Tensor> bx, by, eval_x;
  for (int64_t b = 0; b < kTrain / kBatch; ++b) {
    bx.push_back(rows(x, b * kBatch, kBatch));
    by.push_back(rows(y, b * kBatch, kBatch));
  }
  for (int64_t b = 0; b < kEval / kEvalBatch; ++b) eval_x.push_back(rows(ex, b * kEvalBatch, kEvalBatch));
  double last_loss = 0;
  auto step = [&](size_t b) {
    const Tensor& out = net.forward(bx[b], Mode::kTrain);
    last_loss = loss->compute(out, by[b], &net.output_grad());
    net.backward();
    opt.step(1e-3);
  };
  for (size_t b = 0; b < 20; ++b) step(b);  // warm-up: plans compiled, caches filled
  for (const Tensor& e : eval_x) net.forward(e, Mode::kEval);
  std::vector<double> train, infer;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    for (size_t b = 0; b < bx.size(); ++b) step(b);
    train.push_back(kTrain / std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    for (const Tensor& e : eval_x) net.forward(e, Mode::kEval);
    infer.push_back(kEval / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  Stats t = stats(train), i = stats(infer);
  std::printf(
      "{\"framework\": \"strata\", \"model\": \"%s\", \"train_samples_per_s\": %.1f, \"train_min\": %.1f, "
      "\"train_max\": %.1f, \"infer_samples_per_s\": %.1f, \"infer_min\": %.1f, \"infer_max\": %.1f, "
      "\"final_loss\": %.4f, \"parameters\": %lld, \"peak_rss_mb\": %.1f}\n",
      model.c_str(), t.median, t.low, t.high, i.median, i.low, i.high, last_loss, static_cast<long long>(net.num_trainable()),
      usage.ru_maxrss / 1024.0);
  return 0;
}
