#include "strata/framework/nn/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/graph/quantization.h"
#include "strata/framework/nn/internal/buffer_planner.h"
#include "strata/framework/nn/internal/value_lifetimes.h"
#include "strata/framework/ops/internal/op.h"

namespace strata {

struct Network::Hooks {
  StepKey key;
  InputObserver observer;
};

// One compiled execution of the graph for a batch size and mode.
struct Network::Plan {
  int64_t batch = 0;
  Mode mode = Mode::kEval;
  Tensor input;                 // [N, input_shape...]
  Tensor input_grad;            // dL/d(input) when NetworkOptions::input_grad
  std::vector<Tensor> outputs;  // per value (every output of every node)
  std::vector<Tensor> grads;    // per value, dL/d(value), training only
  std::vector<std::unique_ptr<Op>> ops;
  // A node whose output feeds several consumers gets each consumer's contribution in a private
  // buffer; after that consumer's backward the contribution is copied (first) or added into the
  // node's gradient. The order is fixed by the reverse topological walk, so "first" is static.
  struct Accumulate {
    size_t after_node;  // run after this node's backward
    Tensor from, into;
    bool first;
  };
  std::vector<Accumulate> accumulate;
  // Reorders between layouts (see op.h): into the layout a consumer wants before its forward,
  // and its input gradient back into the producer's layout after its backward (before any
  // Accumulate of that node).
  std::vector<std::vector<dnnl_utils::Reorder>> before_forward, after_backward;
  size_t output_index = 0;
  // The output node's values and gradient in plain layout, when the node runs on a blocked one.
  Tensor plain_output, plain_output_grad;
  std::optional<dnnl_utils::Reorder> output_to_plain, output_grad_from_plain;
  ScratchpadPool scratchpads;
  std::vector<std::vector<Tensor>> node_inputs;  // per node, what it reads (for the input observer)
};

namespace {

Shape with_batch(int64_t n, const Shape& per_sample) {
  Shape s = {n};
  s.insert(s.end(), per_sample.begin(), per_sample.end());
  return s;
}

void init_tensor(Tensor& t, const ParamSpec& p, const std::string& init, uint64_t seed) {
  // Key the stream by the parameter's name so adding a layer does not change the others.
  CounterRng rng(seed, RngPurpose::kInit, std::hash<std::string>{}(p.name));
  float* v = t.f32();
  int64_t n = t.numel();
  double fan_in = std::max<int64_t>(p.fan_in, 1), fan_out = std::max<int64_t>(p.fan_out, 1);
  auto uniform = [&](double bound) {
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((2.0 * rng.uniform(i) - 1.0) * bound);
  };
  auto normal = [&](double stddev) {
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(rng.normal(i) * stddev);
  };
  if (init == "zeros")
    t.fill(0.0f);
  else if (init == "ones")
    t.fill(1.0f);
  else if (init.rfind("constant:", 0) == 0)
    t.fill(std::stof(init.substr(9)));
  else if (init.rfind("normal:", 0) == 0)
    normal(std::stod(init.substr(7)));  // N(0, s^2)
  else if (init == "kaiming_uniform")
    uniform(std::sqrt(6.0 / fan_in));  // He, gain sqrt(2)
  else if (init == "kaiming_normal")
    normal(std::sqrt(2.0 / fan_in));
  else if (init == "xavier_uniform")
    uniform(std::sqrt(6.0 / (fan_in + fan_out)));
  else if (init == "xavier_normal")
    normal(std::sqrt(2.0 / (fan_in + fan_out)));
  else if (init == "bias_uniform")
    uniform(1.0 / std::sqrt(fan_in));  // PyTorch's bias default
  else
    throw_invalid(
        "unknown initialiser '" + init + "'", p.name,
        "use kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal, normal:<stddev>, zeros, ones or constant:<v>");
}

}  // namespace

Network::Network(GraphSpec spec, NetworkOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), hooks_(new Hooks) {
  if (spec_.nodes.empty()) throw_invalid("the graph has no nodes");
  // Every edge names the input or an output of an earlier node (a graph read from a damaged log
  // must not wire a value to the wrong buffer).
  std::map<std::string, int> outputs_of = {{spec_.input_name, 1}};
  auto check_edge = [&](const std::string& edge, const std::string& who) {
    const ValueRef ref = edge == spec_.input_name ? ValueRef{edge, 0} : parse_value_ref(edge);
    auto it = outputs_of.find(ref.node);
    if (it == outputs_of.end() || ref.output >= it->second)
      throw_invalid(who + " reads '" + edge + "', which is neither the graph input nor an output of an earlier node", "",
                    "build graphs with GraphBuilder, which checks them");
  };
  for (const NodeSpec& n : spec_.nodes) {
    for (const std::string& in : n.inputs) check_edge(in, n.op + "(" + n.name + ")");
    if (n.num_outputs() != op_schema(n.op, n.name).num_outputs)
      throw_invalid(n.op + "(" + n.name + ") has " + std::to_string(n.num_outputs()) + " output shapes, its op has " +
                    std::to_string(op_schema(n.op, n.name).num_outputs));
    if (!outputs_of.emplace(n.name, n.num_outputs()).second)
      throw_invalid("node name '" + n.name + "' appears twice (or is the input's name)");
  }
  check_edge(spec_.output, "the graph's output");
  for (const NodeSpec& n : spec_.nodes) {
    create_op(n.op, n.name);  // fails early on an unknown op or one without a kernel
    node_params_begin_.push_back(params_.size());
    for (const ParamSpec& p : n.params) {
      Parameter param;
      param.name = p.name;
      param.value = Tensor(p.shape);
      param.trainable = p.trainable;
      if (p.trainable) param.grad = Tensor(p.shape);
      params_.push_back(std::move(param));
    }
  }
  node_params_begin_.push_back(params_.size());
  init_params(0);
  params_set_ = false;  // the placeholder initialisation above is the Trainer's to replace
}

Network::~Network() = default;

void Network::init_params(uint64_t seed) {
  size_t k = 0;
  for (const NodeSpec& n : spec_.nodes)
    for (const ParamSpec& p : n.params) {
      const std::string& leaf = op_schema(n.op, n.name).overridable_weight;
      bool is_weight = !leaf.empty() && p.name == n.name + "/" + leaf;
      std::string init = is_weight && !options_.weight_init().empty() ? options_.weight_init() : p.init;
      init_tensor(params_[k++].value, p, init, seed);
    }
  params_set_ = true;
}

Parameter* Network::find_parameter(const std::string& name) {
  for (Parameter& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

int64_t Network::num_trainable() const {
  int64_t n = 0;
  for (const Parameter& p : params_)
    if (p.trainable) n += p.value.numel();
  return n;
}

NamedTensors Network::state_tensors(bool deep_copy) const {
  NamedTensors out;
  for (const Parameter& p : params_) out.emplace_back(p.name, deep_copy ? p.value.clone() : p.value);
  return out;
}

void Network::load_state_tensors(const NamedTensors& tensors) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : tensors) by_name[name] = &t;
  for (Parameter& p : params_) {
    auto it = by_name.find(p.name);
    if (it == by_name.end())
      throw Error(ErrorCode::kFailedPrecondition, "parameter '" + p.name + "' is missing from the loaded state", "",
                  "the state was saved from a different graph; use align to warm-start a changed graph");
    if (it->second->shape() != p.value.shape() || it->second->dtype() != DType::kF32)
      throw Error(ErrorCode::kFailedPrecondition, "parameter '" + p.name + "' has shape " + shape_str(it->second->shape()) +
                                                      " in the loaded state, the network expects " + shape_str(p.value.shape()));
    p.value.copy_from(*it->second);
  }
  params_set_ = true;
  const bool int8 = std::any_of(spec_.nodes.begin(), spec_.nodes.end(),
                                [](const NodeSpec& n) { return int8::node_quantization(n).has_value(); });
  if (int8) {
    plans_.clear();
    last_ = nullptr;
  }
}

size_t Network::num_plans() const { return plans_.size(); }

size_t Network::buffer_bytes() const { return buffer_pool_.nbytes(); }

void Network::set_input_observer(InputObserver observer) { hooks_->observer = std::move(observer); }

void Network::set_step_key(uint64_t seed, int64_t epoch, int64_t step) { hooks_->key = {seed, epoch, step}; }

// Builds one Plan (docs/design.md "Network definition and execution") in four steps:
// layout negotiation (each op picks its layouts given its producers'), buffer assignment (every
// activation, gradient and reorder buffer placed in the shared pool by liveness), wiring (the
// tensors, reorders and gradient accumulations between the ops) and compilation (each op builds
// its primitives).
class Network::Planner {
 public:
  Planner(Network& net, int64_t batch, Mode mode)
      : net_(net),
        spec_(net.spec_),
        plan_(std::make_unique<Plan>()),
        training_(mode == Mode::kTrain),
        want_input_grad_(training_ && net.options_.input_grad() && spec_.input_dtype == DType::kF32),
        values_(spec_),
        fusion_(planning::plan_relu_fusion(values_, net.options_.fuse())),
        timeline_{static_cast<int>(spec_.nodes.size())} {
    plan_->batch = batch;
    plan_->mode = mode;
    plan_->input = Tensor(with_batch(batch, spec_.input_shape), spec_.input_dtype);
    if (want_input_grad_) plan_->input_grad = Tensor(plan_->input.shape());
    plan_->output_index = values_.output;
  }

