// What fashion_mnist_bench (Strata) and libtorch_bench share, so both sides train on the same
// data and print the same JSON line: Fashion-MNIST for the MLP and the CNN, synthetic 3x32x32
// images with random labels for the ResNet (speed does not depend on the pixel values).
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "strata/datasets/idx.h"
#include "strata/framework/core/rng.h"

namespace bench {

struct Data {
  strata::Tensor train_x, train_y, test_x;  // f32 [N,C,H,W], i64 [N], f32 [M,C,H,W]
};

inline strata::Tensor synthetic_images(int64_t n, uint64_t seed) {
  strata::Tensor x({n, 3, 32, 32});
  strata::CounterRng rng(seed, strata::RngPurpose::kData);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = static_cast<float>(rng.uniform(i));
  return x;
}

inline Data load(const std::string& model) {
  if (model == "resnet") {
    Data d{synthetic_images(12800, 1), strata::Tensor({12800}, strata::DType::kI64), synthetic_images(2000, 2)};
    for (int64_t i = 0; i < 12800; ++i) d.train_y.data<int64_t>()[i] = (i * 7919) % 10;
    return d;
  }
  strata::Dataset train = strata::load_fashion_mnist(strata::kFashionMnistDir, true);
  strata::Dataset test = strata::load_fashion_mnist(strata::kFashionMnistDir, false);
  return {train.x, train.y, test.x};
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One JSON line: medians and ranges of samples/s, ms per training step of 128, peak RSS.
inline std::string json_line(const std::string& framework, const std::string& model, const std::vector<double>& train,
                             const std::vector<double>& eval, double peak_rss_mb, const std::string& extra = "") {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "{\"framework\": \"%s\", \"model\": \"%s\", \"train_samples_per_s\": %.1f, \"train_min\": %.1f, "
                "\"train_max\": %.1f, \"ms_per_step\": %.2f, \"eval_samples_per_s\": %.1f, \"eval_min\": %.1f, "
                "\"eval_max\": %.1f, \"peak_rss_mb\": %.1f%s}",
                framework.c_str(), model.c_str(), median(train), *std::min_element(train.begin(), train.end()),
                *std::max_element(train.begin(), train.end()), 128.0 * 1000.0 / median(train), median(eval),
                *std::min_element(eval.begin(), eval.end()), *std::max_element(eval.begin(), eval.end()), peak_rss_mb,
                extra.c_str());
  return buf;
}

}  // namespace bench
