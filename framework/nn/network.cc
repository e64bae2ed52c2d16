#include "strata/framework/nn/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "strata/framework/core/error.h"
#include "strata/framework/core/rng.h"
#include "strata/framework/nn/buffer_planner.h"
#include "strata/framework/ops/op.h"

namespace strata {

struct Network::StepKeyHolder {
  StepKey key;
};

// One compiled execution of the graph for a batch size and mode.
struct Network::Plan {
  int64_t batch = 0;
  Mode mode = Mode::kEval;
  Tensor input;                   // [N, input_shape...]
  Tensor input_grad;              // dL/d(input) when NetworkOptions::input_grad
  std::vector<Tensor> outputs;    // per value (every output of every node)
  std::vector<Tensor> grads;      // per value, dL/d(value), training only
  std::vector<std::unique_ptr<Op>> ops;
  // A node whose output feeds several consumers gets each consumer's contribution in a private
  // buffer; after that consumer's backward the contribution is copied (first) or added into the
  // node's gradient. The order is fixed by the reverse topological walk, so "first" is static.
  struct Accumulate {
    size_t after_node;            // run after this node's backward
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
  if (init == "zeros") t.fill(0.0f);
  else if (init == "ones") t.fill(1.0f);
  else if (init.rfind("constant:", 0) == 0) t.fill(std::stof(init.substr(9)));
  else if (init.rfind("normal:", 0) == 0) normal(std::stod(init.substr(7)));  // N(0, s^2)
  else if (init == "kaiming_uniform") uniform(std::sqrt(6.0 / fan_in));   // He, gain sqrt(2)
  else if (init == "kaiming_normal") normal(std::sqrt(2.0 / fan_in));
  else if (init == "xavier_uniform") uniform(std::sqrt(6.0 / (fan_in + fan_out)));
  else if (init == "xavier_normal") normal(std::sqrt(2.0 / (fan_in + fan_out)));
  else if (init == "bias_uniform") uniform(1.0 / std::sqrt(fan_in));     // PyTorch's bias default
  else throw_invalid("unknown initialiser '" + init + "'", p.name,
                     "use kaiming_uniform, kaiming_normal, xavier_uniform, xavier_normal, normal:<stddev>, zeros, ones or constant:<v>");
}

}  // namespace

Network::Network(GraphSpec spec, NetworkOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), step_key_(new StepKeyHolder) {
  if (spec_.nodes.empty()) throw_invalid("the graph has no nodes");
  // Every edge names the input or an output of an earlier node (a graph read from a damaged log
  // must not wire a value to the wrong buffer).
  std::map<std::string, int> outputs_of = {{spec_.input_name, 1}};
  auto check_edge = [&](const std::string& edge, const std::string& who) {
    const ValueRef ref = edge == spec_.input_name ? ValueRef{edge, 0} : parse_value_ref(edge);
    auto it = outputs_of.find(ref.node);
    if (it == outputs_of.end() || ref.output >= it->second)
      throw_invalid(who + " reads '" + edge + "', which is neither the graph input nor an output of an earlier node",
                    "", "build graphs with GraphBuilder, which checks them");
  };
  for (const NodeSpec& n : spec_.nodes) {
    for (const std::string& in : n.inputs) check_edge(in, n.op + "(" + n.name + ")");
    if (n.num_outputs() != op_schema(n.op, n.name).num_outputs)
      throw_invalid(n.op + "(" + n.name + ") has " + std::to_string(n.num_outputs()) + " output shapes, its op has " +
                    std::to_string(op_schema(n.op, n.name).num_outputs));
    outputs_of[n.name] = n.num_outputs();
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
      throw Error(ErrorCode::kFailedPrecondition,
                  "parameter '" + p.name + "' has shape " + shape_str(it->second->shape()) +
                      " in the loaded state, the network expects " + shape_str(p.value.shape()));
    p.value.copy_from(*it->second);
  }
  params_set_ = true;
}

size_t Network::num_plans() const { return plans_.size(); }

size_t Network::buffer_bytes() const {
  return buffer_pool_.nbytes();
}

void Network::set_step_key(uint64_t seed, int64_t epoch, int64_t step) {
  step_key_->key = {seed, epoch, step};
}

Network::Plan& Network::plan_for(int64_t batch, Mode mode) {
  for (auto& p : plans_)
    if (p->batch == batch && p->mode == mode) return *p;

  auto plan = std::make_unique<Plan>();
  plan->batch = batch;
  plan->mode = mode;
  const bool training = mode == Mode::kTrain;
  const size_t num_nodes = spec_.nodes.size();
  plan->input = Tensor(with_batch(batch, spec_.input_shape), spec_.input_dtype);

  const bool want_input_grad = training && options_.input_grad() && spec_.input_dtype == DType::kF32;
  if (want_input_grad) plan->input_grad = Tensor(plan->input.shape());

  // Values: every output of every node ("node:k"), then the graph input. first_value[i] is node
  // i's output 0; its output k is first_value[i] + k.
  std::map<std::string, size_t> index;
  std::vector<size_t> first_value(num_nodes + 1, 0), producer;
  for (size_t i = 0; i < num_nodes; ++i) {
    const NodeSpec& n = spec_.nodes[i];
    index[n.name] = i;
    first_value[i + 1] = first_value[i] + n.num_outputs();
    for (int k = 0; k < n.num_outputs(); ++k) producer.push_back(i);
  }
  const size_t num_values = first_value[num_nodes] + 1, input_slot = num_values - 1;
  auto slot_of = [&](const std::string& edge) {
    if (edge == spec_.input_name) return input_slot;
    ValueRef ref = parse_value_ref(edge);
    return first_value[index.at(ref.node)] + ref.output;
  };
  std::vector<int> consumers(num_values, 0);
  for (const NodeSpec& n : spec_.nodes)
    for (const std::string& in : n.inputs) ++consumers[slot_of(in)];
  const size_t out = slot_of(spec_.output);
  plan->output_index = out;
  auto is_integer_input = [&](size_t i, size_t k) {
    return slot_of(spec_.nodes[i].inputs[k]) == input_slot && spec_.input_dtype != DType::kF32;
  };

  // Fusion as the schemas declare it (OpSchema::fuses_relu, is_relu), when the ReLU is its
  // producer's only consumer (see OpContext).
  std::vector<bool> fuse_relu(num_nodes, false), fused_relu(num_nodes, false);
  for (size_t j = 0; j < num_nodes; ++j) {
    const NodeSpec& n = spec_.nodes[j];
    if (!options_.fuse() || !op_schema(n.op, n.name).is_relu || n.inputs[0] == spec_.input_name) continue;
    size_t v = slot_of(n.inputs[0]), i = producer[v];
    const NodeSpec& p = spec_.nodes[i];
    if (op_schema(p.op, p.name).fuses_relu && p.num_outputs() == 1 && consumers[v] == 1 && v != out)
      fuse_relu[i] = fused_relu[j] = true;
  }

  // Layouts, in topological order: each op sees the layouts its producers chose. Outputs after
  // the first are plain.
  std::vector<OpContext> ctxs(num_nodes);
  std::vector<dnnl::memory::desc> out_md(num_values);
  std::vector<Shape> logical(num_values);
  out_md[input_slot] = dnnl_utils::row_major_desc(plan->input.shape());
  logical[input_slot] = plan->input.shape();
  for (size_t i = 0; i < num_nodes; ++i) {
    const NodeSpec& n = spec_.nodes[i];
    OpContext& ctx = ctxs[i];
    ctx.node = &n;
    ctx.batch = batch;
    ctx.training = training;
    ctx.fuse_relu = fuse_relu[i];
    ctx.fused_into_input = fused_relu[i];
    ctx.step = &step_key_->key;
    ctx.scratchpads = &plan->scratchpads;
    for (const std::string& in : n.inputs) {
      ctx.in_shapes.push_back(logical[slot_of(in)]);
      ctx.in_md.push_back(out_md[slot_of(in)]);
    }
    const size_t v0 = first_value[i];
    ctx.out_shape = logical[v0] = with_batch(batch, n.output_shape);
    for (int k = 1; k < n.num_outputs(); ++k) {
      logical[v0 + k] = with_batch(batch, n.output_shape_at(k));
      out_md[v0 + k] = dnnl_utils::row_major_desc(logical[v0 + k]);
      ctx.extra_out_shapes.push_back(logical[v0 + k]);
    }
    plan->ops.push_back(create_op(n.op, n.name));
    dnnl_utils::guarded(ctx.where(), [&] { plan->ops.back()->choose_layouts(ctx); });
    out_md[v0] = ctx.out_md;
  }

  // A gradient flowing into a value is needed only when something at or before its producer
  // learns (trainable parameters), or for the graph input when input_grad is asked for. So
  // conv1, or the first Linear after Flatten(input), computes no data gradient nobody reads;
  // integer inputs (token ids) never get one.
  std::vector<bool> needs_grad(num_values, false);
  needs_grad[input_slot] = want_input_grad;
  for (size_t i = 0; i < num_nodes; ++i) {
    const NodeSpec& n = spec_.nodes[i];
    bool learns = false;
    for (const ParamSpec& p : n.params) learns = learns || p.trainable;
    for (const std::string& in : n.inputs) learns = learns || needs_grad[slot_of(in)];
    for (int k = 0; k < n.num_outputs(); ++k) needs_grad[first_value[i] + k] = learns;
  }

  // The step's timeline: node i's forward at i, the caller writes the output gradient at n, node
  // i's backward at 2n - i. Activations stay live for the whole training step (backward reads
  // them); in evaluation an activation lives until its last consumer has run.
  const int n_int = static_cast<int>(num_nodes), t_user = n_int;
  auto t_bwd = [&](size_t i) { return 2 * n_int - static_cast<int>(i); };
  std::vector<int> last_read(num_values, -1), first_grad_write(num_values, -1);
  for (size_t j = 0; j < num_nodes; ++j)
    for (const std::string& in : spec_.nodes[j].inputs) {
      size_t src = slot_of(in);
      if (src == input_slot) continue;
      last_read[src] = std::max(last_read[src], static_cast<int>(j));
      // The last consumer runs first in backward.
      first_grad_write[src] = first_grad_write[src] < 0 ? t_bwd(j) : std::min(first_grad_write[src], t_bwd(j));
    }
  BufferPlanner buffers;
  std::vector<int> out_buf(num_values, -1), grad_buf(num_values, -1);
  for (size_t v = 0; v + 1 < num_values; ++v) {
    const size_t i = producer[v];
    if (fused_relu[i]) continue;  // shares its producer's buffer
    int end = last_read[v];
    for (size_t j = 0; j < num_nodes; ++j)  // a fused producer's buffer is also its ReLU's output
      if (fuse_relu[i] && fused_relu[j] && slot_of(spec_.nodes[j].inputs[0]) == v)
        end = std::max(end, first_value[j] == out ? BufferPlanner::kKept : last_read[first_value[j]]);
    if (training || v == out) end = BufferPlanner::kKept;
    out_buf[v] = buffers.add(out_md[v], logical[v], static_cast<int>(i), std::max(end, static_cast<int>(i)));
  }
  // A value nothing consumes (an LSTM's unused final state) has a zero gradient: it gets storage
  // of its own, as the shared pool holds other plans' data between steps.
  std::vector<Tensor> zero_grads(num_values);
  if (training)
    for (size_t v = 0; v + 1 < num_values; ++v) {
      const size_t i = producer[v];
      if (v != out && first_grad_write[v] < 0) {
        zero_grads[v] = dnnl_utils::alloc_for(out_md[v], logical[v]);
        continue;
      }
      int first = v == out ? t_user : first_grad_write[v];
      grad_buf[v] = buffers.add(out_md[v], logical[v], first, t_bwd(i));
    }

  // Per node input: a reorder into the layout the consumer wants, a private contribution to a
  // shared gradient, and the consumer's gradient in its own layout before it is reordered back.
  struct Wiring {
    int converted = -1, converted_grad = -1, contribution = -1;
    bool first = false, wants_grad = false;
  };
  std::vector<std::vector<Wiring>> wiring(num_nodes);
  std::vector<bool> seen(num_values, false);
  for (size_t i = num_nodes; i-- > 0;) {  // backward order decides which contribution is first
    const NodeSpec& n = spec_.nodes[i];
    wiring[i].resize(n.inputs.size());
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      Wiring& w = wiring[i][k];
      const size_t src = slot_of(n.inputs[k]);
      const bool convert = !is_integer_input(i, k) && ctxs[i].in_md[k] != out_md[src];
      const int t = static_cast<int>(i);
      if (convert)
        w.converted = buffers.add(ctxs[i].in_md[k], logical[src], t, training ? BufferPlanner::kKept : t);
      if (!training || !needs_grad[src]) continue;  // undefined: the op skips this data gradient
      w.wants_grad = true;
      if (consumers[src] > 1) {
        w.contribution = buffers.add(out_md[src], logical[src], t_bwd(i), t_bwd(i));
        w.first = !seen[src];
      }
      seen[src] = true;
      if (convert) w.converted_grad = buffers.add(ctxs[i].in_md[k], logical[src], t_bwd(i), t_bwd(i));
    }
  }
  int plain_out_buf = -1, plain_grad_buf = -1;
  const bool reorder_output = !dnnl_utils::is_plain(out_md[out]);
  if (reorder_output) {
    dnnl::memory::desc plain = dnnl_utils::row_major_desc(logical[out]);
    plain_out_buf = buffers.add(plain, logical[out], n_int - 1, BufferPlanner::kKept);
    if (training) plain_grad_buf = buffers.add(plain, logical[out], n_int - 1, t_user);
  }

