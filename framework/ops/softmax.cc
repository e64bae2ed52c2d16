// Softmax over the feature axis of [N,F]: y_i = e^{x_i} / sum_j e^{x_j}.
// For training a classifier prefer the fused softmax cross-entropy loss (stable and cheaper).
#include "strata/framework/ops/op.h"

namespace strata {
namespace {

using namespace dnnl;

class SoftmaxOp : public Op {
  void setup() override {
    auto data = dnnl_utils::plain_desc(ctx_.in[0].shape());
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    softmax_forward::primitive_desc fwd_pd(softmax_forward::desc(prop, data, 1), attr, eng);
    fwd_ = softmax_forward(fwd_pd);
    memory my = dnnl_utils::wrap(ctx_.out);
    fwd_args_ = {{DNNL_ARG_SRC, dnnl_utils::wrap(ctx_.in[0])}, {DNNL_ARG_DST, my},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (!ctx_.training || !ctx_.d_in[0].defined()) return;
    softmax_backward::primitive_desc pd(softmax_backward::desc(data, data, 1), attr, eng, fwd_pd);
    bwd_ = softmax_backward(pd);
    bwd_args_ = {{DNNL_ARG_DST, my}, {DNNL_ARG_DIFF_DST, dnnl_utils::wrap(ctx_.d_out)},
                 {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap(ctx_.d_in[0])}, {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
  }
  void forward() override { run(fwd_, fwd_args_); }
  void backward() override {
    if (bwd_) run(*bwd_, bwd_args_);
  }

  softmax_forward fwd_;
  std::optional<softmax_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

Shape infer(const NodeSpec& n, const ShapeList& in) {
  if (in[0].size() != 1) shape_error(n, "[N,features]", in[0]);
  return in[0];
}

}  // namespace

OpDef softmax_def() {
  return {"Softmax", 1, 1, infer, [](const NodeSpec&, const ShapeList&) { return std::vector<ParamSpec>{}; },
          [] { return std::unique_ptr<Op>(new SoftmaxOp); }};
}

}  // namespace strata
