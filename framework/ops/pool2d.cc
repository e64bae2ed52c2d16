// MaxPool2d / AvgPool2d: windows of kernel k, stride s, zero padding p over [N,C,H,W];
// H' = (H + 2p - k) / s + 1. Average pooling counts padding like PyTorch's default
// (count_include_pad=True). Max pooling keeps oneDNN's workspace (argmax) for backward.
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;
using dnnl_utils::plain_desc;

struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw;
};

PoolGeometry geometry(const NodeSpec& n) {
  auto pair = [&](const char* key, std::vector<int64_t> fallback) {
    auto v = n.ints_attr(key, fallback);
    if (v.size() == 1) v.push_back(v[0]);
    return v;
  };
  auto k = pair("kernel", {0, 0});
  auto s = pair("stride", k), p = pair("padding", {0, 0});
  return {k[0], k[1], s[0], s[1], p[0], p[1]};
}

// Runs on the layout its producer offers (blocked after a convolution); the output takes the
// same layout, so conv -> ReLU -> pool -> conv chains need no reorder.
class PoolOp : public Op {
 public:
  explicit PoolOp(algorithm alg) : alg_(alg) {}

  void choose_layouts(OpContext& ctx) const override {
    memory::desc any(dnnl_utils::dims_of(ctx.out_shape), memory::data_type::f32, memory::format_tag::any);
    ctx.out_md = forward_pd(ctx, ctx.in_md[0], any).dst_desc();
  }

 private:
  pooling_forward::primitive_desc forward_pd(const OpContext& ctx, const memory::desc& src, const memory::desc& dst) const {
    PoolGeometry g = geometry(*ctx.node);
    memory::dims strides = {g.sh, g.sw}, kernel = {g.kh, g.kw}, pad = {g.ph, g.pw};
    prop_kind prop = ctx.training ? prop_kind::forward_training : prop_kind::forward_inference;
    return pooling_forward::primitive_desc(pooling_forward::desc(prop, alg_, src, dst, strides, kernel, pad, pad),
                                           dnnl_utils::default_attr(), dnnl_utils::cpu_engine());
  }

  void setup() override {
    PoolGeometry g = geometry(*ctx_.node);
    const memory::desc &src = ctx_.in_md[0], &dst = ctx_.out_md;
    memory::dims strides = {g.sh, g.sw}, kernel = {g.kh, g.kw}, pad = {g.ph, g.pw};
    auto attr = dnnl_utils::default_attr();
    auto& eng = dnnl_utils::cpu_engine();
    auto fwd_pd = forward_pd(ctx_, src, dst);
    fwd_ = pooling_forward(fwd_pd);
    fwd_args_ = {{DNNL_ARG_SRC, dnnl_utils::wrap_md(ctx_.in[0], src)},
                 {DNNL_ARG_DST, dnnl_utils::wrap_md(ctx_.out, dst)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(fwd_pd)}};
    if (!ctx_.training || !ctx_.d_in[0].defined()) return;
    memory workspace;
    if (fwd_pd.workspace_desc().get_size() > 0) {
      workspace_ = Tensor({static_cast<int64_t>(fwd_pd.workspace_desc().get_size() / 4 + 1)});
      workspace = memory(fwd_pd.workspace_desc(), eng, workspace_.raw());
      fwd_args_[DNNL_ARG_WORKSPACE] = workspace;
    }
    pooling_backward::primitive_desc pd(pooling_backward::desc(alg_, src, dst, strides, kernel, pad, pad), attr, eng, fwd_pd);
    bwd_ = pooling_backward(pd);
    bwd_args_ = {{DNNL_ARG_DIFF_DST, dnnl_utils::wrap_md(ctx_.d_out, dst)},
                 {DNNL_ARG_DIFF_SRC, dnnl_utils::wrap_md(ctx_.d_in[0], src)},
                 {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}};
    if (workspace) bwd_args_[DNNL_ARG_WORKSPACE] = workspace;
  }

  void forward() override { run(fwd_, fwd_args_); }
  void backward() override {
    if (bwd_) run(*bwd_, bwd_args_);
  }

  algorithm alg_;
  Tensor workspace_;
  pooling_forward fwd_;
  std::optional<pooling_backward> bwd_;
  dnnl_utils::Args fwd_args_, bwd_args_;
};

}  // namespace

KernelDef max_pool2d_def() {
  return {"MaxPool2d", [] { return std::unique_ptr<Op>(new PoolOp(algorithm::pooling_max)); }};
}

KernelDef avg_pool2d_def() {
  return {"AvgPool2d", [] { return std::unique_ptr<Op>(new PoolOp(algorithm::pooling_avg_include_padding)); }};
}

}  // namespace strata
