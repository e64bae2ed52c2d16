#include "strata/framework/optim/optimizer.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "strata/framework/core/error.h"
#include "strata/framework/core/number_text.h"

namespace strata {

namespace {
// Recorded numbers read back exactly: a resumed run takes its hyper-parameters from them.
std::string num(double v) { return exact_text(v); }
// A setting `kind` does not read is refused, not silently ignored.
void refuse_settings_that_do_not_apply(const OptimizerOptions& o) {
  const OptimizerOptions defaults;
  const std::string& k = o.kind();
  const bool adam = k == "adam" || k == "adamw";
  auto refuse = [&](const std::string& setting, const std::string& applies_to) {
    throw_invalid(setting + " does not apply to " + k, "", setting + " is for " + applies_to + "; leave it at its default");
  };
  if (o.momentum() != defaults.momentum() && adam) refuse("momentum", "sgd and rmsprop");
  if (o.nesterov() && (k != "sgd" || o.momentum() <= 0)) throw_invalid("nesterov needs sgd with momentum > 0");
  if ((o.beta1() != defaults.beta1() || o.beta2() != defaults.beta2()) && !adam) refuse("beta1 / beta2", "adam and adamw");
  if (o.eps() != defaults.eps() && k == "sgd") refuse("eps", "adam, adamw and rmsprop");
  if (o.alpha() != defaults.alpha() && k != "rmsprop") refuse("alpha", "rmsprop");
}

// The update of elements [begin, end) of one parameter, vectorised. Built twice on x86-64 with
// GCC, for AVX2 (8 floats a vector) and for the baseline (SSE2, 4), and picked once by the CPU
// at load time: the update is a few operations per 16 bytes read, and on SSE2 its square root
// and divisions were 12% of an MLP step. Neither target contracts into FMA, and square root and
// division are correctly rounded, so both give the same bits. (Clang does not clone templates.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define STRATA_AVX2_CLONE [[gnu::target_clones("avx2", "default")]]
#else
#define STRATA_AVX2_CLONE
#endif
template <typename Update>
STRATA_AVX2_CLONE void update_range(Update update, float* p, const float* gr, float* a, float* b, int64_t begin, int64_t end) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) update(p, gr, a, b, i);
}

}  // namespace

Optimizer::Optimizer(Network& network, OptimizerOptions options) : network_(network), options_(std::move(options)) {
  const std::string& k = options_.kind();
  if (k != "sgd" && k != "adam" && k != "adamw" && k != "rmsprop")
    throw_invalid("unknown optimizer '" + k + "'", "", "use sgd, adam, adamw or rmsprop");
  if (!(options_.lr() > 0)) throw_invalid("learning rate must be > 0, got " + num(options_.lr()));
  if (options_.momentum() < 0 || options_.weight_decay() < 0 || options_.l1() < 0 || options_.clip_norm() < 0)
    throw_invalid("momentum, weight_decay, l1 and clip_norm must be >= 0");
  refuse_settings_that_do_not_apply(options_);
  size_t n_slots = slot_names().size();
  for (Parameter& p : network_.parameters()) {
    if (!p.trainable) continue;
    Slots s{&p, {}};
    for (size_t i = 0; i < n_slots; ++i) s.slots.emplace_back(p.value.shape());
    slots_.push_back(std::move(s));
  }
}

std::vector<std::string> Optimizer::slot_names() const {
  const std::string& k = options_.kind();
  if (k == "sgd") return options_.momentum() > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
  if (k == "rmsprop")
    return options_.momentum() > 0 ? std::vector<std::string>{"square_avg", "momentum"} : std::vector<std::string>{"square_avg"};
  return {"exp_avg", "exp_avg_sq"};
}

