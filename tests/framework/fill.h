// Test inputs for the op tests (ops_test, op_harness_test): seeded uniform values, and distinct
// values away from the kinks of ReLU and max pooling. Header-only.
#pragma once

#include <algorithm>
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

}  // namespace strata::optest
