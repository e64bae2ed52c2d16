// Op: the executable half of an op (its schema, framework/graph/op_schema.h, is the other).
// Internal to framework/ (includes oneDNN); users write strata::Kernel (nn/kernel.h), which runs
// inside an Op adapter on plain layouts.
//
// An Op is compiled once for a batch size and a mode, creating its oneDNN primitives and any
// buffers it needs; forward() and backward() then allocate nothing.
//
// Layouts: activations and their gradients may live in oneDNN's blocked layouts (nChw16c) along
// conv -> ReLU -> pool chains; an op declares what it accepts in choose_layouts() and the
// network inserts reorders elsewhere. A node's output gradient has the layout of its output.
// Parameters and their gradients are always plain (canonical OIHW, row-major).
//
// backward() contract (op_schema.h): given ctx.d_out (and extra_d_out), overwrite every defined
// ctx.d_in[i] with dL/d(in[i]) and every defined ctx.grads[j] with dL/d(params[j]).
// Accumulation across consumers is the Network's job.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/framework/graph/op_schema.h"
#include "strata/framework/ops/internal/dnnl_utils.h"

namespace strata {

// Keys of the counter-based generator for stochastic ops (dropout) in the current step.
struct StepKey {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t step = 0;
};

// One scratchpad for all the primitives of a plan: a primitive uses its scratchpad only while it
// runs, and a plan runs one primitive at a time. Ops register their scratchpad memories here at
// compile time; the network allocates the largest size once and points every memory at it.
struct ScratchpadPool {
  std::vector<dnnl::memory> users;
  size_t bytes = 0;
  Tensor storage;
  void bind();  // after every op has compiled
};

struct OpContext {
  const NodeSpec* node = nullptr;
  int64_t batch = 0;
  bool training = false;
  std::vector<Shape> in_shapes;  // logical [N, ...] shape of each input
  Shape out_shape;               // logical [N, ...] shape of output 0
  // Memory layouts (docs/design.md "Network definition and execution": format_tag::any, reorders at the boundary). Before compile
  // the network fills in_md with the layouts the producers offer; choose_layouts() replaces them by the layouts this op wants
  // (the network reorders where they differ) and sets out_md.
  std::vector<dnnl::memory::desc> in_md;
  dnnl::memory::desc out_md;
  // Storage of the activations in those layouts: a plain layout comes as a tensor of the logical
  // shape; a blocked one as a flat tensor of the layout's (padded) size.
  std::vector<Tensor> in;  // activations of the inputs
  Tensor out;
  std::vector<Tensor> d_in;  // undefined where the gradient is not needed (integer inputs)
  Tensor d_out;              // training only
  // Outputs 1, 2, ... of a multi-output op (LSTM's final state): always plain row-major.
  std::vector<Shape> extra_out_shapes;
  std::vector<Tensor> extra_out, extra_d_out;
  std::vector<Tensor> params;  // in node->params order
  std::vector<Tensor> grads;   // same order; undefined for buffers (running statistics)
  const StepKey* step = nullptr;
  ScratchpadPool* scratchpads = nullptr;  // owned by the plan; null: each op allocates its own
  // Fusion (docs/design.md "Network definition and execution"): a Linear/Conv2d whose only consumer is a
  // ReLU applies the ReLU as a oneDNN post-op and writes the ReLU's output; the ReLU then only
  // runs its backward, from its output (dy * (y > 0)).
  bool fuse_relu = false;         // on the Linear/Conv2d
  bool fused_into_input = false;  // on the ReLU
  std::string where() const { return node ? node->op + "(" + node->name + ")" : "op"; }
};

class Op {
 public:
  virtual ~Op() = default;
  // Layout negotiation, before any buffer exists. The default takes and gives plain row-major
  // tensors; ops on oneDNN primitives that run faster on blocked layouts override it.
  virtual void choose_layouts(OpContext& ctx) const;
  void compile(OpContext ctx) {
    ctx_ = std::move(ctx);
    dnnl_utils::guarded(ctx_.where(), [&] { setup(); });
  }
  virtual void forward() = 0;
  virtual void backward() = 0;

 protected:
  virtual void setup() = 0;
  // Preallocated user scratchpad for a primitive (so execution never allocates).
  dnnl::memory scratchpad(const dnnl::primitive_desc_base& pd);
  void run(const dnnl::primitive& p, const dnnl_utils::Args& args) {
    try {
      dnnl_utils::execute(p, args);
    } catch (const dnnl::error& e) {  // the message is built only on failure: no allocation per step
      throw Error(ErrorCode::kInternal, std::string("oneDNN: ") + e.what(), ctx_.where());
    }
  }

  OpContext ctx_;
  std::vector<Tensor> scratch_;
};

// A built-in kernel: the op's name (its schema is registered under it) and a factory.
struct KernelDef {
  std::string name;
  std::unique_ptr<Op> (*create)() = nullptr;
};

// A fresh Op for the op type (built-in or registered by the user); throws kInvalidArgument
// naming the op and node when no kernel is registered.
std::unique_ptr<Op> create_op(const std::string& op, const std::string& where);

// Per-op kernels, one file each (registered explicitly by register_builtin_ops()).
KernelDef linear_def();
KernelDef conv2d_def();
KernelDef max_pool2d_def();
KernelDef avg_pool2d_def();
KernelDef global_avg_pool_def();
KernelDef batch_norm_def();
KernelDef relu_def();
KernelDef leaky_relu_def();
KernelDef sigmoid_def();
KernelDef tanh_def();
KernelDef gelu_def();
KernelDef dropout_def();
KernelDef flatten_def();
KernelDef add_def();
KernelDef concat_def();
KernelDef softmax_def();
KernelDef embedding_def();
KernelDef positional_embedding_def();
KernelDef padding_mask_def();
KernelDef layer_norm_def();
KernelDef reshape_def();
KernelDef transpose_def();
KernelDef slice_def();
KernelDef matmul_def();
KernelDef lstm_def();
KernelDef gru_def();
KernelDef sequence_pool_def();

}  // namespace strata
