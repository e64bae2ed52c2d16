// Softmax along a per-sample axis: y_i = e^{x_i} / sum_j e^{x_j}.
// Unmasked: oneDNN's softmax primitive. Masked (attention): a keep-mask [N, Tk] over the last
// axis and/or a causal mask (key j > query i of the last two axes) set those logits to -inf; a
// row with every key masked gives zeros (not NaN) and passes no gradient.
// For training a classifier prefer the fused softmax cross-entropy loss (stable and cheaper).
#include <cmath>
#include <limits>

#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;

class SoftmaxOp : public Op {
  void setup() override {
    const Shape& x = ctx_.out_shape;
    int axis = 1 + static_cast<int>(resolve_axis(*ctx_.node, ctx_.node->int_attr("axis", -1), x.size() - 1));
    causal_ = ctx_.node->int_attr("causal", 0) != 0;
    masked_ = causal_ || ctx_.in.size() == 2;
    if (masked_) {
      cols_ = x.back();
      queries_ = x.size() >= 2 ? x[x.size() - 2] : 1;
      rows_ = ctx_.out.numel() / cols_;
      return;
    }
    auto data = dnnl_utils::row_major_desc(x);
    if (data.dims().size() != x.size()) throw_invalid("Softmax supports at most 6 axes", ctx_.where());
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    softmax_forward::primitive_desc fwd_pd(softmax_forward::desc(prop, data, axis), attr, eng);
    fwd_ = softmax_forward(fwd_pd);
    memory my = dnnl_utils::wrap(ctx_.out);
    fwd_args_ = {{DNNL_ARG_SRC, dnnl_utils::wrap(ctx_.in[0])}, {DNNL_ARG_DST, my}, {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (!ctx_.training || !ctx_.d_in[0].defined()) return;
    softmax_backward::primitive_desc pd(softmax_backward::desc(data, data, axis), attr, eng, fwd_pd);
    bwd_ = softmax_backward(pd);
    bwd_args_ = {{DNNL_ARG_DST, my},
                 {DNNL_ARG_DIFF_DST, dnnl_utils::wrap(ctx_.d_out)},
                 {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap(ctx_.d_in[0])},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
  }

  void forward() override {
    if (!masked_) return run(fwd_, fwd_args_);
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
    const float* keep = ctx_.in.size() == 2 ? ctx_.in[1].f32() : nullptr;
    const int64_t per_sample = rows_ / ctx_.batch;
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r) {
      const float* xr = x + r * cols_;
      float* yr = y + r * cols_;
      const float* kr = keep ? keep + (r / per_sample) * cols_ : nullptr;
      int64_t limit = causal_ ? (r % queries_) + 1 + (cols_ - queries_) : cols_;  // keys 0..limit-1
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < limit; ++j)
        if (!kr || kr[j] != 0.f) top = std::max(top, xr[j]);
      if (top == -std::numeric_limits<float>::infinity()) {  // every key masked
        for (int64_t j = 0; j < cols_; ++j) yr[j] = 0.f;
        continue;
      }
      float sum = 0;
      for (int64_t j = 0; j < cols_; ++j) {
        float e = j < limit && (!kr || kr[j] != 0.f) ? std::exp(xr[j] - top) : 0.f;
        yr[j] = e;
        sum += e;
      }
      float inv = 1.f / sum;
      for (int64_t j = 0; j < cols_; ++j) yr[j] *= inv;
    }
  }

  void backward() override {
    if (!masked_) {
      if (bwd_) run(*bwd_, bwd_args_);
      return;
    }
    if (!ctx_.d_in[0].defined()) return;
    const float* y = ctx_.out.f32();
    const float* dy = ctx_.d_out.f32();
    float* dx = ctx_.d_in[0].f32();
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r) {  // dx = y (dy - <y, dy>); masked entries have y = 0
      const float* yr = y + r * cols_;
      const float* dyr = dy + r * cols_;
      float dot = 0;
      for (int64_t j = 0; j < cols_; ++j) dot += yr[j] * dyr[j];
      for (int64_t j = 0; j < cols_; ++j) dx[r * cols_ + j] = yr[j] * (dyr[j] - dot);
    }
  }

  bool masked_ = false, causal_ = false;
  int64_t rows_ = 0, cols_ = 0, queries_ = 1;
  softmax_forward fwd_;
  std::optional<softmax_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

}  // namespace

KernelDef softmax_def() {
  return {"Softmax", [] { return std::unique_ptr<Op>(new SoftmaxOp); }};
}

}  // namespace strata