double Optimizer::step(double lr) {
  const OptimizerOptions& o = options_;
  ++steps_;
  // The global norm is only needed to clip: summed per parameter in a fixed order
  // (deterministic), in double.
  double norm = NAN;
  float clip = 1.0f;
  if (o.clip_norm() > 0) {
    double norm_sq = 0;
    for (Slots& s : slots_) {
      const float* g = s.param->grad.f32();
      double local = 0;
      for (int64_t i = 0; i < s.param->grad.numel(); ++i) local += static_cast<double>(g[i]) * g[i];
      norm_sq += local;
    }
    norm = std::sqrt(norm_sq);
    if (norm > o.clip_norm()) clip = static_cast<float>(o.clip_norm() / (norm + 1e-6));
  }

  const bool adam = o.kind() == "adam" || o.kind() == "adamw";
  const float coupled_wd = static_cast<float>(o.kind() == "adamw" ? 0.0 : o.weight_decay());
  const float l1 = static_cast<float>(o.l1());
  const float flr = static_cast<float>(lr), mu = static_cast<float>(o.momentum());
  const float b1 = static_cast<float>(o.beta1()), b2 = static_cast<float>(o.beta2()), eps = static_cast<float>(o.eps());
  const float bc1 = 1.0f - std::pow(b1, static_cast<float>(steps_));
  const float bc2_sqrt = std::sqrt(1.0f - std::pow(b2, static_cast<float>(steps_)));
  const float step_size = flr / bc1;
  const float decay = o.kind() == "adamw" ? 1.0f - flr * static_cast<float>(o.weight_decay()) : 1.0f;
  const float alpha = static_cast<float>(o.alpha());
  const bool nesterov = o.nesterov(), first = steps_ == 1;

  // One loop per optimizer (and per L1 on/off), chosen here rather than per element: a branch
  // inside the loop keeps the compiler from vectorising it. Per element the arithmetic is the
  // same as a scalar loop's, so the results are the same bits. One parallel region for all
  // parameters, each thread taking its share of every tensor without waiting for the others
  // between tensors: a region and a barrier per tensor cost more than a bias's update.
  auto for_each_element = [&](auto update) {
#pragma omp parallel
    {
      const int64_t thread = omp_get_thread_num(), threads = omp_get_num_threads();
      for (Slots& s : slots_) {
        const int64_t n = s.param->value.numel();
        update_range(update, s.param->value.f32(), s.param->grad.f32(), s.slots.size() > 0 ? s.slots[0].f32() : nullptr,
                     s.slots.size() > 1 ? s.slots[1].f32() : nullptr, n * thread / threads, n * (thread + 1) / threads);
      }
    }
  };
  auto with_gradient = [&](auto rule) {
    if (l1 > 0)
      for_each_element([=](float* p, const float* gr, float* a, float* b, int64_t i) {
        const float g = gr[i] * clip + coupled_wd * p[i] + l1 * static_cast<float>((p[i] > 0) - (p[i] < 0));
        rule(p, a, b, i, g);
      });
    else
      for_each_element(
          [=](float* p, const float* gr, float* a, float* b, int64_t i) { rule(p, a, b, i, gr[i] * clip + coupled_wd * p[i]); });
  };
  if (adam) {
    with_gradient([=](float* p, float* a, float* b, int64_t i, float g) {
      a[i] = b1 * a[i] + (1 - b1) * g;
      b[i] = b2 * b[i] + (1 - b2) * g * g;
      p[i] = p[i] * decay - step_size * a[i] / (std::sqrt(b[i]) / bc2_sqrt + eps);
    });
  } else if (o.kind() == "sgd" && mu <= 0) {
    with_gradient([=](float* p, float*, float*, int64_t i, float g) { p[i] -= flr * g; });
  } else if (o.kind() == "sgd" && first) {  // the first step starts the momentum at g
    with_gradient([=](float* p, float* a, float*, int64_t i, float g) {
      a[i] = g;
      p[i] -= flr * (nesterov ? g + mu * a[i] : a[i]);
    });
  } else if (o.kind() == "sgd") {
    with_gradient([=](float* p, float* a, float*, int64_t i, float g) {
      a[i] = mu * a[i] + g;
      p[i] -= flr * (nesterov ? g + mu * a[i] : a[i]);
    });
  } else if (mu > 0) {  // rmsprop with momentum
    with_gradient([=](float* p, float* a, float* b, int64_t i, float g) {
      a[i] = alpha * a[i] + (1 - alpha) * g * g;
      b[i] = mu * b[i] + g / (std::sqrt(a[i]) + eps);
      p[i] -= flr * b[i];
    });
  } else {  // rmsprop
    with_gradient([=](float* p, float* a, float*, int64_t i, float g) {
      a[i] = alpha * a[i] + (1 - alpha) * g * g;
      p[i] -= flr * (g / (std::sqrt(a[i]) + eps));
    });
  }
  return norm;
}

