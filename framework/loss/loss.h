// Losses: the mean over the batch of a per-sample loss, and its gradient w.r.t. the network
// output, written straight into Network::output_grad() (no allocation).
//
//   softmax_cross_entropy  L = -sum_c q_c log softmax(z)_c, q = (1-s) onehot(y) + s/C  (s: label smoothing);
//                          over a sequence ([N,T,C] outputs, [N,T] targets) the mean over the
//                          tokens whose target is not ignore_index
//   mse                    L = mean_j (z_j - t_j)^2
//   hinge                  L = sum_{c != y} max(0, margin + z_c - z_y)   (multi-class, Weston-Watkins)
//   bce_with_logits        L = mean_j max(z,0) - z t + log(1 + e^{-|z|})
//
// Per-sample losses are summed in a fixed order so the value is bit-identical for a given
// thread count (recorded metrics must resume bit-exactly).
#pragma once

#include <memory>
#include <string>

#include "strata/framework/core/options.h"
#include "strata/framework/core/tensor.h"

namespace strata {

struct LossOptions {
  STRATA_ARG(double, label_smoothing) = 0.0;  // softmax_cross_entropy
  STRATA_ARG(double, margin) = 1.0;           // hinge
  STRATA_ARG(int64_t, ignore_index) = -1;     // softmax_cross_entropy over sequences: skipped tokens
};

class Loss {
 public:
  virtual ~Loss() = default;
  // output [N, ...]; target i64 [N] (class losses; [N,T] for a sequence) or f32 shaped like output. grad may be null
  // (evaluation). Returns the mean loss over the batch.
  virtual double compute(const Tensor& output, const Tensor& target, Tensor* grad) = 0;
  virtual const std::string& name() const = 0;
  // True when targets are class indices (accuracy and the confusion matrix make sense).
  virtual bool classification() const = 0;
};

enum class LossKind { kSoftmaxCrossEntropy, kMse, kHinge, kBceWithLogits };

std::unique_ptr<Loss> make_loss(LossKind kind, const LossOptions& options = {});
// The kind a name (a config file's, a command line's) means: softmax_cross_entropy (alias
// cross_entropy), mse, hinge, bce_with_logits; kInvalidArgument for another.
LossKind loss_kind_from_name(const std::string& name);

}  // namespace strata
