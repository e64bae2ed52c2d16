// GlobalAvgPool: y[n,c] = mean over (h,w) of x[n,c,h,w]. A plain loop: it is memory-bound and
// tiny, so a oneDNN pooling with a full-size kernel buys nothing.
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

class GlobalAvgPoolOp : public Op {
  void setup() override {}
  void forward() override {
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
    int64_t rows = ctx_.out.numel(), hw = ctx_.in[0].numel() / rows;
    float scale = 1.0f / static_cast<float>(hw);
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r) {
      float s = 0;
      for (int64_t i = 0; i < hw; ++i) s += x[r * hw + i];
      y[r] = s * scale;
    }
  }
  void backward() override {
    if (!ctx_.d_in[0].defined()) return;
    const float* dy = ctx_.d_out.f32();
    float* dx = ctx_.d_in[0].f32();
    int64_t rows = ctx_.out.numel(), hw = ctx_.in[0].numel() / rows;
    float scale = 1.0f / static_cast<float>(hw);
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < hw; ++i) dx[r * hw + i] = dy[r] * scale;
  }
};

}  // namespace

KernelDef global_avg_pool_def() {
  return {"GlobalAvgPool", [] { return std::unique_ptr<Op>(new GlobalAvgPoolOp); }};
}

}  // namespace strata
