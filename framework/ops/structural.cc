// Ops that move data without arithmetic worth a oneDNN primitive:
//   Flatten  [N, d1, d2, ...] -> [N, d1*d2*...]
//   Add      y = a + b (same shapes; residual connections)
//   Concat   along a per-sample axis (default 0: the channel/feature axis)
#include <cstring>

#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

void copy_floats(float* dst, const float* src, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

class FlattenOp : public Op {
  void setup() override {}
  void forward() override { copy_floats(ctx_.out.f32(), ctx_.in[0].f32(), ctx_.out.numel()); }
  void backward() override {
    if (ctx_.d_in[0].defined()) copy_floats(ctx_.d_in[0].f32(), ctx_.d_out.f32(), ctx_.d_out.numel());
  }
};

// Element-wise, so it runs on any layout both inputs share (blocked residual blocks); the
// second input is reordered into the first one's layout when they differ.
class AddOp : public Op {
 public:
  void choose_layouts(OpContext& ctx) const override {
    ctx.in_md[1] = ctx.in_md[0];
    ctx.out_md = ctx.in_md[0];
  }

 private:
  void setup() override {}
  void forward() override {
    const float* a = ctx_.in[0].f32();
    const float* b = ctx_.in[1].f32();
    float* y = ctx_.out.f32();
    int64_t n = ctx_.out.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
  }
  void backward() override {
    for (const Tensor& d : ctx_.d_in)
      if (d.defined()) copy_floats(const_cast<Tensor&>(d).f32(), ctx_.d_out.f32(), ctx_.d_out.numel());
  }
};

class ConcatOp : public Op {
  void setup() override {}
  // Each sample's output row is the inputs' rows one after another.
  void forward() override { move(false); }
  void backward() override { move(true); }

  // [outer, axis..end] blocks: outer counts the batch and the axes before `axis`.
  void move(bool backward) {
    const Shape& shape = ctx_.out_shape;
    int64_t axis = 1 + resolve_axis(*ctx_.node, ctx_.node->int_attr("axis", 0), shape.size() - 1);
    int64_t n = 1;
    for (int64_t i = 0; i < axis; ++i) n *= shape[i];
    int64_t out_row = ctx_.out.numel() / n, offset = 0;
    for (size_t k = 0; k < ctx_.in.size(); ++k) {
      int64_t row = ctx_.in[k].numel() / n;
      if (!backward || ctx_.d_in[k].defined()) {
        for (int64_t s = 0; s < n; ++s) {
          if (backward)
            copy_floats(ctx_.d_in[k].f32() + s * row, ctx_.d_out.f32() + s * out_row + offset, row);
          else
            copy_floats(ctx_.out.f32() + s * out_row + offset, ctx_.in[k].f32() + s * row, row);
        }
      }
      offset += row;
    }
  }
};

}  // namespace

KernelDef flatten_def() {
  return {"Flatten", [] { return std::unique_ptr<Op>(new FlattenOp); }};
}
KernelDef add_def() {
  return {"Add", [] { return std::unique_ptr<Op>(new AddOp); }};
}
KernelDef concat_def() {
  return {"Concat", [] { return std::unique_ptr<Op>(new ConcatOp); }};
}

}  // namespace strata