  std::unique_ptr<Plan> build() {
    negotiate_layouts();
    assign_buffers();
    wire();
    compile();
    return std::move(plan_);
  }

 private:
  // Per input of a node: a reorder into the layout the consumer wants, a private contribution to
  // a shared gradient, and the consumer's gradient in its own layout before it is reordered back.
  struct Wiring {
    int converted = -1, converted_grad = -1, contribution = -1;
    bool first = false, wants_grad = false;
  };

  // In topological order each op sees the layouts its producers chose. Outputs after the first
  // are plain.
  void negotiate_layouts() {
    const size_t n = spec_.nodes.size(), in = values_.input_slot;
    ctxs_.resize(n);
    out_md_.resize(values_.num_values);
    logical_.resize(values_.num_values);
    out_md_[in] = dnnl_utils::row_major_desc(plan_->input.shape());
    logical_[in] = plan_->input.shape();
    for (size_t i = 0; i < n; ++i) {
      const NodeSpec& node = spec_.nodes[i];
      OpContext& ctx = ctxs_[i];
      ctx.node = &node;
      ctx.batch = plan_->batch;
      ctx.training = training_;
      ctx.fuse_relu = fusion_.fuses_relu[i];
      ctx.fused_into_input = fusion_.fused[i];
      ctx.step = &net_.hooks_->key;
      ctx.scratchpads = &plan_->scratchpads;
      for (const std::string& edge : node.inputs) {
        ctx.in_shapes.push_back(logical_[values_.slot_of(edge)]);
        ctx.in_md.push_back(out_md_[values_.slot_of(edge)]);
      }
      const size_t v0 = values_.first_value[i];
      ctx.out_shape = logical_[v0] = with_batch(plan_->batch, node.output_shape);
      for (int k = 1; k < node.num_outputs(); ++k) {
        logical_[v0 + k] = with_batch(plan_->batch, node.output_shape_at(k));
        out_md_[v0 + k] = dnnl_utils::row_major_desc(logical_[v0 + k]);
        ctx.extra_out_shapes.push_back(logical_[v0 + k]);
      }
      plan_->ops.push_back(create_op(node.op, node.name));
      dnnl_utils::guarded(ctx.where(), [&] { plan_->ops.back()->choose_layouts(ctx); });
      out_md_[v0] = ctx.out_md;
    }
  }

