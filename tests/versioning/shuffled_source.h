// Synthetic classification data for Trainer tests without a dataset on disk: fixed seeded
// samples whose class shows in their features, served in a seeded per-epoch shuffle (like
// DataLoader), so that training is deterministic and resumable. Header-only test helper.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "strata/framework/core/rng.h"
#include "strata/framework/core/tensor.h"
#include "strata/framework/train/batch_source.h"

namespace strata::versioning::vtest {

// Synthetic classification data with a seeded per-epoch shuffle (like DataLoader).
class ShuffledSource : public BatchSource {
 public:
  // vocab > 0: token ids (i64) in [1, vocab) padded with 0 at the end; token i % 3 + 1 marks
  // the class.
  ShuffledSource(Shape sample, int64_t n, int64_t batch, int64_t vocab = 0) : n_(n), batch_(batch) {
    Shape xs = {n};
    xs.insert(xs.end(), sample.begin(), sample.end());
    x_ = Tensor(xs, vocab > 0 ? DType::kI64 : DType::kF32);
    y_ = Tensor({n}, DType::kI64);
    CounterRng rng(5, RngPurpose::kData);
    int64_t row = x_.numel() / n;
    for (int64_t i = 0; i < n; ++i) {
      y_.data<int64_t>()[i] = i % 3;
      for (int64_t j = 0; j < row; ++j) {
        if (vocab == 0) {
          x_.f32()[i * row + j] = rng.uniform(i * row + j) + (j % 3 == i % 3 ? 0.7f : 0.0f);
          continue;
        }
        int64_t length = 2 + i % (row - 1);
        int64_t id = j >= length ? 0 : j == 0 ? i % 3 + 1 : 1 + static_cast<int64_t>(rng.below(i * row + j, vocab - 1));
        x_.data<int64_t>()[i * row + j] = id;
      }
    }
  }
  int64_t num_batches() const override { return (n_ + batch_ - 1) / batch_; }
  int64_t num_samples() const override { return n_; }
  void start_epoch(int64_t epoch) override {
    order_.resize(n_);
    for (int64_t i = 0; i < n_; ++i) order_[i] = i;
    CounterRng rng(9, RngPurpose::kShuffle, epoch);
    for (int64_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(i, i + 1)]);
    next_ = 0;
  }
  bool next(Batch& out) override {
    if (next_ >= n_) return false;
    int64_t b = std::min(batch_, n_ - next_), row = x_.numel() / n_;
    Shape xs = x_.shape();
    xs[0] = b;
    out.x = Tensor(xs, x_.dtype());
    out.y = Tensor({b}, DType::kI64);
    const size_t row_bytes = row * dtype_size(x_.dtype());
    for (int64_t k = 0; k < b; ++k) {
      int64_t i = order_[next_ + k];
      std::memcpy(static_cast<char*>(out.x.raw()) + k * row_bytes, static_cast<const char*>(x_.raw()) + i * row_bytes, row_bytes);
      out.y.data<int64_t>()[k] = y_.data<int64_t>()[i];
    }
    out.size = b;
    next_ += b;
    return true;
  }

 private:
  Tensor x_, y_;
  int64_t n_, batch_, next_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace strata::versioning::vtest
