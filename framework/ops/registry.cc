#include <algorithm>
#include <map>

#include "strata/framework/ops/op.h"

namespace strata {
namespace {

std::map<std::string, OpDef> build_table() {
  std::map<std::string, OpDef> table;
  for (OpDef def : {linear_def(), conv2d_def(), max_pool2d_def(), avg_pool2d_def(),
                    global_avg_pool_def(), batch_norm_def(), relu_def(), leaky_relu_def(),
                    sigmoid_def(), tanh_def(), gelu_def(), dropout_def(), flatten_def(), add_def(),
                    concat_def(), softmax_def()})
    table.emplace(def.name, def);
  return table;
}

const std::map<std::string, OpDef>& table() {
  static const std::map<std::string, OpDef> t = build_table();
  return t;
}

}  // namespace

const OpDef& op_def(const std::string& op, const std::string& where) {
  auto it = table().find(op);
  if (it == table().end()) {
    std::string known;
    for (const auto& [name, def] : table()) known += (known.empty() ? "" : ", ") + name;
    throw_invalid("unknown op type '" + op + "'", where, "known ops: " + known);
  }
  return it->second;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& [name, def] : table()) names.push_back(name);
  return names;
}

void shape_error(const NodeSpec& node, const std::string& expected, const Shape& got) {
  throw_invalid(node.op + "(" + node.name + "): expected input " + expected + ", got " +
                shape_str(got));
}

ParamSpec make_param(const NodeSpec& node, const std::string& leaf, Shape shape, std::string init,
                     bool trainable, int64_t fan_in, int64_t fan_out) {
  ParamSpec p;
  p.name = node.name + "/" + leaf;
  p.shape = std::move(shape);
  p.init = std::move(init);
  p.trainable = trainable;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  return p;
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