  int add_buffer(const dnnl::memory::desc& md, const Shape& logical, int first, int last) {
    const size_t bytes = md.get_size();
    const Shape view = dnnl_utils::is_plain(md) ? logical : Shape{static_cast<int64_t>((bytes + 3) / 4)};
    return buffers_.add(bytes, view, first, last);
  }

  // Requests every buffer with its lifetime, plans and binds the shared pool.
  void assign_buffers() {
    const planning::ValueLifetimes life = planning::value_lifetimes(values_, fusion_, training_);
    out_buf_.assign(values_.num_values, -1);
    grad_buf_.assign(values_.num_values, -1);
    zero_grads_.resize(values_.num_values);
    for (size_t v = 0; v + 1 < values_.num_values; ++v)
      if (life.data[v]) out_buf_[v] = add_buffer(out_md_[v], logical_[v], life.data[v]->first, life.data[v]->last);
    // A gradient nothing writes has storage of its own, as the pool holds other plans' data.
    for (size_t v = 0; training_ && v + 1 < values_.num_values; ++v)
      if (life.grad[v])
        grad_buf_[v] = add_buffer(out_md_[v], logical_[v], life.grad[v]->first, life.grad[v]->last);
      else
        zero_grads_[v] = dnnl_utils::alloc_for(out_md_[v], logical_[v]);
    request_wiring_buffers();
    const size_t out = values_.output;
    if (!dnnl_utils::is_plain(out_md_[out])) {
      const dnnl::memory::desc plain = dnnl_utils::row_major_desc(logical_[out]);
      const int last_forward = timeline_.forward(spec_.nodes.size() - 1);
      plain_out_buf_ = add_buffer(plain, logical_[out], last_forward, BufferPlanner::kKept);
      if (training_) plain_grad_buf_ = add_buffer(plain, logical_[out], last_forward, timeline_.user());
    }
    buffers_.plan();
    if (buffers_.outgrows(net_.buffer_pool_)) {
      // The shared pool must grow: the other plans' buffers would point at storage it no longer
      // holds. They are compiled again when next used (only while new plans appear).
      net_.plans_.clear();
      net_.last_ = nullptr;
    }
    buffers_.bind(net_.buffer_pool_);
  }

