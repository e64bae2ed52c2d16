// Epoch metrics: a confusion matrix for classification (accuracy, macro precision / recall /
// F1) and running sums for regression (MSE, MAE, R^2). Sums are exact integer counts or
// doubles accumulated in sample order, so values are reproducible bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"

namespace strata {

// Samples whose arg-max score (first on ties) is their class: outputs [B, classes], targets i64 [B].
int64_t count_top1_hits(const Tensor& outputs, const Tensor& targets, int64_t count);

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes = 0);
  // outputs [B, classes] scores, targets i64 [B]; the prediction is the arg-max (first on ties).
  void add_batch(const Tensor& outputs, const Tensor& targets, int64_t count);
  void add(int64_t truth, int64_t predicted);
  int64_t classes() const { return classes_; }
  int64_t at(int64_t truth, int64_t predicted) const { return counts_[truth * classes_ + predicted]; }
  int64_t total() const;
  double accuracy() const;
  // Macro averages over classes; a class with no predictions (or no samples) counts 0 for
  // precision (recall), as scikit-learn's zero_division=0.
  double precision() const;
  double recall() const;
  double f1() const;
  std::string to_string(const std::vector<std::string>& names = {}) const;

 private:
  // Per class: how many samples were predicted as it (column sums) and truly are it (row sums).
  void class_totals(std::vector<int64_t>& predicted, std::vector<int64_t>& actual) const;

  int64_t classes_;
  std::vector<int64_t> counts_;
};

class RegressionMetrics {
 public:
  void add_batch(const Tensor& outputs, const Tensor& targets, int64_t count);
  double mse() const;
  double mae() const;
  double r2() const;  // 1 - SS_res / SS_tot (over all target values)
  int64_t count() const { return n_; }

 private:
  int64_t n_ = 0;
  double sum_sq_err_ = 0, sum_abs_err_ = 0, sum_y_ = 0, sum_y_sq_ = 0;
};

}  // namespace strata
