// LSTM and GRU on oneDNN's RNN primitives (vanilla LSTM; "linear before reset" GRU, which is
// PyTorch's GRU), batch first: input [N,T,I], output 0 [N,T,D*H] (the last layer), output 1
// [N,D*H] (its final hidden state, forward direction then reverse). One primitive per layer;
// bidirectional layers concatenate the two directions, as the next layer reads them.
//
// Parameters keep PyTorch's layout and names per layer and direction: weight_ih [G*H, in],
// weight_hh [G*H, H], bias_ih [G*H], bias_hh [G*H] (LSTM gates i,f,g,o; GRU gates r,z,n).
// Before a step they are packed into oneDNN's order (ldgoi, GRU gates as u=z, r, o=n; LSTM one
// bias b_ih + b_hh; GRU biases u, r, o = b_in and the extra b_hn) and reordered into the layout
// the primitive wants; gradients come back the same way. States start at zero.
#include <cstring>

#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

using namespace dnnl;
using tag = memory::format_tag;

class RnnOp : public Op {
 public:
  explicit RnnOp(bool lstm) : lstm_(lstm), gates_(lstm ? 4 : 3) {}

 private:
  struct Layer {
    int64_t input = 0;                // features in
    Tensor w_layer, w_iter, bias;     // packed ldgoi / ldgo
    Tensor dw_layer, dw_iter, dbias;  // packed gradients
    Tensor src, dst;                  // [N,T,in], [N,T,D*H] (first and last layer use ctx_'s)
    Tensor d_src, d_dst;
    Tensor dst_iter, dst_iter_c, d_dst_iter, d_dst_iter_c;  // last layer: [1,D,N,H]
    Tensor workspace;
    std::optional<primitive> fwd, bwd;
    dnnl_utils::Args fwd_args, bwd_args;
    std::vector<dnnl_utils::Reorder> before_fwd, before_bwd, after_bwd;
    std::vector<Tensor> dw_blocked;  // weight gradients in the primitive's layout
  };

  // The memory descriptors of one layer: plain (ntc) sequences, the last layer's final states
  // (ldnc), packed weights (ldgoi) and biases (ldgo), and `any` for the layouts the primitive picks.
  struct Descs {
    memory::desc src, dst, iter, c, wl_plain, wi_plain, bias, any_l, any_i;
  };
  Descs descs_for(int64_t input, bool last) const {
    const int64_t n = batch_, t = steps_, h = hidden_, d = dirs_, g = gates_;
    const auto f32 = memory::data_type::f32;
    Descs m;
    m.src = memory::desc({t, n, input}, f32, tag::ntc);
    m.dst = memory::desc({t, n, d * h}, f32, tag::ntc);
    if (last) m.iter = memory::desc({1, d, n, h}, f32, tag::ldnc);
    if (last && lstm_) m.c = m.iter;
    m.wl_plain = memory::desc({1, d, input, g, h}, f32, tag::ldgoi);
    m.wi_plain = memory::desc({1, d, h, g, h}, f32, tag::ldgoi);
    m.bias = memory::desc({1, d, kBiasGates, h}, f32, tag::ldgo);
    m.any_l = memory::desc({1, d, input, g, h}, f32, tag::any);
    m.any_i = memory::desc({1, d, h, g, h}, f32, tag::any);
    return m;
  }
  rnn_direction direction() const {
    return dirs_ == 2 ? rnn_direction::bidirectional_concat : rnn_direction::unidirectional_left2right;
  }

  void setup() override {
    const NodeSpec& node = *ctx_.node;
    hidden_ = node.int_attr("hidden_size", 0);
    dirs_ = node.int_attr("bidirectional", 0) ? 2 : 1;
    const int64_t layers = node.int_attr("num_layers", 1);
    batch_ = ctx_.batch;
    steps_ = ctx_.in_shapes[0][1];
    layers_.resize(layers);
    for (int64_t l = 0; l < layers; ++l) {
      Layer& L = layers_[l];
      const bool first = l == 0, last = l == layers - 1;
      L.input = first ? ctx_.in_shapes[0][2] : dirs_ * hidden_;
      const Descs m = descs_for(L.input, last);
      L.src = first ? ctx_.in[0] : layers_[l - 1].dst;
      L.dst = last ? ctx_.out : Tensor({batch_, steps_, dirs_ * hidden_});
      setup_forward(L, m, last);
      if (ctx_.training) setup_backward(L, m, first, last);
    }
    if (ctx_.training)  // layer l's output gradient is layer l+1's input gradient
      for (int64_t l = 0; l + 1 < layers; ++l) {
        Layer& L = layers_[l];
        L.d_dst = layers_[l + 1].d_src;
        L.bwd_args[DNNL_ARG_DIFF_DST_LAYER] = dnnl_utils::wrap_md(L.d_dst, descs_for(L.input, false).dst);
      }
  }

