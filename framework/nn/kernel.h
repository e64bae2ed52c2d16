// Kernels: how an op computes, registered against its schema (framework/graph/op_schema.h).
//
// The built-in ops run on oneDNN (internal to framework/ops); a user adds an op from their own
// program with register_op(schema, factory) and a Kernel in plain C++ over row-major tensors:
//
//   struct Square : strata::Kernel {
//     void forward(const strata::KernelContext& c) override { ... c.outputs[0] = x * x ... }
//     void backward(const strata::KernelContext& c) override { ... c.input_grads[0] = 2 x dy ... }
//   };
//   strata::OpSchema s;  s.name = "Square";  s.infer = [](auto&, auto& in) { return in; };
//   strata::register_op(s, [] { return std::make_unique<Square>(); });
//
// The contract (what forward writes, what backward assigns) is op_schema.h's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "strata/framework/graph/op_schema.h"

namespace strata {

// What a kernel sees. Tensors carry the batch axis first ([N, ...]) and are row-major; they are
// bound once, when the network compiles a plan for a batch size and mode, and keep their storage
// for every later call of that plan (setup() may precompute from shapes, never from values).
struct KernelContext {
  const NodeSpec* node = nullptr;
  int64_t batch = 0;
  bool training = false;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  std::vector<Tensor> input_grads;   // training: undefined where the gradient is not wanted
  std::vector<Tensor> output_grads;  // training
  std::vector<Tensor> params;        // in the schema's params() order
  std::vector<Tensor> param_grads;   // undefined for buffers (trainable false)
  // Stochastic kernels key their numbers by (seed, epoch, step) of the current step.
  const uint64_t* seed = nullptr;
  const int64_t* epoch = nullptr;
  const int64_t* step = nullptr;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void setup(const KernelContext&) {}
  virtual void forward(const KernelContext& ctx) = 0;
  virtual void backward(const KernelContext& ctx) = 0;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>()>;

// Registers an op: its schema and its kernel. Throws kInvalidArgument when the name is taken.
void register_op(OpSchema schema, KernelFactory factory);

// Registers every built-in op (schemas and kernels). Explicit and idempotent; the first graph
// built or network compiled calls it, so programs need not.
void register_builtin_ops();

}  // namespace strata
