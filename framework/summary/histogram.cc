#include "framework/summary/histogram.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace strata::summary {

const std::vector<double>& default_bucket_limits() {
  // Same arithmetic as TensorFlow's InitDefaultBucketsInner (repeated *= 1.1, not pow), so the
  // limits are bit-identical to TensorFlow's.
  static const std::vector<double> limits = [] {
    std::vector<double> pos;
    for (double v = 1.0e-12; v < 1.0e20; v *= 1.1) pos.push_back(v);
    pos.push_back(DBL_MAX);
    std::vector<double> out;
    out.reserve(2 * pos.size() + 1);
    for (auto it = pos.rbegin(); it != pos.rend(); ++it) out.push_back(-*it);
    out.push_back(0.0);
    out.insert(out.end(), pos.begin(), pos.end());
    return out;
  }();
  return limits;
}

HistogramData make_histogram(const float* data, size_t n) {
  const std::vector<double>& limits = default_bucket_limits();
  std::vector<double> counts(limits.size(), 0.0);
  HistogramData h;
  double lo = DBL_MAX, hi = -DBL_MAX;
  for (size_t i = 0; i < n; ++i) {
    const double v = data[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    h.num += 1;
    h.sum += v;
    h.sum_squares += v * v;
    // First limit strictly greater than v: bucket b covers [limit[b-1], limit[b]). A finite
    // float is always below DBL_MAX, so b is in range.
    const size_t b = static_cast<size_t>(
        std::upper_bound(limits.begin(), limits.end(), v) - limits.begin());
    counts[b] += 1;
  }
  if (h.num == 0) return h;
  h.min = lo;
  h.max = hi;

  size_t first = 0, last = counts.size() - 1;
  while (counts[first] == 0) ++first;
  while (counts[last] == 0) --last;
  for (size_t i = first; i <= last; ++i) {
    if (counts[i] == 0) {
      // Merge a run of empty buckets into one that ends where the run ends.
      while (counts[i + 1] == 0) ++i;
    }
    h.bucket_limit.push_back(limits[i]);
    h.bucket.push_back(counts[i]);
  }
  return h;
}

}  // namespace strata::summary
