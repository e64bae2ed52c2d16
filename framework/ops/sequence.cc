// Ops on token ids and sequences, in plain loops (memory-bound gathers and reductions):
//   Embedding            ids [..] -> W[id] [.., D]; the padding id gives zeros; backward
//                        scatter-adds dy into dW in row order (deterministic).
//   PositionalEmbedding  x [T, D] + P[t]; dP = sum over the batch of dy.
//   PaddingMask          ids [T] -> 1 where id != padding_idx, else 0 (no gradient).
//   SequencePool         [T, D] -> [D]: mean / max / last over the steps a keep-mask keeps.
#include <cstring>
#include <limits>

#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

// Token id i of an i32 or i64 tensor.
int64_t id_at(const Tensor& ids, int64_t i) {
  return ids.dtype() == DType::kI64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
}

class EmbeddingOp : public Op {
  void setup() override {
    vocab_ = ctx_.params[0].dim(0);
    dim_ = ctx_.params[0].dim(1);
    pad_ = ctx_.node->int_attr("padding_idx", -1);
  }
  void check(int64_t id, int64_t i) const {
    if (id < 0 || id >= vocab_)
      throw Error(ErrorCode::kInvalidArgument,
                  "token id " + std::to_string(id) + " at position " + std::to_string(i) + " is outside [0, " +
                      std::to_string(vocab_) + ")",
                  ctx_.where(), "encode the text with the vocabulary the model was built for");
  }
  void forward() override {
    const Tensor& ids = ctx_.in[0];
    const float* w = ctx_.params[0].f32();
    float* y = ctx_.out.f32();
    const int64_t n = ids.numel();
    for (int64_t i = 0; i < n; ++i) check(id_at(ids, i), i);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = id_at(ids, i);
      if (id == pad_)
        std::memset(y + i * dim_, 0, dim_ * sizeof(float));
      else
        std::memcpy(y + i * dim_, w + id * dim_, dim_ * sizeof(float));
    }
  }
  void backward() override {
    float* dw = ctx_.grads[0].f32();
    const float* dy = ctx_.d_out.f32();
    std::memset(dw, 0, ctx_.grads[0].nbytes());
    const int64_t n = ctx_.in[0].numel();
    for (int64_t i = 0; i < n; ++i) {
      int64_t id = id_at(ctx_.in[0], i);
      if (id == pad_) continue;
      float* row = dw + id * dim_;
      const float* g = dy + i * dim_;
#pragma omp simd
      for (int64_t j = 0; j < dim_; ++j) row[j] += g[j];
    }
  }
  int64_t vocab_ = 0, dim_ = 0, pad_ = -1;
};

class PositionalEmbeddingOp : public Op {
  void setup() override {}
  void forward() override {
    const int64_t per_sample = ctx_.params[0].numel();
    const float* p = ctx_.params[0].f32();
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
#pragma omp parallel for
    for (int64_t s = 0; s < ctx_.batch; ++s)
      for (int64_t j = 0; j < per_sample; ++j) y[s * per_sample + j] = x[s * per_sample + j] + p[j];
  }
  void backward() override {
    const int64_t per_sample = ctx_.params[0].numel();
    const float* dy = ctx_.d_out.f32();
    if (ctx_.d_in[0].defined()) std::memcpy(ctx_.d_in[0].f32(), dy, ctx_.d_out.nbytes());
    float* dp = ctx_.grads[0].f32();
#pragma omp parallel for
    for (int64_t j = 0; j < per_sample; ++j) {  // each element sums the batch in order
      float sum = 0;
      for (int64_t s = 0; s < ctx_.batch; ++s) sum += dy[s * per_sample + j];
      dp[j] = sum;
    }
  }
};

class PaddingMaskOp : public Op {
  void setup() override {}
  void forward() override {
    const int64_t pad = ctx_.node->int_attr("padding_idx", 0);
    float* y = ctx_.out.f32();
    for (int64_t i = 0; i < ctx_.out.numel(); ++i) y[i] = id_at(ctx_.in[0], i) == pad ? 0.f : 1.f;
  }
  void backward() override {}  // integer input: no gradient
};

