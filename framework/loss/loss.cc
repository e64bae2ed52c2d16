#include "strata/framework/loss/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "strata/framework/core/error.h"

namespace strata {
namespace {

// Sums per-sample values in index order: deterministic regardless of OpenMP scheduling.
double ordered_mean(const std::vector<double>& per_sample) {
  double s = 0;
  for (double v : per_sample) s += v;
  return per_sample.empty() ? 0.0 : s / static_cast<double>(per_sample.size());
}

class LossBase : public Loss {
 public:
  LossBase(std::string name, bool classification) : name_(std::move(name)), classification_(classification) {}
  const std::string& name() const override { return name_; }
  bool classification() const override { return classification_; }

 protected:
  void check(const Tensor& out, const Tensor& target, const Tensor* grad) {
    if (out.rank() < 1 || out.dim(0) <= 0) throw_invalid(name_ + ": output " + shape_str(out.shape()) + " has no samples");
    int64_t n = out.dim(0);
    if (classification_) {
      // [N,classes] with targets [N]; a sequence [N,T,classes] with targets [N,T] (per token,
      // where the ignore index skips a token).
      const bool sequence = out.rank() == 3 && name_ == "softmax_cross_entropy";
      if (out.rank() != 2 && !sequence)
        throw_invalid(name_ + ": expected output [N,classes]" + (name_ == "softmax_cross_entropy" ? " or [N,T,classes]" : "") +
                      ", got " + shape_str(out.shape()));
      // Compared in place: a training step allocates nothing.
      bool shaped =
          target.rank() + 1 == out.rank() && std::equal(target.shape().begin(), target.shape().end(), out.shape().begin());
      if (target.dtype() != DType::kI64 || !shaped)
        throw_invalid(name_ + ": expected i64 targets " + shape_str(Shape(out.shape().begin(), out.shape().end() - 1)) +
                      ", got " + shape_str(target.shape()) + " " + dtype_name(target.dtype()));
      const int64_t* y = target.data<int64_t>();
      const int64_t classes = out.shape().back(), per_sample = target.numel() / n;
      for (int64_t i = 0; i < target.numel(); ++i)
        if ((y[i] < 0 || y[i] >= classes) && !(sequence && y[i] == ignore_index_))
          throw_invalid(name_ + ": target " + std::to_string(y[i]) + " of sample " + std::to_string(i / per_sample) +
                        (sequence ? ", token " + std::to_string(i % per_sample) : std::string()) + " is outside [0," +
                        std::to_string(classes) + ")" +
                        (sequence ? " and is not the ignore index " + std::to_string(ignore_index_) : ""));
    } else if (target.dtype() != DType::kF32 || target.numel() != out.numel()) {
      throw_invalid(name_ + ": expected f32 targets shaped like the output " + shape_str(out.shape()) + ", got " +
                    shape_str(target.shape()) + " " + dtype_name(target.dtype()));
    }
    if (grad && grad->numel() != out.numel()) throw_invalid(name_ + ": gradient buffer has the wrong size");
    per_sample_.assign(static_cast<size_t>(n), 0.0);
  }
  std::vector<double> per_sample_;
  int64_t ignore_index_ = -1;

 private:
  std::string name_;
  bool classification_;
};

class SoftmaxCrossEntropy : public LossBase {
 public:
  SoftmaxCrossEntropy(double smoothing, int64_t ignore_index) : LossBase("softmax_cross_entropy", true), smoothing_(smoothing) {
    if (smoothing < 0 || smoothing >= 1) throw_invalid("label_smoothing must be in [0,1), got " + std::to_string(smoothing));
    ignore_index_ = ignore_index;
  }
  double compute(const Tensor& out, const Tensor& target, Tensor* grad) override {
    check(out, target, grad);
    if (out.rank() == 3) return sequence(out, target, grad);
    int64_t n = out.dim(0), c = out.dim(1);
    const float* z = out.f32();
    const int64_t* y = target.data<int64_t>();
    float* g = grad ? grad->f32() : nullptr;
    double off = smoothing_ / static_cast<double>(c), on = 1.0 - smoothing_ + off;
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      const float* zi = z + i * c;
      float mx = *std::max_element(zi, zi + c);
      double sum = 0;
      for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(zi[j] - mx));
      double log_sum = std::log(sum) + mx, loss = 0;
      for (int64_t j = 0; j < c; ++j) {
        double q = j == y[i] ? on : off;
        loss -= q * (zi[j] - log_sum);
        if (g) g[i * c + j] = static_cast<float>((std::exp(zi[j] - log_sum) - q) / static_cast<double>(n));
      }
      per_sample_[i] = loss;
    }
    return ordered_mean(per_sample_);
  }