  // Backward order decides which contribution to a shared gradient comes first.
  void request_wiring_buffers() {
    const std::vector<bool> needs_grad = planning::values_needing_grad(values_, want_input_grad_);
    wiring_.resize(spec_.nodes.size());
    std::vector<bool> seen(values_.num_values, false);
    for (size_t i = spec_.nodes.size(); i-- > 0;) {
      const NodeSpec& node = spec_.nodes[i];
      wiring_[i].resize(node.inputs.size());
      const int fwd = timeline_.forward(i), bwd = timeline_.backward(i);
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        Wiring& w = wiring_[i][k];
        const size_t src = values_.slot_of(node.inputs[k]);
        const bool integer_input = src == values_.input_slot && spec_.input_dtype != DType::kF32;
        const bool convert = !integer_input && ctxs_[i].in_md[k] != out_md_[src];
        if (convert) w.converted = add_buffer(ctxs_[i].in_md[k], logical_[src], fwd, training_ ? BufferPlanner::kKept : fwd);
        if (!training_ || !needs_grad[src]) continue;  // undefined: the op skips this data gradient
        w.wants_grad = true;
        if (values_.consumers[src] > 1) {
          w.contribution = add_buffer(out_md_[src], logical_[src], bwd, bwd);
          w.first = !seen[src];
        }
        seen[src] = true;
        if (convert) w.converted_grad = add_buffer(ctxs_[i].in_md[k], logical_[src], bwd, bwd);
      }
    }
  }

  Tensor output_of(size_t slot) const { return slot == values_.input_slot ? plan_->input : plan_->outputs[slot]; }

  void wire() {
    for (size_t v = 0; v + 1 < values_.num_values; ++v) {
      plan_->outputs.push_back(out_buf_[v] >= 0 ? buffers_.tensor(out_buf_[v]) : Tensor());
      if (training_) plan_->grads.push_back(grad_buf_[v] >= 0 ? buffers_.tensor(grad_buf_[v]) : zero_grads_[v]);
    }
    for (size_t j = 0; j < spec_.nodes.size(); ++j)  // the fused producer writes the ReLU's output
      if (fusion_.fused[j]) plan_->outputs[values_.first_value[j]] = plan_->outputs[values_.slot_of(spec_.nodes[j].inputs[0])];
    plan_->before_forward.resize(spec_.nodes.size());
    plan_->after_backward.resize(spec_.nodes.size());
    for (size_t i = spec_.nodes.size(); i-- > 0;)  // the order of request_wiring_buffers: accumulate relies on it
      for (size_t k = 0; k < spec_.nodes[i].inputs.size(); ++k) wire_input(i, k);
    wire_output();
  }

