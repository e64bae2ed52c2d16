// LayerNorm over the last axis: y = gamma * (x - mean) / sqrt(var + eps) + beta, statistics
// per row (biased variance), as torch.nn.LayerNorm(D). oneDNN layer normalization on [rows, D].
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;

class LayerNormOp : public Op {
  void setup() override {
    const int64_t d = ctx_.params[0].numel(), rows = ctx_.out.numel() / d;
    const float eps = static_cast<float>(ctx_.node->float_attr("eps", 1e-5));
    memory::desc data = dnnl_utils::plain_desc({rows, d});
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    memory mx = dnnl_utils::wrap_md(ctx_.in[0], data);
    memory gamma = dnnl_utils::wrap(ctx_.params[0]), beta = dnnl_utils::wrap(ctx_.params[1]);
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    layer_normalization_forward::primitive_desc fwd_pd(layer_normalization_forward::desc(prop, data, eps, flags), attr, eng);
    fwd_ = layer_normalization_forward(fwd_pd);
    mean_ = Tensor({rows});
    var_ = Tensor({rows});
    memory mmean = wrap_stat(mean_, fwd_pd.mean_desc()), mvar = wrap_stat(var_, fwd_pd.variance_desc());
    fwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, data)},
                 {DNNL_ARG_SCALE, gamma},
                 {DNNL_ARG_SHIFT, beta},
                 {DNNL_ARG_MEAN, mmean},
                 {DNNL_ARG_VARIANCE, mvar},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (!ctx_.training) return;
    // gamma/beta gradients come with the data gradient: a first layer writes it to a private buffer.
    Tensor d_in = ctx_.d_in[0].defined() ? ctx_.d_in[0] : Tensor({rows, d});
    layer_normalization_backward::primitive_desc pd(
        layer_normalization_backward::desc(prop_kind::backward, data, data, eps, flags), attr, eng, fwd_pd);
    bwd_ = layer_normalization_backward(pd);
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
  static memory wrap_stat(const Tensor& t, const memory::desc& md) { return dnnl_utils::wrap_md(t, md); }

  void forward() override { run(fwd_, fwd_args_); }
  void backward() override { run(*bwd_, bwd_args_); }

  Tensor mean_, var_;
  layer_normalization_forward fwd_;
  std::optional<layer_normalization_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

}  // namespace

KernelDef layer_norm_def() {
  return {"LayerNorm", [] { return std::unique_ptr<Op>(new LayerNormOp); }};
}

}  // namespace strata