  buffers.plan();
  if (buffers.outgrows(buffer_pool_)) {
    // The shared pool must grow: the other plans' buffers would point at storage it no longer
    // holds. They are compiled again when next used (only while new plans appear).
    plans_.clear();
    last_ = nullptr;
  }
  buffers.bind(buffer_pool_);
  for (size_t v = 0; v + 1 < num_values; ++v) {
    plan->outputs.push_back(out_buf[v] >= 0 ? buffers.tensor(out_buf[v]) : Tensor());
    if (training) plan->grads.push_back(grad_buf[v] >= 0 ? buffers.tensor(grad_buf[v]) : zero_grads[v]);
  }
  for (size_t j = 0; j < num_nodes; ++j)  // the fused producer writes the ReLU's output
    if (fused_relu[j]) plan->outputs[first_value[j]] = plan->outputs[slot_of(spec_.nodes[j].inputs[0])];

  plan->before_forward.resize(num_nodes);
  plan->after_backward.resize(num_nodes);
  auto output_of = [&](size_t slot) { return slot == input_slot ? plan->input : plan->outputs[slot]; };
  for (size_t i = num_nodes; i-- > 0;) {  // the same order as above: accumulate relies on it
    const NodeSpec& n = spec_.nodes[i];
    OpContext& ctx = ctxs[i];
    ctx.in.resize(n.inputs.size());
    ctx.d_in.resize(n.inputs.size());
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Wiring& w = wiring[i][k];
      const size_t src = slot_of(n.inputs[k]);
      ctx.in[k] = output_of(src);
      if (w.converted >= 0) {
        ctx.in[k] = buffers.tensor(w.converted);
        plan->before_forward[i].push_back(dnnl_utils::make_reorder(
            dnnl_utils::wrap_md(output_of(src), out_md[src]), dnnl_utils::wrap_md(ctx.in[k], ctx.in_md[k])));
      }
      if (!w.wants_grad) continue;
      Tensor target = src == input_slot ? plan->input_grad : plan->grads[src];
      if (w.contribution >= 0) {
        Tensor contribution = buffers.tensor(w.contribution);
        plan->accumulate.push_back({i, contribution, target, w.first});
        target = contribution;
      }
      ctx.d_in[k] = target;
      if (w.converted_grad >= 0) {
        ctx.d_in[k] = buffers.tensor(w.converted_grad);
        plan->after_backward[i].push_back(dnnl_utils::make_reorder(
            dnnl_utils::wrap_md(ctx.d_in[k], ctx.in_md[k]), dnnl_utils::wrap_md(target, out_md[src])));
      }
    }
  }

  if (reorder_output) {
    plan->plain_output = buffers.tensor(plain_out_buf);
    plan->output_to_plain = dnnl_utils::make_reorder(dnnl_utils::wrap_md(plan->outputs[out], out_md[out]),
                                                     dnnl_utils::wrap(plan->plain_output));
    if (training) {
      plan->plain_output_grad = buffers.tensor(plain_grad_buf);
      plan->output_grad_from_plain = dnnl_utils::make_reorder(
          dnnl_utils::wrap(plan->plain_output_grad), dnnl_utils::wrap_md(plan->grads[out], out_md[out]));
    }
  } else {
    plan->plain_output = plan->outputs[out];
    if (training) plan->plain_output_grad = plan->grads[out];
  }

  size_t k = 0;
  for (size_t i = 0; i < num_nodes; ++i) {
    OpContext& ctx = ctxs[i];
    const size_t v0 = first_value[i];
    ctx.out = plan->outputs[v0];
    if (training) ctx.d_out = plan->grads[v0];
    for (int j = 1; j < spec_.nodes[i].num_outputs(); ++j) {
      ctx.extra_out.push_back(plan->outputs[v0 + j]);
      if (training) ctx.extra_d_out.push_back(plan->grads[v0 + j]);
    }
    for (size_t j = 0; j < spec_.nodes[i].params.size(); ++j, ++k) {
      ctx.params.push_back(params_[k].value);
      ctx.grads.push_back(params_[k].grad);
    }
    plan->ops[i]->compile(std::move(ctx));
  }
  plan->scratchpads.bind();
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
    throw_invalid("network input: expected [N," + shape_str(spec_.input_shape).substr(1) + " " +
                  dtype_name(spec_.input_dtype) + ", got " + shape_str(s) + " " + dtype_name(x.dtype()));
  if (s[0] <= 0) throw_invalid("network input: batch size must be > 0, got " + shape_str(s));
  Plan& plan = plan_for(s[0], mode);
  std::memcpy(plan.input.raw(), x.raw(), x.nbytes());
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    for (const auto& r : plan.before_forward[i]) run_reorder(r);
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
