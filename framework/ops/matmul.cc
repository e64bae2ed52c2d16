// MatMul: C = alpha A B or alpha A B^T over batches of matrices (oneDNN matmul; the leading axes,
// batch included, are one batch axis). Backward, with every result written plain:
//   C = a A B:    dA = a dC B^T   dB = a A^T dC
//   C = a A B^T:  dA = a dC B     dB = a dC^T A
// Transposed operands are strided views of the stored tensors, not copies.
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;

// A [batch, rows, cols] view of a row-major tensor stored [batch, cols, rows] (transposed).
memory::desc transposed(int64_t batch, int64_t rows, int64_t cols) {
  return memory::desc({batch, rows, cols}, memory::data_type::f32, memory::dims{rows * cols, 1, rows});
}
memory::desc plain3(int64_t batch, int64_t rows, int64_t cols) {
  return memory::desc({batch, rows, cols}, memory::data_type::f32, memory::format_tag::abc);
}

class MatMulOp : public Op {
  struct Product {
    matmul prim;
    dnnl_utils::Args args;
  };

  void setup() override {
    const Shape& a = ctx_.in_shapes[0];
    const size_t r = a.size();
    const bool tb = ctx_.node->int_attr("transpose_b", 0) != 0;
    const float alpha = static_cast<float>(ctx_.node->float_attr("alpha", 1.0));
    const int64_t m = a[r - 2], k = a[r - 1], n = ctx_.out_shape[r - 1];
    const int64_t batch = ctx_.out.numel() / (m * n);
    memory::desc da = plain3(batch, m, k), dc = plain3(batch, m, n);
    memory::desc db_stored = tb ? plain3(batch, n, k) : plain3(batch, k, n);
    memory::desc b_as_kn = tb ? transposed(batch, k, n) : db_stored;
    fwd_ = product(ctx_.in[0], da, ctx_.in[1], b_as_kn, ctx_.out, dc, alpha);
    if (!ctx_.training) return;
    if (ctx_.d_in[0].defined())  // dA [m,k] = a dC [m,n] x (B as [n,k])
      bwd_a_ = product(ctx_.d_out, dc, ctx_.in[1], tb ? db_stored : transposed(batch, n, k), ctx_.d_in[0], da, alpha);
    if (ctx_.d_in[1].defined()) {
      if (tb)  // dB [n,k] = a dC^T [n,m] x A [m,k]
        bwd_b_ = product(ctx_.d_out, transposed(batch, n, m), ctx_.in[0], da, ctx_.d_in[1], db_stored, alpha);
      else  // dB [k,n] = a A^T [k,m] x dC [m,n]
        bwd_b_ = product(ctx_.in[0], transposed(batch, k, m), ctx_.d_out, dc, ctx_.d_in[1], db_stored, alpha);
    }
  }

  Product product(const Tensor& x, const memory::desc& xd, const Tensor& w, const memory::desc& wd, const Tensor& y,
                  const memory::desc& yd, float alpha) {
    primitive_attr attr = dnnl_utils::default_attr();
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    matmul::primitive_desc pd(matmul::desc(xd, wd, yd), attr, dnnl_utils::cpu_engine());
    return {matmul(pd),
            {{DNNL_ARG_SRC, dnnl_utils::wrap_md(x, xd)},
             {DNNL_ARG_WEIGHTS, dnnl_utils::wrap_md(w, wd)},
             {DNNL_ARG_DST, dnnl_utils::wrap_md(y, yd)},
             {DNNL_ARG_SCRATCHPAD, scratchpad(pd)}}};
  }

  void forward() override { run(fwd_.prim, fwd_.args); }
  void backward() override {
    if (bwd_a_) run(bwd_a_->prim, bwd_a_->args);
    if (bwd_b_) run(bwd_b_->prim, bwd_b_->args);
  }

  Product fwd_;
  std::optional<Product> bwd_a_, bwd_b_;
};

}  // namespace

KernelDef matmul_def() {
  return {"MatMul", [] { return std::unique_ptr<Op>(new MatMulOp); }};
}

}  // namespace strata
