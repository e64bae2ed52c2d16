// Dataset: a whole labelled data set in memory, as the readers of datasets/ produce it and the
// DataLoader consumes it.
//
// Plain value type. Copies share the tensors' storage (Tensor semantics), so copying a Dataset
// is cheap; subset() makes real copies. Not synchronised: share it between threads only
// read-only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata {

// A per-token target that takes no part in the loss or the metrics: positions a rank-2
// classification y leaves out (e.g. padding after the end of a text). Only rank-2 y may hold
// it; a rank-1 y is one label per sample and must be a class.
constexpr int64_t kIgnoreIndex = -1;

struct Dataset {
  // f32 [N, ...]: images [N,C,H,W] scaled to [0,1], or tabular [N, features]. Or integer
  // token ids, i64 (or i32) [N, T]: characters of a word or a window of text (datasets/text.h).
  Tensor x;
  // Classification: i64 [N] class indices in [0, num_classes), or i64 [N, T] per-token targets
  // (a language model's next token) in [0, num_classes) or kIgnoreIndex. Regression: f32
  // [N, targets].
  Tensor y;
  int64_t num_classes = 0;  // 0 for regression
  std::vector<std::string> class_names, feature_names;
  std::string source;  // path(s) it came from, for messages and provenance
  // What was done to the data before the loader (e.g. "first 12000", "validation split 0.1 seed 1"),
  // recorded with the versions trained on it.
  std::string preprocess;

  // Number of samples (rows of x); 0 for an empty Dataset.
  int64_t size() const { return x.defined() && x.rank() > 0 ? x.dim(0) : 0; }
  // Copies rows [begin, end) of x and y; metadata is kept. Throws kInvalidArgument on a bad
  // range.
  Dataset subset(int64_t begin, int64_t end) const;
  // A seeded split into (training, validation): round(fraction x size()) samples, chosen by a
  // seeded shuffle, are held out for validation; both keep dataset order. Recorded in
  // preprocess. fraction in [0, 1).
  std::pair<Dataset, Dataset> split_validation(double fraction, uint64_t seed) const;
  // Throws kInvalidArgument unless x is f32, i32 or i64 with rank >= 1, y has as many rows as
  // x, and a classification y is i64 [N] with labels in [0, num_classes) or i64 [N, T] with
  // labels in [0, num_classes) or kIgnoreIndex. `who` prefixes the message.
  void validate(const std::string& who = "dataset") const;
};

// Bytes of one row (one sample) of t: nbytes / dim(0); 0 for an undefined or empty tensor.
int64_t row_bytes(const Tensor& t);

// Per-channel mean and (population) standard deviation of x, channel = dim 1 (the C of
// [N,C,H,W], the feature of [N,F]); for rank-1 x a single channel. Computed in double. Feed
// them to DataLoaderOptions::mean/std, computed on the training set only.
struct ChannelStats {
  std::vector<float> mean, std;
};
ChannelStats channel_stats(const Tensor& x);

}  // namespace strata
