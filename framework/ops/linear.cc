// Linear: y[R,O] = x[R,I] W[O,I]^T + b[O]   (oneDNN inner product, PyTorch weight layout)
// over the last axis: a [N,T,I] input is R = N*T rows. A quantized node
// (framework/graph/quantization.h) runs on oneDNN's int8 inner product in eval mode.
#include "strata/framework/ops/internal/int8_params.h"
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;
using dnnl_utils::plain_desc;

class LinearOp : public Op {
  // Quantizes the input (plain rows) into u8 before each forward, the weights into s8 once
  // per plan (a quantized network runs inference only; loading parameters drops its plans).
  void setup_int8(const int8::NodeQuantization& q) {
    const Tensor& weight = ctx_.params[0];
    const int64_t in_features = weight.dim(1), out_features = weight.dim(0), rows = ctx_.in[0].numel() / in_features;
    const Int8Params p = int8_params(q, ctx_.params);
    memory::desc src({rows, in_features}, memory::data_type::u8, memory::format_tag::ab);
    memory::desc w({out_features, in_features}, memory::data_type::s8, memory::format_tag::any);
    auto b = ctx_.params.size() > 1 ? plain_desc({out_features}) : memory::desc();
    primitive_attr attr = dnnl_utils::attr_with_relu(ctx_.fuse_relu);
    attr.set_output_scales(1 << 1, p.output_scales);
    inner_product_forward::primitive_desc pd(
        inner_product_forward::desc(prop_kind::forward_inference, src, w, b, plain_desc({rows, out_features})), attr,
        dnnl_utils::cpu_engine());
    fwd_ = inner_product_forward(pd);
    quantized_input_ = dnnl_utils::alloc_for(src, {rows, in_features});
    memory mq = dnnl_utils::wrap_md(quantized_input_, src);
    quantize_input_ = dnnl_utils::make_scaling_reorder(dnnl_utils::wrap_md(ctx_.in[0], plain_desc({rows, in_features})), mq,
                                                       {1.0f / q.input_scale}, 0);
    weights_ = dnnl_utils::alloc_for(pd.weights_desc(), weight.shape());
    memory mw = dnnl_utils::wrap_md(weights_, pd.weights_desc());
    const dnnl_utils::Reorder to_int8 = dnnl_utils::make_scaling_reorder(dnnl_utils::wrap(weight), mw, p.to_grid, 1 << 0);
    run(to_int8.prim, to_int8.args);
    fwd_args_ = {{DNNL_ARG_SRC, mq},
                 {DNNL_ARG_WEIGHTS, mw},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, plain_desc({rows, out_features}))},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (p.bias.defined()) {
      bias_ = p.bias;
      fwd_args_[DNNL_ARG_BIAS] = dnnl_utils::wrap(bias_);
    }
  }

  void setup() override {
    if (!ctx_.training)
      if (auto q = int8::node_quantization(*ctx_.node)) return setup_int8(*q);
    int64_t in_features = ctx_.params[0].dim(1), out_features = ctx_.params[0].dim(0);
    int64_t rows = ctx_.in[0].numel() / in_features;
    bool has_bias = ctx_.params.size() > 1;
    auto src = plain_desc({rows, in_features}), dst = plain_desc({rows, out_features});
    auto w = plain_desc({out_features, in_features});
    auto b = has_bias ? plain_desc({out_features}) : memory::desc();
    auto attr = dnnl_utils::default_attr();
    auto fwd_attr = dnnl_utils::attr_with_relu(ctx_.fuse_relu);
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    inner_product_forward::primitive_desc fwd_pd(inner_product_forward::desc(prop, src, w, b, dst), fwd_attr,
                                                 dnnl_utils::cpu_engine());
    fwd_ = inner_product_forward(fwd_pd);
    memory mx = dnnl_utils::wrap_md(ctx_.in[0], src), mw = dnnl_utils::wrap(ctx_.params[0]);
    fwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_WEIGHTS, mw},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, dst)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (has_bias) fwd_args_[DNNL_ARG_BIAS] = dnnl_utils::wrap(ctx_.params[1]);
    if (!ctx_.training) return;

    memory mdy = dnnl_utils::wrap_md(ctx_.d_out, dst);
    if (ctx_.d_in[0].defined()) {
      inner_product_backward_data::primitive_desc pd(inner_product_backward_data::desc(src, w, dst), attr,
                                                     dnnl_utils::cpu_engine(), fwd_pd);
      bwd_data_ = inner_product_backward_data(pd);
      bwd_data_args_ = {{DNNL_ARG_DIFF_DST, mdy},
                        {DNNL_ARG_WEIGHTS, mw},
                        {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(ctx_.d_in[0], src)},
                        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    }
    inner_product_backward_weights::primitive_desc pd(inner_product_backward_weights::desc(src, w, b, dst), attr,
                                                      dnnl_utils::cpu_engine(), fwd_pd);
    bwd_weights_ = inner_product_backward_weights(pd);
    bwd_weights_args_ = {{DNNL_ARG_SRC, mx},
                         {DNNL_ARG_DIFF_DST, mdy},
                         {DNNL_ARG_DIFF_WEIGHTS, dnnl_utils::wrap(ctx_.grads[0])},
                         {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (has_bias) bwd_weights_args_[DNNL_ARG_DIFF_BIAS] = dnnl_utils::wrap(ctx_.grads[1]);
  }

  void forward() override {
    if (quantize_input_) run(quantize_input_->prim, quantize_input_->args);
    run(fwd_, fwd_args_);
  }
  void backward() override {
    if (bwd_data_) run(*bwd_data_, bwd_data_args_);
    run(bwd_weights_, bwd_weights_args_);
  }

  inner_product_forward fwd_;
  std::optional<inner_product_backward_data> bwd_data_;
  inner_product_backward_weights bwd_weights_;
  dnnl_utils::Args fwd_args_, bwd_data_args_, bwd_weights_args_;
  Tensor quantized_input_, weights_, bias_;  // int8: the input in u8, the s8 weights, the rescaled bias
  std::optional<dnnl_utils::Reorder> quantize_input_;
};

}  // namespace

KernelDef linear_def() {
  return {"Linear", [] { return std::unique_ptr<Op>(new LinearOp); }};
}

}  // namespace strata
