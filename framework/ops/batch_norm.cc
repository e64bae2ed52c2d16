// BatchNorm (1d on [N,C], 2d on [N,C,H,W]):
//   y = gamma * (x - mean) / sqrt(var + eps) + beta
// Training uses the batch statistics (biased variance) and updates the running buffers like
// PyTorch: running = (1 - momentum) running + momentum * batch, with the unbiased variance.
// Evaluation uses the running statistics.
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;

class BatchNormOp : public Op {
 public:
  // BatchNorm2d runs on its producer's layout (blocked after a convolution); 1d stays plain.
  void choose_layouts(OpContext& ctx) const override {
    if (ctx.in_shapes[0].size() != 4) return Op::choose_layouts(ctx);
    ctx.out_md = ctx.in_md[0];
  }

 private:
  void setup() override {
    const Shape& x = ctx_.in_shapes[0];
    channels_ = x[1];
    Shape as4d = {x[0], x[1], x.size() == 4 ? x[2] : 1, x.size() == 4 ? x[3] : 1};
    count_ = as4d[0] * as4d[2] * as4d[3];
    float eps = static_cast<float>(ctx_.node->float_attr("eps", 1e-5));
    momentum_ = static_cast<float>(ctx_.node->float_attr("momentum", 0.1));
    memory::desc data = x.size() == 4 ? ctx_.in_md[0] : dnnl_utils::plain_desc(as4d);
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    memory mx = dnnl_utils::wrap_md(ctx_.in[0], data);
    memory gamma = dnnl_utils::wrap(ctx_.params[0]), beta = dnnl_utils::wrap(ctx_.params[1]);
    if (!ctx_.training) {
      batch_normalization_forward::primitive_desc pd(
          batch_normalization_forward::desc(prop_kind::forward_inference, data, eps,
                                            flags | normalization_flags::use_global_stats),
          attr, eng);
      fwd_ = batch_normalization_forward(pd);
      fwd_args_ = {{DNNL_ARG_SRC, mx},
                   {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, data)},
                   {DNNL_ARG_SCALE, gamma},
                   {DNNL_ARG_SHIFT, beta},
                   {DNNL_ARG_MEAN, dnnl_utils::wrap(ctx_.params[2])},
                   {DNNL_ARG_VARIANCE, dnnl_utils::wrap(ctx_.params[3])},
                   {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
      return;
    }
    batch_normalization_forward::primitive_desc fwd_pd(
        batch_normalization_forward::desc(prop_kind::forward_training, data, eps, flags), attr, eng);
    fwd_ = batch_normalization_forward(fwd_pd);
    mean_ = Tensor({channels_});
    var_ = Tensor({channels_});
    memory mmean = dnnl_utils::wrap(mean_), mvar = dnnl_utils::wrap(var_);
    fwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, data)},
                 {DNNL_ARG_SCALE, gamma},
                 {DNNL_ARG_SHIFT, beta},
                 {DNNL_ARG_MEAN, mmean},
                 {DNNL_ARG_VARIANCE, mvar},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    // The batch statistics and gamma gradients need the data gradient anyway, so a first-layer
    // BatchNorm writes it to a private buffer.
    Tensor d_in = ctx_.d_in[0].defined() ? ctx_.d_in[0] : dnnl_utils::alloc_for(data, as4d);
    batch_normalization_backward::primitive_desc pd(
        batch_normalization_backward::desc(prop_kind::backward, data, data, eps, flags), attr, eng, fwd_pd);
    bwd_ = batch_normalization_backward(pd);
    bwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_MEAN, mmean},
                 {DNNL_ARG_VARIANCE, mvar},
                 {DNNL_ARG_DIFF_DST, dnnl_utils::wrap_md(ctx_.d_out, data)},
                 {DNNL_ARG_SCALE, gamma},
                 {DNNL_ARG_SHIFT, beta},
                 {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(d_in, data)},
                 {DNNL_ARG_DIFF_SCALE, dnnl_utils::wrap(ctx_.grads[0])},
                 {DNNL_ARG_DIFF_SHIFT, dnnl_utils::wrap(ctx_.grads[1])},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
  }

  void forward() override {
    run(fwd_, fwd_args_);
    if (!ctx_.training) return;
    float* rm = ctx_.params[2].f32();
    float* rv = ctx_.params[3].f32();
    const float* m = mean_.f32();
    const float* v = var_.f32();
    float unbias = count_ > 1 ? static_cast<float>(count_) / static_cast<float>(count_ - 1) : 1.0f;
    for (int64_t c = 0; c < channels_; ++c) {
      rm[c] = (1 - momentum_) * rm[c] + momentum_ * m[c];
      rv[c] = (1 - momentum_) * rv[c] + momentum_ * v[c] * unbias;
    }
  }
  void backward() override { run(*bwd_, bwd_args_); }

  int64_t channels_ = 0, count_ = 0;
  float momentum_ = 0.1f;
  Tensor mean_, var_;
  batch_normalization_forward fwd_;
  std::optional<batch_normalization_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

}  // namespace

KernelDef batch_norm_def() {
  return {"BatchNorm", [] { return std::unique_ptr<Op>(new BatchNormOp); }};
}

}  // namespace strata