NamedTensors Optimizer::state(bool deep_copy) const {
  NamedTensors out;
  std::vector<std::string> names = slot_names();
  for (const Slots& s : slots_)
    for (size_t i = 0; i < s.slots.size(); ++i)
      out.emplace_back("optim/" + s.param->name + "/" + names[i], deep_copy ? s.slots[i].clone() : s.slots[i]);
  return out;
}

void Optimizer::load_state(const NamedTensors& tensors, int64_t steps) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : tensors) by_name[name] = &t;
  std::vector<std::string> names = slot_names();
  for (Slots& s : slots_)
    for (size_t i = 0; i < s.slots.size(); ++i) {
      std::string key = "optim/" + s.param->name + "/" + names[i];
      auto it = by_name.find(key);
      if (it == by_name.end())
        throw Error(ErrorCode::kFailedPrecondition, "optimizer state '" + key + "' is missing", "",
                    "the state was saved with a different optimizer (" + options_.kind() + " expected)");
      if (it->second->shape() != s.slots[i].shape())
        throw Error(ErrorCode::kFailedPrecondition, "optimizer state '" + key + "' has shape " + shape_str(it->second->shape()) +
                                                        ", expected " + shape_str(s.slots[i].shape()));
      s.slots[i].copy_from(*it->second);
    }
  steps_ = steps;
}

std::map<std::string, std::string> Optimizer::hparams() const {
  const OptimizerOptions& o = options_;
  std::map<std::string, std::string> h = {{"optimizer", o.kind()}, {"lr", num(o.lr())}};
  if (o.kind() == "sgd" || o.kind() == "rmsprop") h["momentum"] = num(o.momentum());
  if (o.nesterov()) h["nesterov"] = "true";
  if (o.kind() == "adam" || o.kind() == "adamw") {
    h["beta1"] = num(o.beta1());
    h["beta2"] = num(o.beta2());
  }
  if (o.weight_decay() > 0) h["weight_decay"] = num(o.weight_decay());
  if (o.l1() > 0) h["l1"] = num(o.l1());
  if (o.clip_norm() > 0) h["clip_norm"] = num(o.clip_norm());
  return h;
}

void validate(const ScheduleOptions& s) {
  if (s.kind() != "constant" && s.kind() != "step" && s.kind() != "cosine" && s.kind() != "warmup_cosine")
    throw_invalid("unknown schedule '" + s.kind() + "'", "", "use constant, step, cosine or warmup_cosine");
  if (s.step_size() <= 0 || s.total_epochs() <= 0 || s.total_steps() <= 0 || s.warmup_steps() < 0)
    throw_invalid("schedule step_size, total_epochs and total_steps must be > 0");
}

double scheduled_lr(const ScheduleOptions& s, double base, int64_t epoch, int64_t step) {
  const double pi = 3.14159265358979323846;
  if (s.kind() == "step") return base * std::pow(s.gamma(), static_cast<double>(epoch / s.step_size()));
  if (s.kind() == "cosine") {
    double t = std::min<double>(epoch, s.total_epochs()) / static_cast<double>(s.total_epochs());
    return s.min_lr() + (base - s.min_lr()) * 0.5 * (1 + std::cos(pi * t));
  }
  if (s.kind() == "warmup_cosine") {
    if (step < s.warmup_steps()) return base * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps());
    double span = std::max<int64_t>(s.total_steps() - s.warmup_steps(), 1);
    double t = std::min<double>(step - s.warmup_steps(), span) / span;
    return s.min_lr() + (base - s.min_lr()) * 0.5 * (1 + std::cos(pi * t));
  }
  return base;
}

}  // namespace strata
