// Conv2d: y[N,O,H',W'] = x[N,C,H,W] (*) W[O,C,kh,kw] + b[O], with stride, zero padding and
// dilation; H' = (H + 2p - d(k-1) - 1) / s + 1. Weights stay in canonical OIHW. A quantized
// node (framework/graph/quantization.h) runs on oneDNN's int8 kernel in eval mode.
#include "strata/framework/ops/internal/int8_params.h"
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;
using dnnl_utils::plain_desc;

struct ConvGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

ConvGeometry geometry(const NodeSpec& n) {
  auto pair = [&](const char* key, int64_t fallback) {
    auto v = n.ints_attr(key, {fallback, fallback});
    if (v.size() == 1) v.push_back(v[0]);
    return v;
  };
  auto k = pair("kernel", 0), s = pair("stride", 1), p = pair("padding", 0), d = pair("dilation", 1);
  return {k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]};
}

// Source and destination on the layouts oneDNN picks (format_tag::any: blocked nChw16c and
// direct AVX-512 kernels instead of im2col + sgemm on plain nchw). The canonical OIHW weights
// are reordered into the kernel's blocked layout before each forward, and the blocked weight
// gradient back into OIHW after backward: both are small next to the activations.
class Conv2dOp : public Op {
 public:
  void choose_layouts(OpContext& ctx) const override {
    auto any = [](const Shape& s) {
      return memory::desc(dnnl_utils::dims_of(s), memory::data_type::f32, memory::format_tag::any);
    };
    if (int8_of(ctx)) {
      // The input stays in its producer's f32 layout: forward() quantizes it into the kernel's.
      // The output goes in the f32 kernel's layout (blocked), reordered from the int8 kernel's
      // nhwc: oneDNN's pooling on nhwc takes twice as long as that reorder (measured on AVX2).
      ctx.out_md = forward_pd(ctx, any(ctx.in_shapes[0]), any(ctx.out_shape)).dst_desc();
      return;
    }
    auto pd = forward_pd(ctx, any(ctx.in_shapes[0]), any(ctx.out_shape));
    ctx.in_md[0] = pd.src_desc();
    ctx.out_md = pd.dst_desc();
  }

 private:
  static convolution_forward::primitive_desc forward_pd(const OpContext& ctx, const memory::desc& src, const memory::desc& dst) {
    ConvGeometry g = geometry(*ctx.node);
    const NodeSpec& n = *ctx.node;
    int64_t out = n.int_attr("out_channels", 0), c = ctx.in_shapes[0][1];
    memory::desc w({out, c, g.kh, g.kw}, memory::data_type::f32, memory::format_tag::any);
    memory::desc b = n.int_attr("bias", 1) ? plain_desc({out}) : memory::desc();
    memory::dims strides = {g.sh, g.sw}, dilation = {g.dh - 1, g.dw - 1}, pad = {g.ph, g.pw};
    prop_kind prop = ctx.training ? prop_kind::forward_training : prop_kind::forward_inference;
    return convolution_forward::primitive_desc(
        convolution_forward::desc(prop, algorithm::convolution_direct, src, w, b, dst, strides, dilation, pad, pad),
        dnnl_utils::attr_with_relu(ctx.fuse_relu), dnnl_utils::cpu_engine());
  }

  static std::optional<int8::NodeQuantization> int8_of(const OpContext& ctx) {
    return ctx.training ? std::nullopt : int8::node_quantization(*ctx.node);
  }

