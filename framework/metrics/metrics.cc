#include "strata/framework/metrics/metrics.h"

#include <cmath>
#include <cstdio>

#include "strata/framework/core/error.h"

namespace strata {

namespace {

int64_t arg_max(const float* z, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;
  return best;
}

}  // namespace

int64_t count_top1_hits(const Tensor& outputs, const Tensor& targets, int64_t count) {
  const float* z = outputs.f32();
  const int64_t* y = targets.data<int64_t>();
  const int64_t k = outputs.shape().back();
  const bool sequence = outputs.rank() == 3;  // [N,T,C]: per token; a negative target is ignored
  const int64_t rows = count * (sequence ? outputs.dim(1) : 1);
  int64_t hits = 0;
  for (int64_t i = 0; i < rows; ++i) {
    if (sequence && y[i] < 0) continue;
    if (y[i] < 0 || y[i] >= k)
      throw_invalid("class " + std::to_string(y[i]) + " outside [0," + std::to_string(k) + ")", "top-1 accuracy");
    hits += arg_max(z + i * k, k) == y[i];
  }
  return hits;
}

ConfusionMatrix::ConfusionMatrix(int64_t classes) : classes_(classes), counts_(classes * classes, 0) {}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_)
    throw_invalid("confusion matrix: class " + std::to_string(truth) + "/" + std::to_string(predicted) + " outside [0," +
                  std::to_string(classes_) + ")");
  ++counts_[truth * classes_ + predicted];
}

void ConfusionMatrix::add_batch(const Tensor& outputs, const Tensor& targets, int64_t count) {
  const float* z = outputs.f32();
  const int64_t* y = targets.data<int64_t>();
  int64_t k = outputs.shape().back();
  if (k != classes_)
    throw_invalid("confusion matrix of " + std::to_string(classes_) + " classes got outputs " + shape_str(outputs.shape()));
  const bool sequence = outputs.rank() == 3;  // per token; negative targets are ignored
  const int64_t rows = count * (sequence ? outputs.dim(1) : 1);
  for (int64_t i = 0; i < rows; ++i)
    if (!sequence || y[i] >= 0) add(y[i], arg_max(z + i * k, k));
}

int64_t ConfusionMatrix::total() const {
  int64_t t = 0;
  for (int64_t c : counts_) t += c;
  return t;
}

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int64_t c = 0; c < classes_; ++c) correct += at(c, c);
  return total() ? static_cast<double>(correct) / static_cast<double>(total()) : 0.0;
}

void ConfusionMatrix::class_totals(std::vector<int64_t>& predicted, std::vector<int64_t>& actual) const {
  predicted.assign(classes_, 0);
  actual.assign(classes_, 0);
  for (int64_t t = 0; t < classes_; ++t)
    for (int64_t p = 0; p < classes_; ++p) {
      predicted[p] += at(t, p);
      actual[t] += at(t, p);
    }
}

double ConfusionMatrix::precision() const {
  std::vector<int64_t> predicted, actual;
  class_totals(predicted, actual);
  double s = 0;
  for (int64_t c = 0; c < classes_; ++c)
    s += predicted[c] ? static_cast<double>(at(c, c)) / static_cast<double>(predicted[c]) : 0.0;
  return classes_ ? s / static_cast<double>(classes_) : 0.0;
}

double ConfusionMatrix::recall() const {
  std::vector<int64_t> predicted, actual;
  class_totals(predicted, actual);
  double s = 0;
  for (int64_t c = 0; c < classes_; ++c) s += actual[c] ? static_cast<double>(at(c, c)) / static_cast<double>(actual[c]) : 0.0;
  return classes_ ? s / static_cast<double>(classes_) : 0.0;
}

double ConfusionMatrix::f1() const {
  // Macro F1: the mean of per-class F1 (scikit-learn's f1_score(average="macro")).
  std::vector<int64_t> predicted, actual;
  class_totals(predicted, actual);
  double s = 0;
  for (int64_t c = 0; c < classes_; ++c) {
    double denom = static_cast<double>(predicted[c] + actual[c]);
    s += denom > 0 ? 2.0 * static_cast<double>(at(c, c)) / denom : 0.0;
  }
  return classes_ ? s / static_cast<double>(classes_) : 0.0;
}

std::string ConfusionMatrix::to_string(const std::vector<std::string>& names) const {
  std::string s = "truth \\ predicted\n";
  char buf[64];
  for (int64_t t = 0; t < classes_; ++t) {
    std::string label = t < static_cast<int64_t>(names.size()) ? names[t] : std::to_string(t);
    std::snprintf(buf, sizeof buf, "%12.12s", label.c_str());
    s += buf;
    for (int64_t p = 0; p < classes_; ++p) {
      std::snprintf(buf, sizeof buf, " %6lld", static_cast<long long>(at(t, p)));
      s += buf;
    }
    s += "\n";
  }
  return s;
}

void RegressionMetrics::add_batch(const Tensor& outputs, const Tensor& targets, int64_t count) {
  int64_t row = outputs.numel() / outputs.dim(0);
  const float* z = outputs.f32();
  const float* t = targets.f32();
  for (int64_t i = 0; i < count * row; ++i) {
    double e = static_cast<double>(z[i]) - t[i];
    sum_sq_err_ += e * e;
    sum_abs_err_ += std::abs(e);
    sum_y_ += t[i];
    sum_y_sq_ += static_cast<double>(t[i]) * t[i];
    ++n_;
  }
}

double RegressionMetrics::mse() const { return n_ ? sum_sq_err_ / static_cast<double>(n_) : 0.0; }
double RegressionMetrics::mae() const { return n_ ? sum_abs_err_ / static_cast<double>(n_) : 0.0; }
double RegressionMetrics::r2() const {
  if (!n_) return 0.0;
  double mean = sum_y_ / static_cast<double>(n_);
  double ss_tot = sum_y_sq_ - static_cast<double>(n_) * mean * mean;
  return ss_tot > 0 ? 1.0 - sum_sq_err_ / ss_tot : 0.0;
}

}  // namespace strata