class SequencePoolOp : public Op {
  enum Mode { kMean = 0, kMax = 1, kLast = 2 };
  void setup() override {
    mode_ = static_cast<int>(ctx_.node->int_attr("mode", 0));
    steps_ = ctx_.in_shapes[0][1];
    dim_ = ctx_.in_shapes[0][2];
    if (mode_ == kMax) argmax_ = Tensor({ctx_.batch, dim_}, DType::kI64);
  }
  bool kept(int64_t s, int64_t t) const { return ctx_.in.size() < 2 || ctx_.in[1].f32()[s * steps_ + t] != 0.f; }

  void forward() override {
    const float* x = ctx_.in[0].f32();
    float* y = ctx_.out.f32();
#pragma omp parallel for
    for (int64_t s = 0; s < ctx_.batch; ++s) {
      const float* xs = x + s * steps_ * dim_;
      float* ys = y + s * dim_;
      for (int64_t j = 0; j < dim_; ++j) ys[j] = 0.f;
      if (mode_ == kMean) {
        int64_t count = 0;
        for (int64_t t = 0; t < steps_; ++t)
          if (kept(s, t)) {
            ++count;
            for (int64_t j = 0; j < dim_; ++j) ys[j] += xs[t * dim_ + j];
          }
        if (count > 0)
          for (int64_t j = 0; j < dim_; ++j) ys[j] /= static_cast<float>(count);
      } else if (mode_ == kMax) {
        int64_t* arg = argmax_.data<int64_t>() + s * dim_;
        for (int64_t j = 0; j < dim_; ++j) {
          arg[j] = -1;
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t t = 0; t < steps_; ++t)
            if (kept(s, t) && xs[t * dim_ + j] > best) best = xs[t * dim_ + j], arg[j] = t;
          ys[j] = arg[j] < 0 ? 0.f : best;
        }
      } else {
        int64_t t = last_kept(s);
        if (t >= 0) std::memcpy(ys, xs + t * dim_, dim_ * sizeof(float));
      }
    }
  }
  int64_t last_kept(int64_t s) const {
    for (int64_t t = steps_ - 1; t >= 0; --t)
      if (kept(s, t)) return t;
    return -1;
  }

  void backward() override {
    if (ctx_.d_in.size() > 1 && ctx_.d_in[1].defined()) ctx_.d_in[1].fill(0.f);  // the mask is not differentiable
    if (!ctx_.d_in[0].defined()) return;
    const float* dy = ctx_.d_out.f32();
    float* dx = ctx_.d_in[0].f32();
#pragma omp parallel for
    for (int64_t s = 0; s < ctx_.batch; ++s) {
      float* dxs = dx + s * steps_ * dim_;
      const float* dys = dy + s * dim_;
      std::memset(dxs, 0, steps_ * dim_ * sizeof(float));
      if (mode_ == kMean) {
        int64_t count = 0;
        for (int64_t t = 0; t < steps_; ++t) count += kept(s, t);
        if (count == 0) continue;
        float scale = 1.f / static_cast<float>(count);
        for (int64_t t = 0; t < steps_; ++t)
          if (kept(s, t))
            for (int64_t j = 0; j < dim_; ++j) dxs[t * dim_ + j] = dys[j] * scale;
      } else if (mode_ == kMax) {
        const int64_t* arg = argmax_.data<int64_t>() + s * dim_;
        for (int64_t j = 0; j < dim_; ++j)
          if (arg[j] >= 0) dxs[arg[j] * dim_ + j] = dys[j];
      } else {
        int64_t t = last_kept(s);
        if (t >= 0) std::memcpy(dxs + t * dim_, dys, dim_ * sizeof(float));
      }
    }
  }

  int mode_ = kMean;
  int64_t steps_ = 0, dim_ = 0;
  Tensor argmax_;
};

}  // namespace

KernelDef embedding_def() {
  return {"Embedding", [] { return std::unique_ptr<Op>(new EmbeddingOp); }};
}
KernelDef positional_embedding_def() {
  return {"PositionalEmbedding", [] { return std::unique_ptr<Op>(new PositionalEmbeddingOp); }};
}
KernelDef padding_mask_def() {
  return {"PaddingMask", [] { return std::unique_ptr<Op>(new PaddingMaskOp); }};
}
KernelDef sequence_pool_def() {
  return {"SequencePool", [] { return std::unique_ptr<Op>(new SequencePoolOp); }};
}

}  // namespace strata
