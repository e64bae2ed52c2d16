// Histograms in TensorBoard's HistogramProto layout (docs/wire-formats.md section 3).
//
// Buckets are TensorFlow's defaults: limits -DBL_MAX, -1e20.., -1e-12, 0, 1e-12 .. ~1e20,
// DBL_MAX, where each positive limit is the previous one times 1.1 (1551 limits in all).
// bucket[i] counts the values v with bucket_limit[i-1] <= v < bucket_limit[i]. Pure functions,
// thread-safe.
#pragma once

#include <cstddef>
#include <vector>

namespace strata::summary {

struct HistogramData {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  // Equal length; bucket_limit[i] is the right edge of bucket i. Empty buckets at both ends are
  // dropped (TensorBoard's Rust data server would show them as inverted ranges) and runs of
  // empty buckets inside are merged into one, as TensorFlow does.
  std::vector<double> bucket_limit;
  std::vector<double> bucket;
};

// TensorFlow's default bucket limits (computed once, immutable afterwards).
const std::vector<double>& default_bucket_limits();

// Histogram of n floats. Non-finite values (NaN, +-Inf) are left out because TensorBoard has
// no bucket for them; `num` counts only the finite values. An input with no finite value gives
// num = 0 and no buckets.
HistogramData make_histogram(const float* data, size_t n);

}  // namespace strata::summary