  // The forward primitive of one layer, its weights (reordered before it runs when it wants
  // another layout) and its arguments; the last layer also writes the final states.
  void setup_forward(Layer& L, const Descs& m, bool last) {
    const int64_t n = batch_, h = hidden_, d = dirs_, g = gates_;
    auto& eng = dnnl_utils::cpu_engine();
    const auto attr = dnnl_utils::default_attr();
    const prop_kind prop = ctx_.training ? prop_kind::forward_training : prop_kind::forward_inference;
    L.w_layer = Tensor({d * g * h * L.input});
    L.w_iter = Tensor({d * g * h * h});
    L.bias = Tensor({d * kBiasGates * h});
    if (last) {
      L.dst_iter = Tensor({d, n, h});
      if (lstm_) L.dst_iter_c = Tensor({d, n, h});
    }
    const memory::desc none;
    primitive_desc_base pd_base = [&]() -> primitive_desc_base {
      if (lstm_) {
        lstm_forward::primitive_desc pd(
            lstm_forward::desc(prop, direction(), m.src, none, none, m.any_l, m.any_i, m.bias, m.dst, m.iter, m.c), attr, eng);
        L.fwd = lstm_forward(pd);
        lstm_fwd_.push_back(pd);
        return pd;
      }
      lbr_gru_forward::primitive_desc pd(
          lbr_gru_forward::desc(prop, direction(), m.src, none, m.any_l, m.any_i, m.bias, m.dst, m.iter), attr, eng);
      L.fwd = lbr_gru_forward(pd);
      gru_fwd_.push_back(pd);
      return pd;
    }();
    memory wl_mem = kernel_weights(L.w_layer, m.wl_plain, pd_base.query_md(query::weights_md, 0), L.before_fwd);
    memory wi_mem = kernel_weights(L.w_iter, m.wi_plain, pd_base.query_md(query::weights_md, 1), L.before_fwd);
    L.fwd_args = {{DNNL_ARG_SRC_LAYER, dnnl_utils::wrap_md(L.src, m.src)},
                  {DNNL_ARG_WEIGHTS_LAYER, wl_mem},
                  {DNNL_ARG_WEIGHTS_ITER, wi_mem},
                  {DNNL_ARG_BIAS, dnnl_utils::wrap_md(L.bias, m.bias)},
                  {DNNL_ARG_DST_LAYER, dnnl_utils::wrap_md(L.dst, m.dst)},
                  {DNNL_ARG_SCRATCHPAD, scratchpad(pd_base)}};
    if (last) {
      L.fwd_args[DNNL_ARG_DST_ITER] = dnnl_utils::wrap_md(L.dst_iter, m.iter);
      if (lstm_) L.fwd_args[DNNL_ARG_DST_ITER_C] = dnnl_utils::wrap_md(L.dst_iter_c, m.iter);
    }
    if (!ctx_.training) return;
    const memory::desc ws = pd_base.query_md(query::workspace_md, 0);
    L.workspace = Tensor({static_cast<int64_t>(ws.get_size() / 4 + 1)});
    L.fwd_args[DNNL_ARG_WORKSPACE] = dnnl_utils::wrap_md(L.workspace, ws);
  }

