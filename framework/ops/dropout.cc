// Dropout (inverted): train y = x * m / (1-p) with m ~ Bernoulli(1-p); eval y = x.
// The mask of element i at (epoch, step) comes from the counter-based generator keyed by the
// run seed and this node's name, so a resumed run draws exactly the masks it would have drawn.
#include <cstring>
#include <functional>

#include "strata/framework/core/rng.h"
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

class DropoutOp : public Op {
  void setup() override {
    p_ = static_cast<float>(ctx_.node->float_attr("p", 0.5));
    node_key_ = std::hash<std::string>{}(ctx_.node->name);
    if (ctx_.training) scale_ = Tensor(ctx_.in[0].shape());
  }

  void forward() override {
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
    int64_t n = ctx_.in[0].numel();
    if (!ctx_.training || p_ == 0.0f) {
      std::memcpy(y, x, n * sizeof(float));
      if (ctx_.training) scale_.fill(1.0f);
      return;
    }
    STRATA_CHECK(ctx_.step != nullptr);
    // Fold the node into the seed; std::hash of a string is stable within one binary, which is
    // all the determinism contract promises (same binary, same threads, same seed).
    CounterRng rng(ctx_.step->seed ^ (node_key_ * 0x9E3779B97F4A7C15ull), RngPurpose::kDropout, ctx_.step->epoch,
                   ctx_.step->step);
    float keep_scale = 1.0f / (1.0f - p_);
    float* m = scale_.f32();
    // Four uniforms per Philox block.
#pragma omp parallel for
    for (int64_t b = 0; b < (n + 3) / 4; ++b) {
      auto words = rng.block(static_cast<uint64_t>(b));
      for (int64_t k = 0; k < 4 && b * 4 + k < n; ++k) {
        float u = static_cast<float>(words[k] >> 8) * (1.0f / 16777216.0f);
        int64_t i = b * 4 + k;
        m[i] = u >= p_ ? keep_scale : 0.0f;
        y[i] = x[i] * m[i];
      }
    }
  }

  void backward() override {
    if (!ctx_.d_in[0].defined()) return;
    const float* dy = ctx_.d_out.f32();
    const float* m = scale_.f32();
    float* dx = ctx_.d_in[0].f32();
    int64_t n = ctx_.d_out.numel();
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * m[i];
  }

  float p_ = 0.5f;
  size_t node_key_ = 0;
  Tensor scale_;
};

}  // namespace

KernelDef dropout_def() {
  return {"Dropout", [] { return std::unique_ptr<Op>(new DropoutOp); }};
}

}  // namespace strata
