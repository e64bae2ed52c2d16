// Element-wise activations on oneDNN eltwise primitives:
//   ReLU max(x,0); LeakyReLU x>0 ? x : a x; Sigmoid 1/(1+e^-x); Tanh; GELU x Phi(x) (erf form).
// Backward reads the saved input (the *_use_dst variants would save a buffer, but then the
// input gradient could not alias; keep it simple and exact).
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;

// Element-wise, so any layout works: the output takes the input's.
class EltwiseOp : public Op {
 public:
  explicit EltwiseOp(algorithm alg) : alg_(alg) {}
  void choose_layouts(OpContext& ctx) const override { ctx.out_md = ctx.in_md[0]; }

 private:
  void setup() override {
    alpha_ = static_cast<float>(ctx_.node->float_attr("slope", 0.0));
    const memory::desc& data = ctx_.in_md[0];
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    if (ctx_.fused_into_input) {
      // The producer already wrote max(x, 0) into our output; backward works from it.
      fused_ = true;
      if (!ctx_.training || !ctx_.d_in[0].defined()) return;
      algorithm alg = algorithm::eltwise_relu_use_dst_for_bwd;
      eltwise_forward::primitive_desc hint(eltwise_forward::desc(prop, alg, data, 0.f, 0.f), attr, eng);
      eltwise_backward::primitive_desc pd(eltwise_backward::desc(alg, data, data, 0.f, 0.f), attr, eng, hint);
      bwd_ = eltwise_backward(pd);
      bwd_args_ = {{DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, data)},
                   {DNNL_ARG_DIFF_DST, dnnl_utils::wrap_md(ctx_.d_out, data)},
                   {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(ctx_.d_in[0], data)},
                   {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
      return;
    }
    eltwise_forward::primitive_desc fwd_pd(eltwise_forward::desc(prop, alg_, data, alpha_, 0.f), attr, eng);
    fwd_ = eltwise_forward(fwd_pd);
    memory mx = dnnl_utils::wrap_md(ctx_.in[0], data);
    fwd_args_ = {
        {DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, data)}, {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (!ctx_.training || !ctx_.d_in[0].defined()) return;
    eltwise_backward::primitive_desc pd(eltwise_backward::desc(alg_, data, data, alpha_, 0.f), attr, eng, fwd_pd);
    bwd_ = eltwise_backward(pd);
    bwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_DIFF_DST, dnnl_utils::wrap_md(ctx_.d_out, data)},
                 {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(ctx_.d_in[0], data)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
  }

  void forward() override {
    if (!fused_) run(fwd_, fwd_args_);
  }
  void backward() override {
    if (bwd_) run(*bwd_, bwd_args_);
  }

  algorithm alg_;
  float alpha_ = 0;
  bool fused_ = false;
  eltwise_forward fwd_;
  std::optional<eltwise_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

template <algorithm kAlg>
std::unique_ptr<Op> create() {
  return std::unique_ptr<Op>(new EltwiseOp(kAlg));
}

}  // namespace

KernelDef relu_def() { return {"ReLU", create<algorithm::eltwise_relu>}; }
KernelDef leaky_relu_def() { return {"LeakyReLU", create<algorithm::eltwise_relu>}; }
KernelDef sigmoid_def() { return {"Sigmoid", create<algorithm::eltwise_logistic>}; }
KernelDef tanh_def() { return {"Tanh", create<algorithm::eltwise_tanh>}; }
KernelDef gelu_def() { return {"GELU", create<algorithm::eltwise_gelu_erf>}; }

}  // namespace strata