  // The backward primitive of one layer (after setup_forward): gradients of its input, weights
  // (in the primitive's layout, reordered back after it runs) and bias.
  void setup_backward(Layer& L, const Descs& m, bool first, bool last) {
    const int64_t n = batch_, t = steps_, h = hidden_, d = dirs_, g = gates_;
    auto& eng = dnnl_utils::cpu_engine();
    const auto attr = dnnl_utils::default_attr();
    L.d_src = first && ctx_.d_in[0].defined() ? ctx_.d_in[0] : Tensor({n, t, L.input});
    L.d_dst = last ? ctx_.d_out : Tensor();  // earlier layers: the next layer's d_src (bound in setup)
    if (last) {
      L.d_dst_iter = Tensor({d, n, h});
      if (lstm_) L.d_dst_iter_c = Tensor({d, n, h});  // the cell state is no output: zero
    }
    L.dw_layer = Tensor({d * g * h * L.input});
    L.dw_iter = Tensor({d * g * h * h});
    L.dbias = Tensor({d * kBiasGates * h});
    const memory::desc none;
    primitive_desc_base pd_base = [&]() -> primitive_desc_base {
      if (lstm_) {
        lstm_backward::primitive_desc pd(
            lstm_backward::desc(prop_kind::backward, direction(), m.src, none, none, m.any_l, m.any_i, m.bias, m.dst, m.iter, m.c,
                                m.src, none, none, m.any_l, m.any_i, m.bias, m.dst, m.iter, m.c),
            attr, eng, lstm_fwd_.back());
        L.bwd = lstm_backward(pd);
        return pd;
      }
      lbr_gru_backward::primitive_desc pd(
          lbr_gru_backward::desc(prop_kind::backward, direction(), m.src, none, m.any_l, m.any_i, m.bias, m.dst, m.iter, m.src,
                                 none, m.any_l, m.any_i, m.bias, m.dst, m.iter),
          attr, eng, gru_fwd_.back());
      L.bwd = lbr_gru_backward(pd);
      return pd;
    }();
    memory wl_b = kernel_weights(L.w_layer, m.wl_plain, pd_base.query_md(query::weights_md, 0), L.before_bwd);
    memory wi_b = kernel_weights(L.w_iter, m.wi_plain, pd_base.query_md(query::weights_md, 1), L.before_bwd);
    memory dwl_mem = gradient_weights(L, L.dw_layer, m.wl_plain, pd_base.query_md(query::diff_weights_md, 0));
    memory dwi_mem = gradient_weights(L, L.dw_iter, m.wi_plain, pd_base.query_md(query::diff_weights_md, 1));
    L.bwd_args = {{DNNL_ARG_SRC_LAYER, L.fwd_args[DNNL_ARG_SRC_LAYER]},
                  {DNNL_ARG_WEIGHTS_LAYER, wl_b},
                  {DNNL_ARG_WEIGHTS_ITER, wi_b},
                  {DNNL_ARG_BIAS, L.fwd_args[DNNL_ARG_BIAS]},
                  {DNNL_ARG_DST_LAYER, L.fwd_args[DNNL_ARG_DST_LAYER]},
                  {DNNL_ARG_WORKSPACE, L.fwd_args[DNNL_ARG_WORKSPACE]},
                  {DNNL_ARG_DIFF_SRC_LAYER, dnnl_utils::wrap_md(L.d_src, m.src)},
                  {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_mem},
                  {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_mem},
                  {DNNL_ARG_DIFF_BIAS, dnnl_utils::wrap_md(L.dbias, m.bias)},
                  {DNNL_ARG_SCRATCHPAD, scratchpad(pd_base)}};
    if (last) {
      L.bwd_args[DNNL_ARG_DIFF_DST_LAYER] = dnnl_utils::wrap_md(L.d_dst, m.dst);
      L.bwd_args[DNNL_ARG_DST_ITER] = L.fwd_args[DNNL_ARG_DST_ITER];
      L.bwd_args[DNNL_ARG_DIFF_DST_ITER] = dnnl_utils::wrap_md(L.d_dst_iter, m.iter);
      if (lstm_) {
        L.bwd_args[DNNL_ARG_DST_ITER_C] = L.fwd_args[DNNL_ARG_DST_ITER_C];
        L.bwd_args[DNNL_ARG_DIFF_DST_ITER_C] = dnnl_utils::wrap_md(L.d_dst_iter_c, m.iter);
      }
    }
  }

  // The memory a primitive reads weights from: the packed plain buffer, or a reorder of it into
  // the layout the primitive wants (run before the primitive).
  memory kernel_weights(const Tensor& packed, const memory::desc& plain, const memory::desc& wanted,
                        std::vector<dnnl_utils::Reorder>& reorders) {
    memory from = dnnl_utils::wrap_md(packed, plain);
    if (wanted == plain) return from;
    buffers_.emplace_back(Shape{static_cast<int64_t>(wanted.get_size() / 4 + 1)});
    memory to = dnnl_utils::wrap_md(buffers_.back(), wanted);
    reorders.push_back(dnnl_utils::make_reorder(from, to));
    return to;
  }
  // The memory a primitive writes weight gradients to; reordered back into the packed buffer.
  memory gradient_weights(Layer& L, const Tensor& packed, const memory::desc& plain, const memory::desc& produced) {
    memory to = dnnl_utils::wrap_md(packed, plain);
    if (produced == plain) return to;
    L.dw_blocked.emplace_back(Shape{static_cast<int64_t>(produced.get_size() / 4 + 1)});
    memory from = dnnl_utils::wrap_md(L.dw_blocked.back(), produced);
    L.after_bwd.push_back(dnnl_utils::make_reorder(from, to));
    return from;
  }

  // oneDNN gate g reads PyTorch gate pytorch_gate(g).
  int64_t pytorch_gate(int64_t g) const { return lstm_ ? g : (g == 0 ? 1 : g == 1 ? 0 : 2); }
  const Tensor& param(int64_t l, int64_t d, int j) const { return ctx_.params[(l * dirs_ + d) * 4 + j]; }
  Tensor& grad(int64_t l, int64_t d, int j) { return ctx_.grads[(l * dirs_ + d) * 4 + j]; }

