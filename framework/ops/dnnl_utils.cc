#include "strata/framework/ops/dnnl_utils.h"

#include <atomic>
#include <vector>

namespace strata::dnnl_utils {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::memory::dims dims_of(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory::format_tag plain_tag(size_t rank) {
  using tag = dnnl::memory::format_tag;
  switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
  }
  throw_invalid("tensor rank " + std::to_string(rank) + " is not supported by oneDNN ops");
}

dnnl::memory::desc plain_desc(const Shape& shape) {
  return dnnl::memory::desc(dims_of(shape), dnnl::memory::data_type::f32, plain_tag(shape.size()));
}

dnnl::memory wrap(const Tensor& tensor) { return wrap_as(tensor, tensor.shape()); }

dnnl::memory wrap_as(const Tensor& tensor, const Shape& shape) {
  STRATA_CHECK(shape_numel(shape) == tensor.numel());
  return dnnl::memory(plain_desc(shape), cpu_engine(), const_cast<void*>(tensor.raw()));
}

namespace {
// Process-wide, because oneDNN's OpenMP workers allocate on their own threads.
std::atomic<int> in_execute{0};
}

bool inside_execute() { return in_execute.load(std::memory_order_relaxed) > 0; }

void execute(const dnnl::primitive& p, const Args& args) {
  thread_local std::vector<dnnl_exec_arg_t> c_args(32);
  if (c_args.size() < args.size()) c_args.resize(args.size());
  size_t k = 0;
  for (const auto& [id, mem] : args) c_args[k++] = {id, mem.get()};
  ++in_execute;
  dnnl_status_t status = dnnl_primitive_execute(p.get(), cpu_stream().get(), static_cast<int>(k), c_args.data());
  --in_execute;
  dnnl::error::wrap_c_api(status, "could not execute a primitive");
}

dnnl::primitive_attr default_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}



dnnl::primitive_attr attr_with_relu(bool relu) {
  dnnl::primitive_attr attr = default_attr();
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

}  // namespace strata::dnnl_utils