  // u8 source, s8 weights and f32 destination in the layouts the int8 kernel picks.
  static convolution_forward::primitive_desc int8_forward_pd(const OpContext& ctx, const std::vector<float>& output_scales) {
    ConvGeometry g = geometry(*ctx.node);
    const NodeSpec& n = *ctx.node;
    const int64_t out = n.int_attr("out_channels", 0), c = ctx.in_shapes[0][1];
    auto any = [](const Shape& s, memory::data_type type) {
      return memory::desc(dnnl_utils::dims_of(s), type, memory::format_tag::any);
    };
    memory::desc w({out, c, g.kh, g.kw}, memory::data_type::s8, memory::format_tag::any);
    memory::desc b = n.int_attr("bias", 1) ? plain_desc({out}) : memory::desc();
    memory::dims strides = {g.sh, g.sw}, dilation = {g.dh - 1, g.dw - 1}, pad = {g.ph, g.pw};
    primitive_attr attr = dnnl_utils::attr_with_relu(ctx.fuse_relu);
    attr.set_output_scales(1 << 1, output_scales);
    auto src = any(ctx.in_shapes[0], memory::data_type::u8);
    return convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src, w, b,
                                  any(ctx.out_shape, memory::data_type::f32), strides, dilation, pad, pad),
        attr, dnnl_utils::cpu_engine());
  }

  // The weights are quantized here, once per plan: a quantized network runs inference only, and
  // loading parameters drops its plans (Network::load_state_tensors).
  void setup_int8(const int8::NodeQuantization& q) {
    const Tensor& weight = ctx_.params[0];
    const Int8Params p = int8_params(q, ctx_.params);
    auto pd = int8_forward_pd(ctx_, p.output_scales);
    fwd_ = convolution_forward(pd);
    quantized_input_ = dnnl_utils::alloc_for(pd.src_desc(), ctx_.in_shapes[0]);
    memory mq = dnnl_utils::wrap_md(quantized_input_, pd.src_desc());
    quantize_input_ =
        dnnl_utils::make_scaling_reorder(dnnl_utils::wrap_md(ctx_.in[0], ctx_.in_md[0]), mq, {1.0f / q.input_scale}, 0);
    weights_ = dnnl_utils::alloc_for(pd.weights_desc(), weight.shape());
    memory mw = dnnl_utils::wrap_md(weights_, pd.weights_desc());
    run_reorder(dnnl_utils::make_scaling_reorder(dnnl_utils::wrap(weight), mw, p.to_grid, 1 << 0));
    memory out = dnnl_utils::wrap_md(ctx_.out, ctx_.out_md);
    if (pd.dst_desc() != ctx_.out_md) {
      int8_out_ = dnnl_utils::alloc_for(pd.dst_desc(), ctx_.out_shape);
      memory kernel_out = dnnl_utils::wrap_md(int8_out_, pd.dst_desc());
      from_int8_out_ = dnnl_utils::make_reorder(kernel_out, out);
      out = kernel_out;
    }
    fwd_args_ = {{DNNL_ARG_SRC, mq}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, out}, {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (p.bias.defined()) {
      bias_ = p.bias;
      fwd_args_[DNNL_ARG_BIAS] = dnnl_utils::wrap(bias_);
    }
  }

  void setup() override {
    if (auto q = int8_of(ctx_)) return setup_int8(*q);
    ConvGeometry g = geometry(*ctx_.node);
    bool has_bias = ctx_.params.size() > 1;
    const memory::desc &src = ctx_.in_md[0], &dst = ctx_.out_md;
    memory::desc w_any(dnnl_utils::dims_of(ctx_.params[0].shape()), memory::data_type::f32, memory::format_tag::any);
    auto b = has_bias ? plain_desc(ctx_.params[1].shape()) : memory::desc();
    memory::dims strides = {g.sh, g.sw}, dilation = {g.dh - 1, g.dw - 1}, pad = {g.ph, g.pw};
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    auto fwd_pd = forward_pd(ctx_, src, dst);
    fwd_ = convolution_forward(fwd_pd);
    memory mw_plain = dnnl_utils::wrap(ctx_.params[0]);
    memory mw = reordered_in(mw_plain, fwd_pd.weights_desc(), ctx_.params[0].shape(), weights_, to_kernel_weights_);
    memory mx = dnnl_utils::wrap_md(ctx_.in[0], src);
    fwd_args_ = {{DNNL_ARG_SRC, mx},
                 {DNNL_ARG_WEIGHTS, mw},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, dst)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (has_bias) fwd_args_[DNNL_ARG_BIAS] = dnnl_utils::wrap(ctx_.params[1]);
    if (!ctx_.training) return;

    memory mdy = dnnl_utils::wrap_md(ctx_.d_out, dst);
    if (ctx_.d_in[0].defined()) {
      convolution_backward_data::primitive_desc pd(
          convolution_backward_data::desc(algorithm::convolution_direct, src, w_any, dst, strides, dilation, pad, pad), attr, eng,
          fwd_pd);
      bwd_data_ = convolution_backward_data(pd);
      memory w = mw;
      if (pd.weights_desc() != fwd_pd.weights_desc())
        w = reordered_in(mw_plain, pd.weights_desc(), ctx_.params[0].shape(), bwd_weights_copy_, to_bwd_data_weights_);
      bwd_data_args_ = {{DNNL_ARG_DIFF_DST, mdy},
                        {DNNL_ARG_WEIGHTS, w},
                        {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(ctx_.d_in[0], src)},
                        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    }
    auto weights_pd = [&](const memory::desc& x, const memory::desc& dy) {
      return convolution_backward_weights::primitive_desc(
          convolution_backward_weights::desc(algorithm::convolution_direct, x, w_any, b, dy, strides, dilation, pad, pad), attr,
          eng, fwd_pd);
    };
    convolution_backward_weights::primitive_desc pd = weights_pd(src, dst);
    memory bw_x = mx, bw_dy = mdy;
    if (is_reference(pd)) {
      // Only oneDNN's reference kernel takes the forward's layouts here: on AVX2, a first
      // convolution's plain source (1 channel) with a blocked gradient, where it takes seconds a
      // batch. The layouts its fast kernels want instead, with the source and the output
      // gradient reordered into them before each backward (copies of one activation each).
      auto any = [](const memory::desc& md) { return memory::desc(md.dims(), md.data_type(), memory::format_tag::any); };
      convolution_backward_weights::primitive_desc fast = weights_pd(any(src), any(dst));
      if (!is_reference(fast)) {
        pd = fast;
        bw_x = reordered_in(mx, pd.src_desc(), ctx_.in_shapes[0], bwd_src_, to_bwd_src_);
        bw_dy = reordered_in(mdy, pd.diff_dst_desc(), ctx_.out_shape, bwd_diff_dst_, to_bwd_diff_dst_);
      }
    }
    bwd_weights_ = convolution_backward_weights(pd);
    memory mdw_plain = dnnl_utils::wrap(ctx_.grads[0]), mdw = mdw_plain;
    if (pd.diff_weights_desc() != mdw_plain.get_desc()) {
      weight_grad_ = dnnl_utils::alloc_for(pd.diff_weights_desc(), ctx_.grads[0].shape());
      mdw = dnnl_utils::wrap_md(weight_grad_, pd.diff_weights_desc());
      to_plain_weight_grad_ = dnnl_utils::make_reorder(mdw, mdw_plain);
    }
    bwd_weights_args_ = {
        {DNNL_ARG_SRC, bw_x}, {DNNL_ARG_DIFF_DST, bw_dy}, {DNNL_ARG_DIFF_WEIGHTS, mdw}, {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (has_bias) bwd_weights_args_[DNNL_ARG_DIFF_BIAS] = dnnl_utils::wrap(ctx_.grads[1]);
  }

  template <typename PrimitiveDesc>
  static bool is_reference(const PrimitiveDesc& pd) {
    return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
  }

  // `from` itself when it has layout `md`, else a private buffer in `md` and the reorder into it.
  static memory reordered_in(const memory& from, const memory::desc& md, const Shape& shape, Tensor& buffer,
                             std::optional<dnnl_utils::Reorder>& reorder) {
    if (from.get_desc() == md) return from;
    buffer = dnnl_utils::alloc_for(md, shape);
    memory to = dnnl_utils::wrap_md(buffer, md);
    reorder = dnnl_utils::make_reorder(from, to);
    return to;
  }

  void run_reorder(const std::optional<dnnl_utils::Reorder>& r) {
    if (r) run(r->prim, r->args);
  }

  void forward() override {
    run_reorder(quantize_input_);
    run_reorder(to_kernel_weights_);
    run(fwd_, fwd_args_);
    run_reorder(from_int8_out_);
  }
  void backward() override {
    if (bwd_data_) {
      run_reorder(to_bwd_data_weights_);
      run(*bwd_data_, bwd_data_args_);
    }
    run_reorder(to_bwd_src_);
    run_reorder(to_bwd_diff_dst_);
    run(bwd_weights_, bwd_weights_args_);
    run_reorder(to_plain_weight_grad_);
  }

  convolution_forward fwd_;
  std::optional<convolution_backward_data> bwd_data_;
  convolution_backward_weights bwd_weights_;
  dnnl_utils::Args fwd_args_, bwd_data_args_, bwd_weights_args_;
  Tensor weights_, bwd_weights_copy_, weight_grad_;  // blocked copies, when the kernels want them
  Tensor bwd_src_, bwd_diff_dst_;                    // the same for backward weights' inputs
  Tensor quantized_input_, bias_, int8_out_;         // int8: the input in u8, the rescaled bias, the nhwc output
  std::optional<dnnl_utils::Reorder> quantize_input_, from_int8_out_, to_kernel_weights_, to_bwd_data_weights_,
      to_plain_weight_grad_, to_bwd_src_, to_bwd_diff_dst_;
};

}  // namespace

KernelDef conv2d_def() {
  return {"Conv2d", [] { return std::unique_ptr<Op>(new Conv2dOp); }};
}

}  // namespace strata