  void pack(int64_t l) {
    Layer& L = layers_[l];
    const int64_t h = hidden_;
    for (int64_t d = 0; d < dirs_; ++d)
      for (int64_t g = 0; g < gates_; ++g) {
        int64_t pg = pytorch_gate(g);
        std::memcpy(L.w_layer.f32() + (d * gates_ + g) * h * L.input, param(l, d, 0).f32() + pg * h * L.input,
                    h * L.input * sizeof(float));
        std::memcpy(L.w_iter.f32() + (d * gates_ + g) * h * h, param(l, d, 1).f32() + pg * h * h, h * h * sizeof(float));
        float* b = L.bias.f32() + (d * 4 + g) * h;
        const float* bi = param(l, d, 2).f32() + pg * h;
        const float* bh = param(l, d, 3).f32() + pg * h;
        bool candidate = !lstm_ && g == 2;  // GRU: b_hn sits inside r * (...): its own row
        for (int64_t k = 0; k < h; ++k) b[k] = candidate ? bi[k] : bi[k] + bh[k];
      }
    if (!lstm_)
      for (int64_t d = 0; d < dirs_; ++d)
        std::memcpy(L.bias.f32() + (d * 4 + 3) * h, param(l, d, 3).f32() + 2 * h, h * sizeof(float));
  }

  void unpack_gradients(int64_t l) {
    Layer& L = layers_[l];
    const int64_t h = hidden_;
    for (int64_t d = 0; d < dirs_; ++d)
      for (int64_t g = 0; g < gates_; ++g) {
        int64_t pg = pytorch_gate(g);
        std::memcpy(grad(l, d, 0).f32() + pg * h * L.input, L.dw_layer.f32() + (d * gates_ + g) * h * L.input,
                    h * L.input * sizeof(float));
        std::memcpy(grad(l, d, 1).f32() + pg * h * h, L.dw_iter.f32() + (d * gates_ + g) * h * h, h * h * sizeof(float));
        const float* db = L.dbias.f32() + (d * 4 + g) * h;
        std::memcpy(grad(l, d, 2).f32() + pg * h, db, h * sizeof(float));
        bool candidate = !lstm_ && g == 2;
        const float* dbh = candidate ? L.dbias.f32() + (d * 4 + 3) * h : db;
        std::memcpy(grad(l, d, 3).f32() + pg * h, dbh, h * sizeof(float));
      }
  }

  void forward() override {
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& L = layers_[l];
      pack(static_cast<int64_t>(l));
      for (const auto& r : L.before_fwd) run(r.prim, r.args);
      run(*L.fwd, L.fwd_args);
    }
    // Output 1: the final hidden state [D,N,H] -> [N, D*H].
    const Layer& L = layers_.back();
    float* y = ctx_.extra_out[0].f32();
    for (int64_t d = 0; d < dirs_; ++d)
      for (int64_t s = 0; s < batch_; ++s)
        std::memcpy(y + (s * dirs_ + d) * hidden_, L.dst_iter.f32() + (d * batch_ + s) * hidden_, hidden_ * sizeof(float));
  }

  void backward() override {
    Layer& last = layers_.back();
    const float* dy = ctx_.extra_d_out[0].f32();
    for (int64_t d = 0; d < dirs_; ++d)
      for (int64_t s = 0; s < batch_; ++s)
        std::memcpy(last.d_dst_iter.f32() + (d * batch_ + s) * hidden_, dy + (s * dirs_ + d) * hidden_, hidden_ * sizeof(float));
    for (size_t l = layers_.size(); l-- > 0;) {
      Layer& L = layers_[l];
      for (const auto& r : L.before_bwd) run(r.prim, r.args);
      // The RNN primitive accumulates weight gradients: start from zero.
      L.dw_layer.fill(0.f);
      L.dw_iter.fill(0.f);
      L.dbias.fill(0.f);
      for (Tensor& t : L.dw_blocked) t.fill(0.f);
      run(*L.bwd, L.bwd_args);
      for (const auto& r : L.after_bwd) run(r.prim, r.args);
      unpack_gradients(static_cast<int64_t>(l));
    }
  }

  bool lstm_;
  int64_t gates_;
  static constexpr int64_t kBiasGates = 4;  // LSTM: 4 gates; lbr_gru: 3 gates + b_hn
  int64_t hidden_ = 0, dirs_ = 1, batch_ = 0, steps_ = 0;
  std::vector<Layer> layers_;
  std::vector<lstm_forward::primitive_desc> lstm_fwd_;
  std::vector<lbr_gru_forward::primitive_desc> gru_fwd_;
  std::vector<Tensor> buffers_;  // weights in the primitives' layouts
};

}  // namespace

KernelDef lstm_def() {
  return {"LSTM", [] { return std::unique_ptr<Op>(new RnnOp(true)); }};
}
KernelDef gru_def() {
  return {"GRU", [] { return std::unique_ptr<Op>(new RnnOp(false)); }};
}

}  // namespace strata