 private:
  // Per token over [N,T,C], as torch.nn.CrossEntropyLoss(ignore_index): the mean over the
  // tokens that are not ignored (per-sample sums added in order, then divided).
  double sequence(const Tensor& out, const Tensor& target, Tensor* grad) {
    const int64_t n = out.dim(0), t = out.dim(1), c = out.dim(2);
    const float* z = out.f32();
    const int64_t* y = target.data<int64_t>();
    float* g = grad ? grad->f32() : nullptr;
    int64_t counted = 0;
    for (int64_t i = 0; i < n * t; ++i) counted += y[i] != ignore_index_;
    const double scale = 1.0 / static_cast<double>(std::max<int64_t>(counted, 1));
    const double off = smoothing_ / static_cast<double>(c), on = 1.0 - smoothing_ + off;
#pragma omp parallel for
    for (int64_t s = 0; s < n; ++s) {
      double sample_sum = 0;
      for (int64_t k = s * t; k < (s + 1) * t; ++k) {
        const float* zi = z + k * c;
        if (y[k] == ignore_index_) {
          if (g) std::fill(g + k * c, g + (k + 1) * c, 0.f);
          continue;
        }
        float mx = *std::max_element(zi, zi + c);
        double sum = 0;
        for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(zi[j] - mx));
        double log_sum = std::log(sum) + mx;
        for (int64_t j = 0; j < c; ++j) {
          double q = j == y[k] ? on : off;
          sample_sum -= q * (zi[j] - log_sum);
          if (g) g[k * c + j] = static_cast<float>((std::exp(zi[j] - log_sum) - q) * scale);
        }
      }
      per_sample_[s] = sample_sum;
    }
    double total = 0;
    for (double v : per_sample_) total += v;
    return total * scale;
  }

  double smoothing_;
};

class MeanSquaredError : public LossBase {
 public:
  MeanSquaredError() : LossBase("mse", false) {}
  double compute(const Tensor& out, const Tensor& target, Tensor* grad) override {
    check(out, target, grad);
    int64_t n = out.dim(0), row = out.numel() / n;
    const float* z = out.f32();
    const float* t = target.f32();
    float* g = grad ? grad->f32() : nullptr;
    double scale = 2.0 / static_cast<double>(out.numel());
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = i * row; j < (i + 1) * row; ++j) {
        double d = static_cast<double>(z[j]) - t[j];
        s += d * d;
        if (g) g[j] = static_cast<float>(scale * d);
      }
      per_sample_[i] = s / static_cast<double>(row);
    }
    return ordered_mean(per_sample_);
  }
};

class MultiClassHinge : public LossBase {
 public:
  explicit MultiClassHinge(double margin) : LossBase("hinge", true), margin_(margin) {}
  double compute(const Tensor& out, const Tensor& target, Tensor* grad) override {
    check(out, target, grad);
    int64_t n = out.dim(0), c = out.dim(1);
    const float* z = out.f32();
    const int64_t* y = target.data<int64_t>();
    float* g = grad ? grad->f32() : nullptr;
    double inv_n = 1.0 / static_cast<double>(n);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      const float* zi = z + i * c;
      double loss = 0;
      int64_t active = 0;
      for (int64_t j = 0; j < c; ++j) {
        if (g) g[i * c + j] = 0.0f;
        if (j == y[i]) continue;
        double m = margin_ + zi[j] - zi[y[i]];
        if (m > 0) {
          loss += m;
          ++active;
          if (g) g[i * c + j] = static_cast<float>(inv_n);
        }
      }
      if (g) g[i * c + y[i]] = static_cast<float>(-static_cast<double>(active) * inv_n);
      per_sample_[i] = loss;
    }
    return ordered_mean(per_sample_);
  }

 private:
  double margin_;
};

class BceWithLogits : public LossBase {
 public:
  BceWithLogits() : LossBase("bce_with_logits", false) {}
  double compute(const Tensor& out, const Tensor& target, Tensor* grad) override {
    check(out, target, grad);
    int64_t n = out.dim(0), row = out.numel() / n;
    const float* z = out.f32();
    const float* t = target.f32();
    float* g = grad ? grad->f32() : nullptr;
    double scale = 1.0 / static_cast<double>(out.numel());
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = i * row; j < (i + 1) * row; ++j) {
        double x = z[j];
        // Stable form: never exponentiates a positive number.
        s += std::max(x, 0.0) - x * t[j] + std::log1p(std::exp(-std::abs(x)));
        if (g) g[j] = static_cast<float>(scale * (1.0 / (1.0 + std::exp(-x)) - t[j]));
      }
      per_sample_[i] = s / static_cast<double>(row);
    }
    return ordered_mean(per_sample_);
  }
};

}  // namespace

std::unique_ptr<Loss> make_loss(LossKind kind, const LossOptions& options) {
  switch (kind) {
    case LossKind::kSoftmaxCrossEntropy:
      return std::make_unique<SoftmaxCrossEntropy>(options.label_smoothing(), options.ignore_index());
    case LossKind::kMse:
      return std::make_unique<MeanSquaredError>();
    case LossKind::kHinge:
      return std::make_unique<MultiClassHinge>(options.margin());
    case LossKind::kBceWithLogits:
      return std::make_unique<BceWithLogits>();
  }
  throw_invalid("unknown loss kind " + std::to_string(static_cast<int>(kind)));
}

LossKind loss_kind_from_name(const std::string& name) {
  if (name == "softmax_cross_entropy" || name == "cross_entropy") return LossKind::kSoftmaxCrossEntropy;
  if (name == "mse") return LossKind::kMse;
  if (name == "hinge") return LossKind::kHinge;
  if (name == "bce_with_logits") return LossKind::kBceWithLogits;
  throw_invalid("unknown loss '" + name + "'", "", "use softmax_cross_entropy, mse, hinge or bce_with_logits");
}

}  // namespace strata
