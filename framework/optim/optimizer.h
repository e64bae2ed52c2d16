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

#include "framework/nn/network.h"
#include "framework/train/train_state.h"

namespace strata {

struct OptimizerOptions {
  std::string kind = "adam";  // sgd, adam, adamw, rmsprop
  double lr = 1e-3;
  double momentum = 0.0;      // sgd, rmsprop
  bool nesterov = false;      // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam(w); eps also rmsprop
  double alpha = 0.99;        // rmsprop smoothing
  double weight_decay = 0.0;  // L2 coupled (sgd, adam, rmsprop) or decoupled (adamw)
  double l1 = 0.0;            // L1 penalty: g += l1 sign(p)
  double l2 = 0.0;            // L2 penalty: g += l2 p (all optimizers)
  double clip_norm = 0.0;     // clip gradients to this global L2 norm (0 = off)

  OptimizerOptions& kind_(std::string v) { kind = std::move(v); return *this; }
  OptimizerOptions& lr_(double v) { lr = v; return *this; }
  OptimizerOptions& momentum_(double v) { momentum = v; return *this; }
  OptimizerOptions& nesterov_(bool v) { nesterov = v; return *this; }
  OptimizerOptions& betas_(double b1, double b2) { beta1 = b1; beta2 = b2; return *this; }
  OptimizerOptions& eps_(double v) { eps = v; return *this; }
  OptimizerOptions& alpha_(double v) { alpha = v; return *this; }
  OptimizerOptions& weight_decay_(double v) { weight_decay = v; return *this; }
  OptimizerOptions& l1_(double v) { l1 = v; return *this; }
  OptimizerOptions& l2_(double v) { l2 = v; return *this; }
  OptimizerOptions& clip_norm_(double v) { clip_norm = v; return *this; }
};

class Optimizer {
 public:
  // Keeps a reference to the network's parameters; the network must outlive the optimizer.
  Optimizer(Network& network, OptimizerOptions options);

  // One update of every trainable parameter from its gradient, at learning rate lr.
  // Returns the global gradient norm before clipping.
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
  std::string kind = "constant";  // constant, step, cosine, warmup_cosine
  int64_t step_size = 1;          // step: epochs between decays
  double gamma = 0.1;             // step: decay factor
  int64_t total_epochs = 1;       // cosine: period in epochs
  int64_t warmup_steps = 0;       // warmup_cosine: linear warm-up steps
  int64_t total_steps = 1;        // warmup_cosine: steps until min_lr
  double min_lr = 0.0;
  ScheduleOptions& kind_(std::string v) { kind = std::move(v); return *this; }
  ScheduleOptions& step_size_(int64_t v) { step_size = v; return *this; }
  ScheduleOptions& gamma_(double v) { gamma = v; return *this; }
  ScheduleOptions& total_epochs_(int64_t v) { total_epochs = v; return *this; }
  ScheduleOptions& warmup_steps_(int64_t v) { warmup_steps = v; return *this; }
  ScheduleOptions& total_steps_(int64_t v) { total_steps = v; return *this; }
  ScheduleOptions& min_lr_(double v) { min_lr = v; return *this; }
};

// epoch: 0-based index of the epoch being trained; step: 0-based global step being taken.
double scheduled_lr(const ScheduleOptions& schedule, double base_lr, int64_t epoch, int64_t step);
void validate(const ScheduleOptions& schedule);

}  // namespace strata
