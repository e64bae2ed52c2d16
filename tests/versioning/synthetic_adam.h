// A synthetic but realistic Adam trajectory of an MLP, for codec and storage measurements
// without the Trainer: real Adam updates (bias-corrected, float32) driven by a gradient model
// g_ij = row_i * col_j * (mu_ij + noise), where row/col are log-normal scales (back-propagated
// error and input activation magnitudes), mu_ij a persistent per-weight signal that fades as
// training converges, and a fraction of "dead" inputs (MNIST's always-zero border pixels) whose
// weights never receive a gradient. Deterministic for a seed. Header-only test helper.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/framework/core/tensor.h"
#include "strata/framework/train/train_state.h"

namespace strata::versioning::vtest {

struct SyntheticAdamOptions {
  std::vector<int64_t> layers{784, 512, 256, 10};
  int steps_per_epoch = 50;
  float lr = 1e-3f;
  float weight_std = 0.05f;
  double dead_input_fraction = 0.1;
  uint64_t seed = 1;
};

class SyntheticAdam {
 public:
  explicit SyntheticAdam(SyntheticAdamOptions o) : o_(std::move(o)), rng_(o_.seed * 0x9E3779B97F4A7C15ull + 1) {
    for (size_t l = 0; l + 1 < o_.layers.size(); ++l) {
      int64_t in = o_.layers[l], out = o_.layers[l + 1];
      std::string node = "fc" + std::to_string(l + 1);
      add(node + "/weight", {out, in}, l == 0);
      add(node + "/bias", {out}, false);
    }
  }

  void run_epoch() {
    for (int s = 0; s < o_.steps_per_epoch; ++s) {
      ++t_;
      const float bc1 = 1.f - std::pow(0.9f, static_cast<float>(t_));
      const float bc2 = 1.f - std::pow(0.999f, static_cast<float>(t_));
      for (Slot& p : slots_) {
        float* w = p.w.f32();
        float* m = p.m.f32();
        float* v = p.v.f32();
        const int64_t rows = p.w.dim(0), cols = p.w.numel() / rows;
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = 0; j < cols; ++j) {
            const int64_t k = i * cols + j;
            const float scale = p.row[i] * p.col[j];
            if (scale == 0.f) continue;
            const float g = scale * (p.mu[k] + normal());
            m[k] = 0.9f * m[k] + 0.1f * g;
            v[k] = 0.999f * v[k] + 0.001f * g * g;
            w[k] -= o_.lr * (m[k] / bc1) / (std::sqrt(v[k] / bc2) + 1e-8f);
          }
        }
      }
    }
    for (Slot& p : slots_)
      for (float& mu : p.mu) mu = 0.9f * mu + 0.1f * normal();
    ++epoch_;
  }

  int64_t epoch() const { return epoch_; }
  NamedTensors params() const {
    NamedTensors out;
    for (const Slot& p : slots_) out.emplace_back(p.name, p.w);
    return out;
  }
  NamedTensors optim() const {
    NamedTensors out;
    for (const Slot& p : slots_) {
      out.emplace_back("optim/" + p.name + "/m", p.m);
      out.emplace_back("optim/" + p.name + "/v", p.v);
    }
    return out;
  }
  size_t raw_bytes() const {
    size_t n = 0;
    for (const Slot& p : slots_) n += 3 * p.w.nbytes();
    return n;
  }

 private:
  struct Slot {
    std::string name;
    Tensor w, m, v;
    std::vector<float> row, col, mu;
  };

  uint64_t next() {  // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.f / 16777216.f); }
  // Irwin-Hall(4) approximation of N(0, 1): cheap and smooth enough for a gradient model.
  float normal() {
    uint64_t r = next();
    float s = 0;
    for (int i = 0; i < 4; ++i) s += static_cast<float>((r >> (16 * i)) & 0xFFFF) * (1.f / 65536.f);
    return (s - 2.f) * 1.7320508f;
  }
  float lognormal(float sigma) { return std::exp(sigma * normal()); }

  void add(const std::string& name, Shape shape, bool dead_inputs) {
    Slot p;
    p.name = name;
    p.w = Tensor(shape);
    p.m = Tensor(shape);
    p.v = Tensor(shape);
    const int64_t rows = shape[0], cols = p.w.numel() / rows;
    float* w = p.w.f32();
    const bool bias = shape.size() == 1;
    for (int64_t k = 0; k < p.w.numel(); ++k) w[k] = bias ? 0.f : o_.weight_std * normal();
    p.row.resize(static_cast<size_t>(rows));
    p.col.resize(static_cast<size_t>(cols));
    for (float& r : p.row) r = 1e-2f * lognormal(0.7f);
    for (float& c : p.col) c = (dead_inputs && uniform() < o_.dead_input_fraction) ? 0.f : lognormal(0.5f);
    p.mu.resize(static_cast<size_t>(p.w.numel()));
    for (float& mu : p.mu) mu = 0.5f * normal();
    slots_.push_back(std::move(p));
  }

  SyntheticAdamOptions o_;
  uint64_t rng_;
  int64_t t_ = 0, epoch_ = 0;
  std::vector<Slot> slots_;
};

}  // namespace strata::versioning::vtest
