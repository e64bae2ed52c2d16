#include <algorithm>
#include <functional>
#include <map>
#include <mutex>

#include "strata/framework/nn/kernel.h"
#include "strata/framework/ops/internal/op.h"

namespace strata {
namespace {

// Runs a user's Kernel: plain layouts (Op's default choose_layouts), tensors bound once.
class UserKernelOp : public Op {
 public:
  explicit UserKernelOp(std::unique_ptr<Kernel> kernel) : kernel_(std::move(kernel)) {}

 private:
  void setup() override {
    KernelContext& k = kctx_;
    k.node = ctx_.node;
    k.batch = ctx_.batch;
    k.training = ctx_.training;
    k.inputs = ctx_.in;
    k.outputs = {ctx_.out};
    k.outputs.insert(k.outputs.end(), ctx_.extra_out.begin(), ctx_.extra_out.end());
    k.input_grads = ctx_.d_in;
    if (ctx_.training) {
      k.output_grads = {ctx_.d_out};
      k.output_grads.insert(k.output_grads.end(), ctx_.extra_d_out.begin(), ctx_.extra_d_out.end());
    }
    k.params = ctx_.params;
    k.param_grads = ctx_.grads;
    if (ctx_.step) {
      k.seed = &ctx_.step->seed;
      k.epoch = &ctx_.step->epoch;
      k.step = &ctx_.step->step;
    }
    kernel_->setup(k);
  }
  void forward() override {
    guard([&] { kernel_->forward(kctx_); });
  }
  void backward() override {
    guard([&] { kernel_->backward(kctx_); });
  }

  // A user kernel's exception names the node it ran for.
  template <class F>
  void guard(F&& f) {
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorCode::kInternal, std::string("kernel failed: ") + e.what(), ctx_.where());
    }
  }

  std::unique_ptr<Kernel> kernel_;
  KernelContext kctx_;
};

struct KernelRegistry {
  std::mutex mutex;
  std::map<std::string, std::function<std::unique_ptr<Op>()>> kernels;
  std::once_flag builtins;
};

KernelRegistry& kernels() {
  static KernelRegistry r;
  return r;
}

void ensure_builtin_kernels() {
  std::call_once(kernels().builtins, [] {
    register_builtin_op_schemas();
    std::lock_guard<std::mutex> lock(kernels().mutex);
    for (const KernelDef& def : {linear_def(),
                                 conv2d_def(),
                                 max_pool2d_def(),
                                 avg_pool2d_def(),
                                 global_avg_pool_def(),
                                 batch_norm_def(),
                                 relu_def(),
                                 leaky_relu_def(),
                                 sigmoid_def(),
                                 tanh_def(),
                                 gelu_def(),
                                 dropout_def(),
                                 flatten_def(),
                                 add_def(),
                                 concat_def(),
                                 softmax_def(),
                                 embedding_def(),
                                 positional_embedding_def(),
                                 padding_mask_def(),
                                 layer_norm_def(),
                                 reshape_def(),
                                 transpose_def(),
                                 slice_def(),
                                 matmul_def(),
                                 lstm_def(),
                                 gru_def(),
                                 sequence_pool_def()}) {
      STRATA_CHECK(has_op_schema(def.name));  // every kernel has its schema
      kernels().kernels.emplace(def.name, def.create);
    }
  });
}

}  // namespace

void register_builtin_ops() { ensure_builtin_kernels(); }

void register_op(OpSchema schema, KernelFactory factory) {
  ensure_builtin_kernels();
  if (!factory) throw_invalid("register_op: no kernel factory", schema.name);
  std::string name = schema.name;
  register_op_schema(std::move(schema));  // refuses a taken name
  std::lock_guard<std::mutex> lock(kernels().mutex);
  kernels().kernels[name] = [factory] {
    std::unique_ptr<Kernel> kernel = factory();
    if (!kernel) throw_invalid("register_op: the kernel factory returned null");
    return std::unique_ptr<Op>(new UserKernelOp(std::move(kernel)));
  };
}

std::unique_ptr<Op> create_op(const std::string& op, const std::string& where) {
  ensure_builtin_kernels();
  op_schema(op, where);  // an unknown op: the schema registry's message, with the known ops
  std::function<std::unique_ptr<Op>()> create;
  {
    std::lock_guard<std::mutex> lock(kernels().mutex);
    auto it = kernels().kernels.find(op);
    if (it == kernels().kernels.end())
      throw_invalid("op '" + op + "' has a schema but no kernel", where,
                    "register it with strata::register_op (schema and kernel), not register_op_schema alone");
    create = it->second;
  }
  return create();
}

void ScratchpadPool::bind() {
  storage = Tensor({static_cast<int64_t>((bytes + 3) / 4 + 1)});
  for (dnnl::memory& m : users) m.set_data_handle(storage.raw());
}

void Op::choose_layouts(OpContext& ctx) const {
  for (size_t k = 0; k < ctx.in_md.size(); ++k) ctx.in_md[k] = dnnl_utils::row_major_desc(ctx.in_shapes[k]);
  ctx.out_md = dnnl_utils::row_major_desc(ctx.out_shape);
}

dnnl::memory Op::scratchpad(const dnnl::primitive_desc_base& pd) {
  size_t bytes = pd.scratchpad_desc().get_size();
  if (ctx_.scratchpads) {
    ScratchpadPool& pool = *ctx_.scratchpads;
    pool.users.emplace_back(pd.scratchpad_desc(), dnnl_utils::cpu_engine(), static_cast<void*>(DNNL_MEMORY_NONE));
    pool.bytes = std::max(pool.bytes, bytes);
    return pool.users.back();
  }
  scratch_.emplace_back(Shape{static_cast<int64_t>((bytes + 3) / 4 + 1)}, DType::kF32);
  return dnnl::memory(pd.scratchpad_desc(), dnnl_utils::cpu_engine(), scratch_.back().raw());
}

}  // namespace strata
