// Helpers of the op tests (ops_test, op_harness_test): seeded uniform values, distinct values
// away from the kinks of ReLU and max pooling, and the central-difference probe. Header-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "strata/framework/core/rng.h"
#include "strata/framework/core/tensor.h"

namespace strata::optest {

inline void fill_uniform(Tensor& t, uint64_t seed, float lo, float hi) {
  CounterRng rng(seed, RngPurpose::kData);
  float* p = t.f32();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * rng.uniform(i);
}

// Distinct values spaced 0.05 apart with |x| >= 0.05, in shuffled order: no max-pool ties and no
// ReLU kink within a perturbation of 1e-2. Scaled up for large tensors so they stay within +-2.
inline void fill_distinct(Tensor& t, uint64_t seed) {
  CounterRng rng(seed, RngPurpose::kData);
  int64_t n = t.numel();
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.05f * static_cast<float>(i - n / 2) + (i >= n / 2 ? 0.05f : 0.0f);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.below(i, i + 1)]);
  std::copy(v.begin(), v.end(), t.f32());
  float scale = 2.0f / std::max<float>(1.0f, 0.05f * n);
  for (int64_t i = 0; i < n; ++i) t.f32()[i] *= std::max(scale, 1.0f);
}

// Double-precision weighted sum sum_i y_i r_i: the scalar loss whose gradient is r.
inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.f32()[i]) * r.f32()[i];
  return s;
}

// Central differences (step 1e-2) of loss_at() over up to `samples` coordinates of t (all when
// t is that small, else a seeded pick) against `analytic`, within 3e-3 + 3% of the larger.
inline void expect_gradient(Tensor& t, const Tensor& analytic, const std::string& name, int samples,
                            const std::function<double()>& loss_at) {
  constexpr float kEps = 1e-2f;
  CounterRng pick(99, RngPurpose::kData);
  const int64_t n = t.numel();
  for (int64_t k = 0; k < std::min<int64_t>(samples, n); ++k) {
    const int64_t i = n <= samples ? k : static_cast<int64_t>(pick.below(k, n));
    const float saved = t.f32()[i];
    t.f32()[i] = saved + kEps;
    const double up = loss_at();
    t.f32()[i] = saved - kEps;
    const double down = loss_at();
    t.f32()[i] = saved;
    const double numeric = (up - down) / (2.0 * kEps), a = analytic.f32()[i];
    EXPECT_NEAR(a, numeric, 3e-3 + 3e-2 * std::max(std::abs(a), std::abs(numeric))) << name << "[" << i << "]";
  }
}

}  // namespace strata::optest
