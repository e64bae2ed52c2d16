#include "strata/framework/summary/histogram.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

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

namespace {

// Where to start looking for a float's bucket, indexed by the float's top 13 bits (sign,
// exponent, 4 mantissa bits). A cell spans a value ratio of at most 2^(1/16) < 1.1, so it
// holds at most one limit and the scan below takes one or two comparisons instead of the
// eleven unpredictable branches of a binary search over 1551 limits.
constexpr int kCellShift = 19;

const std::vector<uint16_t>& cell_starts() {
  static const std::vector<uint16_t> starts = [] {
    const std::vector<double>& limits = default_bucket_limits();
    std::vector<uint16_t> out(size_t{1} << (32 - kCellShift), 0);
    for (uint32_t cell = 0; cell < out.size(); ++cell) {
      const bool negative = cell >> (31 - kCellShift);
      // Smallest value of the cell: lowest mantissa for positives, highest for negatives.
      const uint32_t bits = (cell << kCellShift) | (negative ? (1u << kCellShift) - 1 : 0u);
      float v;
      std::memcpy(&v, &bits, sizeof v);
      if (!std::isfinite(v)) continue;  // never looked up: non-finite values are skipped
      out[cell] = static_cast<uint16_t>(std::upper_bound(limits.begin(), limits.end(), static_cast<double>(v)) - limits.begin());
    }
    return out;
  }();
  return starts;
}

}  // namespace

HistogramData make_histogram(const float* data, size_t n) {
  const std::vector<double>& limits = default_bucket_limits();
  const std::vector<uint16_t>& starts = cell_starts();
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
    // First limit strictly greater than v: bucket b covers [limit[b-1], limit[b]). The cell's
    // start is at or below it (the cell's smallest value is <= v), and a finite float is below
    // DBL_MAX, so the scan stops inside the array.
    uint32_t bits;
    std::memcpy(&bits, &data[i], sizeof bits);
    size_t b = starts[bits >> kCellShift];
    while (limits[b] <= v) ++b;
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
