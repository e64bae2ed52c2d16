// Optimizers over a Network's parameters (PyTorch update rules), with L1/L2 penalties and
// gradient clipping by global norm. State is exposed as named tensors "optim/<param>/<slot>"
// (what the version log stores) and can be set from them.
//
//   sgd      g += wd p; b = mu b + g; p -= lr (nesterov ? g + mu b : b)
//   adam     m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)
//   adamw    p *= 1 - lr wd, then adam without the L2 term
//   rmsprop  s = a s + (1-a) g^2; u = g / (sqrt(s) + eps); b = mu b + u; p -= lr (mu ? b : u)
//
// Not thread-safe; the update itself is parallel over elements (deterministic).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/nn/network.h"
#include "strata/framework/train/train_state.h"

namespace strata {

// The optimizer and its settings. A setting that does not apply to `kind` (momentum for adam,
// betas for sgd, ...) is refused by the Optimizer rather than ignored.
struct OptimizerOptions {
  STRATA_ARG(std::string, kind) = "adam";  // sgd, adam, adamw, rmsprop
  STRATA_ARG(double, lr) = 1e-3;
  STRATA_ARG(double, momentum) = 0.0;  // sgd, rmsprop
  STRATA_ARG(bool, nesterov) = false;  // sgd
  STRATA_ARG(double, beta1) = 0.9;     // adam(w)
  STRATA_ARG(double, beta2) = 0.999;   // adam(w)
  STRATA_ARG(double, eps) = 1e-8;      // adam(w), rmsprop
  STRATA_ARG(double, alpha) = 0.99;    // rmsprop smoothing
  // The one weight-decay knob: an L2 penalty g += weight_decay * p for sgd, adam and rmsprop,
  // decoupled p -= lr * weight_decay * p for adamw.
  STRATA_ARG(double, weight_decay) = 0.0;
  STRATA_ARG(double, l1) = 0.0;         // L1 penalty: g += l1 sign(p)
  STRATA_ARG(double, clip_norm) = 0.0;  // clip gradients to this global L2 norm (0 = off)

 public:
  OptimizerOptions& betas(double b1, double b2) { return beta1(b1).beta2(b2); }
};

class Optimizer {
 public:
  // Keeps a reference to the network's parameters; the network must outlive the optimizer.
  Optimizer(Network& network, OptimizerOptions options);

  // One update of every trainable parameter from its gradient, at learning rate lr.
  // Returns the global gradient norm before clipping when clip_norm is set (NaN otherwise: the
  // norm costs a pass over every gradient and nothing else needs it).
  double step(double lr);

  int64_t steps() const { return steps_; }
  const OptimizerOptions& options() const { return options_; }
  std::vector<std::string> slot_names() const;

  // "optim/<param>/<slot>": copies, or with deep_copy false views of the live slots.
  NamedTensors state(bool deep_copy = true) const;
  void load_state(const NamedTensors& tensors, int64_t steps);
  std::map<std::string, std::string> hparams() const;

 private:
  struct Slots {
    Parameter* param;
    std::vector<Tensor> slots;
  };
  Network& network_;
  OptimizerOptions options_;
  std::vector<Slots> slots_;
  int64_t steps_ = 0;
};

// Learning-rate schedules as pure functions of (epoch, step), so a resumed run needs no
// scheduler state beyond the counters.
struct ScheduleOptions {
  STRATA_ARG(std::string, kind) = "constant";  // constant, step, cosine, warmup_cosine
  STRATA_ARG(int64_t, step_size) = 1;          // step: epochs between decays
  STRATA_ARG(double, gamma) = 0.1;             // step: decay factor
  STRATA_ARG(int64_t, total_epochs) = 1;       // cosine: period in epochs
  STRATA_ARG(int64_t, warmup_steps) = 0;       // warmup_cosine: linear warm-up steps
  STRATA_ARG(int64_t, total_steps) = 1;        // warmup_cosine: steps until min_lr
  STRATA_ARG(double, min_lr) = 0.0;
};

// epoch: 0-based index of the epoch being trained; step: 0-based global step being taken.
double scheduled_lr(const ScheduleOptions& schedule, double base_lr, int64_t epoch, int64_t step);
void validate(const ScheduleOptions& schedule);

}  // namespace strata