  void wire_input(size_t i, size_t k) {
    OpContext& ctx = ctxs_[i];
    ctx.in.resize(spec_.nodes[i].inputs.size());
    ctx.d_in.resize(spec_.nodes[i].inputs.size());
    const Wiring& w = wiring_[i][k];
    const size_t src = values_.slot_of(spec_.nodes[i].inputs[k]);
    ctx.in[k] = output_of(src);
    if (w.converted >= 0) {
      ctx.in[k] = buffers_.tensor(w.converted);
      plan_->before_forward[i].push_back(dnnl_utils::make_reorder(dnnl_utils::wrap_md(output_of(src), out_md_[src]),
                                                                  dnnl_utils::wrap_md(ctx.in[k], ctx.in_md[k])));
    }
    if (!w.wants_grad) return;
    Tensor target = src == values_.input_slot ? plan_->input_grad : plan_->grads[src];
    if (w.contribution >= 0) {
      Tensor contribution = buffers_.tensor(w.contribution);
      plan_->accumulate.push_back({i, contribution, target, w.first});
      target = contribution;
    }
    ctx.d_in[k] = target;
    if (w.converted_grad >= 0) {
      ctx.d_in[k] = buffers_.tensor(w.converted_grad);
      plan_->after_backward[i].push_back(
          dnnl_utils::make_reorder(dnnl_utils::wrap_md(ctx.d_in[k], ctx.in_md[k]), dnnl_utils::wrap_md(target, out_md_[src])));
    }
  }

  // The caller reads the output and writes its gradient in plain layout.
  void wire_output() {
    const size_t out = values_.output;
    if (plain_out_buf_ < 0) {
      plan_->plain_output = plan_->outputs[out];
      if (training_) plan_->plain_output_grad = plan_->grads[out];
      return;
    }
    plan_->plain_output = buffers_.tensor(plain_out_buf_);
    plan_->output_to_plain =
        dnnl_utils::make_reorder(dnnl_utils::wrap_md(plan_->outputs[out], out_md_[out]), dnnl_utils::wrap(plan_->plain_output));
    if (training_) {
      plan_->plain_output_grad = buffers_.tensor(plain_grad_buf_);
      plan_->output_grad_from_plain = dnnl_utils::make_reorder(dnnl_utils::wrap(plan_->plain_output_grad),
                                                               dnnl_utils::wrap_md(plan_->grads[out], out_md_[out]));
    }
  }

  void compile() {
    size_t param = 0;
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      OpContext& ctx = ctxs_[i];
      const size_t v0 = values_.first_value[i];
      ctx.out = plan_->outputs[v0];
      if (training_) ctx.d_out = plan_->grads[v0];
      for (int j = 1; j < spec_.nodes[i].num_outputs(); ++j) {
        ctx.extra_out.push_back(plan_->outputs[v0 + j]);
        if (training_) ctx.extra_d_out.push_back(plan_->grads[v0 + j]);
      }
      for (size_t j = 0; j < spec_.nodes[i].params.size(); ++j, ++param) {
        ctx.params.push_back(net_.params_[param].value);
        ctx.grads.push_back(net_.params_[param].grad);
      }
      plan_->node_inputs.push_back(ctx.in);
      plan_->ops[i]->compile(std::move(ctx));
    }
    plan_->scratchpads.bind();
  }

  Network& net_;
  const GraphSpec& spec_;
  std::unique_ptr<Plan> plan_;
  const bool training_, want_input_grad_;
  const planning::ValueGraph values_;
  const planning::ReluFusion fusion_;
  const planning::Timeline timeline_;
  std::vector<OpContext> ctxs_;             // per node
  std::vector<dnnl::memory::desc> out_md_;  // per value: the layout its producer writes
  std::vector<Shape> logical_;              // per value
  BufferPlanner buffers_;
  std::vector<int> out_buf_, grad_buf_;      // per value: buffer handles, -1 for none
  std::vector<Tensor> zero_grads_;           // per value: gradients nothing writes
  std::vector<std::vector<Wiring>> wiring_;  // per node input
  int plain_out_buf_ = -1, plain_grad_buf_ = -1;
};

