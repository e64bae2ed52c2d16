// Int8 inference against f32: two versions of one log (an f32 version and its `strata quantize`d
// child), each served by a Predictor on the Fashion-MNIST test images.
//
//   int8_bench LOG F32_VERSION INT8_VERSION [--batch 256] [--rounds 6]
//
// Each round predicts all 10,000 test images once with each side, in alternating order, after
// one warm-up pass each; prints per side the median and min-max throughput (samples/s) and the
// test accuracy, and the median of the per-round ratios int8 / f32, as one JSON line. The
// kernels oneDNN picks: run it with ONEDNN_VERBOSE=1 (lines "exec,cpu,convolution,...").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "strata/datasets/idx.h"
#include "strata/versioning/run/predictor.h"

using namespace strata;

namespace {

struct Side {
  versioning::Predictor predictor;
  std::vector<double> rate;  // samples/s per round
  double accuracy = 0;
};

// One pass over the test set in batches; returns samples/s and sets the side's accuracy.
double pass(Side& side, const Dataset& test, int64_t batch) {
  const int64_t n = test.x.dim(0);
  int64_t correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const Dataset part = test.subset(b0, std::min(n, b0 + batch));
    const Tensor& logits = side.predictor.predict(part.x);
    const int64_t rows = logits.dim(0), classes = logits.dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      const float* z = logits.f32() + r * classes;
      correct += std::max_element(z, z + classes) - z == part.y.data<int64_t>()[r];
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  side.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return static_cast<double>(n) / seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string summary(const std::vector<double>& v) {
  return "{\"median\":" + std::to_string(median(v)) + ",\"min\":" + std::to_string(*std::min_element(v.begin(), v.end())) +
         ",\"max\":" + std::to_string(*std::max_element(v.begin(), v.end())) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("int8 against f32 inference on the Fashion-MNIST test set");
  std::string log, f32_version, int8_version;
  int64_t batch = 256;
  int rounds = 6;
  app.add_option("LOG", log)->required();
  app.add_option("F32_VERSION", f32_version)->required();
  app.add_option("INT8_VERSION", int8_version)->required();
  app.add_option("--batch", batch)->check(CLI::Range(1, 1 << 16));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  const Dataset test = load_fashion_mnist(kFashionMnistDir, false);
  Side f32{versioning::Predictor(log, f32_version), {}, 0}, int8{versioning::Predictor(log, int8_version), {}, 0};
  pass(f32, test, batch);  // warm-up: plans, page faults
  pass(int8, test, batch);
  std::vector<double> ratio;
  for (int r = 0; r < rounds; ++r) {
    Side& first = r % 2 ? int8 : f32;
    Side& second = r % 2 ? f32 : int8;
    first.rate.push_back(pass(first, test, batch));
    second.rate.push_back(pass(second, test, batch));
    ratio.push_back(int8.rate.back() / f32.rate.back());
  }
  std::printf(
      "{\"batch\":%lld,\"rounds\":%d,\"f32\":{\"version\":\"%s\",\"samples_per_s\":%s,\"accuracy\":%.4f},"
      "\"int8\":{\"version\":\"%s\",\"samples_per_s\":%s,\"accuracy\":%.4f},\"ratio\":%s}\n",
      static_cast<long long>(batch), rounds, f32.predictor.name().c_str(), summary(f32.rate).c_str(), f32.accuracy,
      int8.predictor.name().c_str(), summary(int8.rate).c_str(), int8.accuracy, summary(ratio).c_str());
  return 0;
}
