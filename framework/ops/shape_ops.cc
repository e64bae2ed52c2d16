// Ops that move elements without arithmetic:
//   Reshape    same row-major elements, another per-sample shape (a copy: outputs never alias)
//   Transpose  permuted per-sample axes, as a oneDNN reorder between strided layouts
//   Slice      [..., start:end, ...] along one per-sample axis; backward zero-fills the rest
#include <cstring>

#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

class ReshapeOp : public Op {
  void setup() override {}
  void forward() override { std::memcpy(ctx_.out.raw(), ctx_.in[0].raw(), ctx_.out.nbytes()); }
  void backward() override {
    if (ctx_.d_in[0].defined()) std::memcpy(ctx_.d_in[0].raw(), ctx_.d_out.raw(), ctx_.d_out.nbytes());
  }
};

class TransposeOp : public Op {
  void setup() override {
    const Shape& in = ctx_.in_shapes[0];
    const Shape& out = ctx_.out_shape;
    std::vector<int64_t> perm = {0};  // with the batch axis
    for (int64_t p : ctx_.node->ints_attr("perm", {})) perm.push_back(p + 1);
    // The input's row-major strides, read in output-axis order: the input seen as the output.
    std::vector<int64_t> in_strides(in.size(), 1);
    for (size_t i = in.size() - 1; i > 0; --i) in_strides[i - 1] = in_strides[i] * in[i];
    dnnl::memory::dims dims(out.begin(), out.end()), strides;
    for (int64_t p : perm) strides.push_back(in_strides[p]);
    dnnl::memory::desc as_output(dims, dnnl::memory::data_type::f32, strides);
    dnnl::memory::desc plain_out = dnnl_utils::plain_desc(out);
    to_out_ = dnnl_utils::make_reorder(dnnl_utils::wrap_md(ctx_.in[0], as_output), dnnl_utils::wrap_md(ctx_.out, plain_out));
    if (ctx_.training && ctx_.d_in[0].defined())
      to_in_ = dnnl_utils::make_reorder(dnnl_utils::wrap_md(ctx_.d_out, plain_out), dnnl_utils::wrap_md(ctx_.d_in[0], as_output));
  }
  void forward() override { run(to_out_.prim, to_out_.args); }
  void backward() override {
    if (to_in_) run(to_in_->prim, to_in_->args);
  }
  dnnl_utils::Reorder to_out_;
  std::optional<dnnl_utils::Reorder> to_in_;
};

class SliceOp : public Op {
  void setup() override {
    const Shape& in = ctx_.in_shapes[0];
    int64_t axis = 1 + resolve_axis(*ctx_.node, ctx_.node->int_attr("axis", 0), in.size() - 1);
    int64_t len = in[axis];
    start_ = ctx_.node->int_attr("start", 0);
    if (start_ < 0) start_ += len;
    outer_ = 1;
    for (int64_t i = 0; i < axis; ++i) outer_ *= in[i];
    inner_ = 1;
    for (size_t i = axis + 1; i < in.size(); ++i) inner_ *= in[i];
    in_len_ = len;
    out_len_ = ctx_.out_shape[axis];
  }
  void forward() override {
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
#pragma omp parallel for
    for (int64_t o = 0; o < outer_; ++o)
      std::memcpy(y + o * out_len_ * inner_, x + (o * in_len_ + start_) * inner_, out_len_ * inner_ * sizeof(float));
  }
  void backward() override {
    if (!ctx_.d_in[0].defined()) return;
    const float* dy = ctx_.d_out.f32();
    float* dx = ctx_.d_in[0].f32();
#pragma omp parallel for
    for (int64_t o = 0; o < outer_; ++o) {
      float* row = dx + o * in_len_ * inner_;
      std::memset(row, 0, in_len_ * inner_ * sizeof(float));
      std::memcpy(row + start_ * inner_, dy + o * out_len_ * inner_, out_len_ * inner_ * sizeof(float));
    }
  }
  int64_t start_ = 0, outer_ = 1, inner_ = 1, in_len_ = 0, out_len_ = 0;
};

}  // namespace

KernelDef reshape_def() {
  return {"Reshape", [] { return std::unique_ptr<Op>(new ReshapeOp); }};
}
KernelDef transpose_def() {
  return {"Transpose", [] { return std::unique_ptr<Op>(new TransposeOp); }};
}
KernelDef slice_def() {
  return {"Slice", [] { return std::unique_ptr<Op>(new SliceOp); }};
}

}  // namespace strata
