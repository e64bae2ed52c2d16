// Conv2d: y[N,O,H',W'] = x[N,C,H,W] (*) W[O,C,kh,kw] + b[O], with stride, zero padding and
// dilation; H' = (H + 2p - d(k-1) - 1) / s + 1. Weights stay in canonical OIHW.
#include "strata/framework/ops/op.h"

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

class Conv2dOp : public Op {
  void setup() override {
    ConvGeometry g = geometry(*ctx_.node);
    bool has_bias = ctx_.params.size() > 1;
    auto src = plain_desc(ctx_.in[0].shape()), dst = plain_desc(ctx_.out.shape());
    auto w = plain_desc(ctx_.params[0].shape());
    auto b = has_bias ? plain_desc(ctx_.params[1].shape()) : memory::desc();
    memory::dims strides = {g.sh, g.sw}, dilation = {g.dh - 1, g.dw - 1}, pad = {g.ph, g.pw};
    auto attr = dnnl_utils::default_attr();
    auto fwd_attr = dnnl_utils::attr_with_relu(ctx_.fuse_relu);
    auto& eng = dnnl_utils::cpu_engine();
    prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    convolution_forward::primitive_desc fwd_pd(
        convolution_forward::desc(prop, algorithm::convolution_direct, src, w, b, dst, strides,
                                  dilation, pad, pad),
        fwd_attr, eng);
    fwd_ = convolution_forward(fwd_pd);
    memory mx = dnnl_utils::wrap(ctx_.in[0]), mw = dnnl_utils::wrap(ctx_.params[0]);
    fwd_args_ = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, dnnl_utils::wrap(ctx_.out)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (has_bias) fwd_args_[DNNL_ARG_BIAS] = dnnl_utils::wrap(ctx_.params[1]);
    if (!ctx_.training) return;

    memory mdy = dnnl_utils::wrap(ctx_.d_out);
    if (ctx_.d_in[0].defined()) {
      convolution_backward_data::primitive_desc pd(
          convolution_backward_data::desc(algorithm::convolution_direct, src, w, dst, strides,
                                          dilation, pad, pad),
          attr, eng, fwd_pd);
      bwd_data_ = convolution_backward_data(pd);
      bwd_data_args_ = {{DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_WEIGHTS, mw},
                        {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap(ctx_.d_in[0])},
                        {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    }
    convolution_backward_weights::primitive_desc pd(
        convolution_backward_weights::desc(algorithm::convolution_direct, src, w, b, dst, strides,
                                           dilation, pad, pad),
        attr, eng, fwd_pd);
    bwd_weights_ = convolution_backward_weights(pd);
    bwd_weights_args_ = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy},
                         {DNNL_ARG_DIFF_WEIGHTS, dnnl_utils::wrap(ctx_.grads[0])},
                         {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (has_bias) bwd_weights_args_[DNNL_ARG_DIFF_BIAS] = dnnl_utils::wrap(ctx_.grads[1]);
  }

  void forward() override { run(fwd_, fwd_args_); }
  void backward() override {
    if (bwd_data_) run(*bwd_data_, bwd_data_args_);
    run(bwd_weights_, bwd_weights_args_);
  }

  convolution_forward fwd_;
  std::optional<convolution_backward_data> bwd_data_;
  convolution_backward_weights bwd_weights_;
  dnnl_utils::Args fwd_args_, bwd_data_args_, bwd_weights_args_;
};

Shape infer(const NodeSpec& n, const ShapeList& in) {
  if (in[0].size() != 3) shape_error(n, "[N,C,H,W]", in[0]);
  ConvGeometry g = geometry(n);
  int64_t out = n.int_attr("out_channels", 0);
  if (out <= 0 || g.kh <= 0 || g.kw <= 0 || g.sh <= 0 || g.sw <= 0 || g.ph < 0 || g.pw < 0 ||
      g.dh <= 0 || g.dw <= 0)
    throw_invalid(n.op + "(" + n.name + "): out_channels, kernel, stride and dilation must be > 0, padding >= 0");
  int64_t h = (in[0][1] + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  int64_t w = (in[0][2] + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  if (h <= 0 || w <= 0)
    shape_error(n, "spatial size large enough for kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw), in[0]);
  return {out, h, w};
}

std::vector<ParamSpec> params(const NodeSpec& n, const ShapeList& in) {
  ConvGeometry g = geometry(n);
  int64_t out = n.int_attr("out_channels", 0), c = in[0][0];
  int64_t fan_in = c * g.kh * g.kw, fan_out = out * g.kh * g.kw;
  std::vector<ParamSpec> p = {make_param(n, "weight", {out, c, g.kh, g.kw}, "kaiming_uniform", true, fan_in, fan_out)};
  if (n.int_attr("bias", 1)) p.push_back(make_param(n, "bias", {out}, "bias_uniform", true, fan_in, fan_out));
  return p;
}

}  // namespace

OpDef conv2d_def() {
  return {"Conv2d", 1, 1, infer, params, [] { return std::unique_ptr<Op>(new Conv2dOp); }};
}

}  // namespace strata
