// Network: a GraphSpec compiled into plans of oneDNN primitives (docs/design.md "Network definition and
// execution").
//
// A plan is built once per (batch size, mode): primitives, activation and gradient buffers and
// scratchpads are created then, so a steady-state training step allocates nothing and creates
// no primitive. Parameters live in canonical plain layouts (row-major, OIHW) shared by all plans.
// Not thread-safe: one thread drives a Network.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/framework/core/options.h"
#include "strata/framework/graph/graph_spec.h"
#include "strata/framework/train/train_state.h"

namespace strata {

enum class Mode { kTrain, kEval };

struct Parameter {
  std::string name;
  Tensor value;  // shares storage with the network
  Tensor grad;   // undefined for buffers (batchnorm running statistics)
  bool trainable = true;
};

struct NetworkOptions {
  // Overrides the weight initialiser of Linear/Conv2d ("" keeps the op's default,
  // kaiming_uniform): kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal, zeros.
  STRATA_ARG(std::string, weight_init);
  // Also compute dL/d(input) in backward() (saliency, adversarial inputs, gradient checks).
  STRATA_ARG(bool, input_grad) = false;
  // Fuse Linear/Conv2d -> ReLU into one oneDNN primitive with a post-op (off: for debugging).
  STRATA_ARG(bool, fuse) = true;
};

class Network {
 public:
  explicit Network(GraphSpec spec, NetworkOptions options = {});
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const GraphSpec& spec() const { return spec_; }

  // Deterministic initialisation from the counter-based generator keyed by (seed, parameter name).
  void init_params(uint64_t seed);
  // True once init_params or load_state_tensors has run: a Trainer then keeps the values
  // instead of initialising them from its seed (a warm start loads them before the Trainer).
  bool params_set() const { return params_set_; }

  // x: [N, input_shape...] f32. Returns the output [N, ...], valid until the next forward()
  // (whatever its mode or batch size: plans share their buffers). A graph with int8 nodes
  // (framework/graph/quantization.h) runs them in int8 in kEval and refuses kTrain.
  const Tensor& forward(const Tensor& x, Mode mode);
  // dL/d(output) of the last forward(): write it here, then call backward().
  Tensor& output_grad();
  // Backpropagates output_grad() through the last forward(kTrain) and overwrites the gradient of
  // every trainable parameter.
  void backward();
  // Called by backward() as soon as a node's parameter gradients are final (nodes in reverse
  // order), with the range [first, last) of parameters() that node owns; data-parallel training
  // starts summing them over the ranks while the rest of backward() runs. Empty: none.
  void set_gradients_ready_hook(std::function<void(size_t first, size_t last)> hook) { gradients_ready_ = std::move(hook); }
  // Zeroes every parameter gradient and calls the hook as backward() would (a data-parallel rank
  // that has no rows of a batch still takes part in the sums, in the same order).
  void zero_gradients_as_backward();
  // dL/d(input) of the last backward(); needs NetworkOptions::input_grad.
  const Tensor& input_grad() const;

  // Called by forward() just before each node runs, with the node's index in spec().nodes and
  // its inputs as the node reads them: maybe in a blocked layout (a flat tensor whose padding is
  // zero). Int8 calibration (versioning/run/quantize.h) reads their ranges. Empty: none.
  using InputObserver = std::function<void(size_t node, const std::vector<Tensor>& inputs)>;
  void set_input_observer(InputObserver observer);
  // Dropout masks of the next forward() are keyed by (seed, epoch, step).
  void set_step_key(uint64_t seed, int64_t epoch, int64_t step);

  std::vector<Parameter>& parameters() { return params_; }
  const std::vector<Parameter>& parameters() const { return params_; }
  Parameter* find_parameter(const std::string& name);
  int64_t num_trainable() const;

  // The parameter values in canonical layout (what the version log stores): copies, or with
  // deep_copy false views that share the live storage (they change with the next step).
  NamedTensors state_tensors(bool deep_copy = true) const;
  // Copies values in by name; every parameter of this network must be present with its shape.
  // A graph with int8 nodes drops its plans: they hold weights quantized when they were built.
  void load_state_tensors(const NamedTensors& tensors);

  // Number of compiled plans (for tests: a steady state compiles nothing new).
  size_t num_plans() const;
  // Bytes of activation and gradient storage the compiled plans hold. Buffers whose lifetimes
  // within a step do not overlap share storage, and all plans (batch sizes, train and eval)
  // share one pool, so this is well below one buffer per node and plan.
  size_t buffer_bytes() const;

 private:
  struct Plan;
  class Planner;  // network.cc: builds a Plan
  friend class Planner;
  Plan& plan_for(int64_t batch, Mode mode);

  GraphSpec spec_;
  NetworkOptions options_;
  std::vector<Parameter> params_;
  std::vector<size_t> node_params_begin_;  // node i owns params_[begin[i], begin[i + 1])
  std::function<void(size_t, size_t)> gradients_ready_;
  bool params_set_ = false;
  std::vector<std::unique_ptr<Plan>> plans_;
  Tensor buffer_pool_;  // activation and gradient storage shared by the plans
  Plan* last_ = nullptr;
  struct Hooks;  // the step key and the input observer
  std::unique_ptr<Hooks> hooks_;
};

}  // namespace strata