Network::Plan& Network::plan_for(int64_t batch, Mode mode) {
  for (auto& p : plans_)
    if (p->batch == batch && p->mode == mode) return *p;
  if (mode == Mode::kTrain)
    for (const NodeSpec& n : spec_.nodes)
      if (int8::node_quantization(n))
        throw Error(ErrorCode::kFailedPrecondition, "the graph is quantized to int8 and runs inference only",
                    n.op + "(" + n.name + ")", "train from the f32 version it was quantized from (its parent)");
  std::unique_ptr<Plan> plan = Planner(*this, batch, mode).build();  // may drop the other plans
  plans_.push_back(std::move(plan));
  return *plans_.back();
}

namespace {
void run_reorder(const dnnl_utils::Reorder& r) {
  try {
    dnnl_utils::execute(r.prim, r.args);
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kInternal, std::string("oneDNN reorder: ") + e.what());
  }
}
}  // namespace

const Tensor& Network::forward(const Tensor& x, Mode mode) {
  const Shape& s = x.shape();
  bool ok = x.dtype() == spec_.input_dtype && s.size() == spec_.input_shape.size() + 1 &&
            std::equal(spec_.input_shape.begin(), spec_.input_shape.end(), s.begin() + 1);
  if (!ok)
    throw_invalid("network input: expected [N," + shape_str(spec_.input_shape).substr(1) + " " + dtype_name(spec_.input_dtype) +
                  ", got " + shape_str(s) + " " + dtype_name(x.dtype()));
  if (s[0] <= 0) throw_invalid("network input: batch size must be > 0, got " + shape_str(s));
  Plan& plan = plan_for(s[0], mode);
  std::memcpy(plan.input.raw(), x.raw(), x.nbytes());
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    for (const auto& r : plan.before_forward[i]) run_reorder(r);
    if (hooks_->observer) hooks_->observer(i, plan.node_inputs[i]);
    plan.ops[i]->forward();
  }
  if (plan.output_to_plain) run_reorder(*plan.output_to_plain);
  last_ = &plan;
  return plan.plain_output;
}

Tensor& Network::output_grad() {
  if (!last_ || last_->mode != Mode::kTrain)
    throw Error(ErrorCode::kFailedPrecondition, "output_grad() needs a preceding forward(x, Mode::kTrain)");
  return last_->plain_output_grad;
}

const Tensor& Network::input_grad() const {
  if (!last_ || !last_->input_grad.defined())
    throw Error(ErrorCode::kFailedPrecondition, "input_grad() needs NetworkOptions::input_grad and a backward()");
  return last_->input_grad;
}

void Network::backward() {
  output_grad();  // checks that the last forward was a training one
  Plan& plan = *last_;
  if (plan.output_grad_from_plain) run_reorder(*plan.output_grad_from_plain);
  size_t next = 0;
  for (size_t i = plan.ops.size(); i-- > 0;) {
    plan.ops[i]->backward();
    for (const auto& r : plan.after_backward[i]) run_reorder(r);
    // Contributions were registered in this same reverse order.
    while (next < plan.accumulate.size() && plan.accumulate[next].after_node == i) {
      auto& a = plan.accumulate[next++];
      float* into = a.into.f32();
      const float* from = a.from.f32();
      int64_t n = a.into.numel();
      if (a.first) {
        std::memcpy(into, from, n * sizeof(float));
      } else {
#pragma omp parallel for simd
        for (int64_t j = 0; j < n; ++j) into[j] += from[j];
      }
    }
    if (gradients_ready_ && node_params_begin_[i + 1] > node_params_begin_[i])
      gradients_ready_(node_params_begin_[i], node_params_begin_[i + 1]);
  }
}

void Network::zero_gradients_as_backward() {
  for (Parameter& p : params_)
    if (p.grad.defined()) p.grad.fill(0.f);
  if (!gradients_ready_) return;
  for (size_t i = spec_.nodes.size(); i-- > 0;)
    if (node_params_begin_[i + 1] > node_params_begin_[i]) gradients_ready_(node_params_begin_[i], node_params_begin_[i + 1]);
}

}  // namespace strata
