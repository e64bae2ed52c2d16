#include "strata/datasets/dataset.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"

namespace strata {

std::pair<Dataset, Dataset> Dataset::split_validation(double fraction, uint64_t seed) const {
  if (!(fraction >= 0 && fraction < 1)) throw_invalid("validation fraction must be in [0, 1)", source, "e.g. --val-split 0.1");
  const int64_t n = size(), held = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  const CounterRng rng(seed, RngPurpose::kShuffle, 0);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)],
              order[static_cast<size_t>(rng.below(static_cast<uint64_t>(i), static_cast<uint64_t>(i + 1)))]);
  std::vector<bool> in_val(static_cast<size_t>(n), false);
  for (int64_t k = 0; k < held; ++k) in_val[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
  auto take = [&](bool val) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n; ++i)
      if (in_val[static_cast<size_t>(i)] == val) rows.push_back(i);
    Dataset out = *this;
    for (Tensor* t : {&out.x, &out.y}) {
      const Tensor& src = t == &out.x ? x : y;
      if (!src.defined()) continue;
      Shape shape = src.shape();
      shape[0] = static_cast<int64_t>(rows.size());
      Tensor dst(shape, src.dtype());
      const size_t row = static_cast<size_t>(row_bytes(src));
      for (size_t k = 0; k < rows.size(); ++k)
        std::memcpy(static_cast<uint8_t*>(dst.raw()) + k * row,
                    static_cast<const uint8_t*>(src.raw()) + static_cast<size_t>(rows[k]) * row, row);
      *t = dst;
    }
    char what[160];
    std::snprintf(what, sizeof what, "%s part (%zu samples) of a validation split %g, seed %llu", val ? "validation" : "training",
                  rows.size(), fraction, static_cast<unsigned long long>(seed));
    out.preprocess = (preprocess.empty() ? "" : preprocess + "; ") + what;
    return out;
  };
  return {take(false), take(true)};
}

Dataset Dataset::subset(int64_t begin, int64_t end) const {
  int64_t n = size();
  if (begin < 0 || end < begin || end > n)
    throw_invalid(
        "subset [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside the " + std::to_string(n) + " samples",
        source, "use 0 <= begin <= end <= size()");
  auto copy_rows = [&](const Tensor& t) { return t.defined() ? t.rows(begin, end) : Tensor(); };
  Dataset out = *this;
  out.x = copy_rows(x);
  out.y = copy_rows(y);
  out.preprocess =
      (preprocess.empty() ? "" : preprocess + "; ") + "rows [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  return out;
}

void Dataset::validate(const std::string& who) const {
  if (!x.defined() || x.rank() == 0) throw_invalid(who + ": the dataset has no x tensor", source);
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kI32 && x.dtype() != DType::kI64)
    throw_invalid(who + ": x must be f32 (features) or i32/i64 (token ids), got " + dtype_name(x.dtype()), source);
  if (!y.defined() || y.rank() == 0) throw_invalid(who + ": the dataset has no y tensor", source);
  if (y.dim(0) != x.dim(0))
    throw_invalid(who + ": y has " + std::to_string(y.dim(0)) + " rows, x has " + std::to_string(x.dim(0)), source);
  if (num_classes < 0) throw_invalid(who + ": negative num_classes " + std::to_string(num_classes), source);
  if (num_classes > 0) {
    if (y.dtype() != DType::kI64 || y.rank() > 2)
      throw_invalid(
          who + ": a classification y must be i64 [N] or [N,T], got " + dtype_name(y.dtype()) + " " + shape_str(y.shape()),
          source);
    // Per-token targets (rank 2) may leave positions out; one label per sample may not.
    const bool per_token = y.rank() == 2;
    if (per_token && x.rank() >= 2 && y.dim(1) != x.dim(1))
      throw_invalid(who + ": per-token targets " + shape_str(y.shape()) + " do not match the " + std::to_string(x.dim(1)) +
                        " positions of x " + shape_str(x.shape()),
                    source);
    const int64_t per_row = per_token ? y.dim(1) : 1;
    const int64_t* labels = y.data<int64_t>();
    for (int64_t i = 0; i < y.numel(); ++i) {
      if ((labels[i] >= 0 && labels[i] < num_classes) || (per_token && labels[i] == kIgnoreIndex)) continue;
      throw_invalid(who + ": label " + std::to_string(labels[i]) + " of sample " + std::to_string(i / per_row) +
                        (per_token ? " position " + std::to_string(i % per_row) : std::string()) + " is outside [0, " +
                        std::to_string(num_classes) + ")" + (per_token ? " and is not the ignore index -1" : ""),
                    source);
    }
  }
}

int64_t row_bytes(const Tensor& t) {
  if (!t.defined() || t.rank() == 0 || t.dim(0) == 0) return 0;
  return static_cast<int64_t>(t.nbytes()) / t.dim(0);
}

ChannelStats channel_stats(const Tensor& x) {
  if (!x.defined() || x.dtype() != DType::kF32 || x.rank() == 0 || x.numel() == 0)
    throw_invalid("channel_stats: expected a non-empty f32 tensor, got " +
                  std::string(x.defined() ? dtype_name(x.dtype()) : "undefined") + " " + shape_str(x.shape()));
  int64_t n = x.dim(0);
  int64_t channels = x.rank() >= 2 ? x.dim(1) : 1;
  int64_t inner = x.numel() / (n * channels);
  std::vector<double> sum(channels, 0.0), sq(channels, 0.0);
  const float* p = x.f32();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float* q = p + (i * channels + c) * inner;
      double s = 0, s2 = 0;
      for (int64_t k = 0; k < inner; ++k) {
        s += q[k];
        s2 += static_cast<double>(q[k]) * q[k];
      }
      sum[c] += s;
      sq[c] += s2;
    }
  ChannelStats stats;
  double count = static_cast<double>(n) * static_cast<double>(inner);
  for (int64_t c = 0; c < channels; ++c) {
    double mean = sum[c] / count;
    double var = std::max(0.0, sq[c] / count - mean * mean);
    stats.mean.push_back(static_cast<float>(mean));
    stats.std.push_back(static_cast<float>(std::sqrt(var)));
  }
  return stats;
}

}  // namespace strata
