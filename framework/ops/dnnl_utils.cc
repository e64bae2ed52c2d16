#include "strata/framework/ops/internal/dnnl_utils.h"

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
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    case 5:
      return tag::abcde;
  }
  throw_invalid("tensor rank " + std::to_string(rank) + " is not supported by oneDNN ops");
}

dnnl::memory::desc plain_desc(const Shape& shape) {
  return dnnl::memory::desc(dims_of(shape), dnnl::memory::data_type::f32, plain_tag(shape.size()));
}

dnnl::memory::desc row_major_desc(const Shape& shape) {
  if (shape.size() <= 5) return plain_desc(shape);
  return dnnl::memory::desc({shape_numel(shape)}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
}

bool is_plain(const dnnl::memory::desc& md) {
  const dnnl::memory::dims dims = md.dims();
  return md == row_major_desc(Shape(dims.begin(), dims.end()));
}

dnnl::memory wrap_md(const Tensor& tensor, const dnnl::memory::desc& md) {
  STRATA_CHECK(tensor.nbytes() >= md.get_size());
  return dnnl::memory(md, cpu_engine(), const_cast<void*>(tensor.raw()));
}

Tensor alloc_for(const dnnl::memory::desc& md, const Shape& logical) {
  if (md == row_major_desc(logical)) return Tensor(logical);
  return Tensor({static_cast<int64_t>((md.get_size() + 3) / 4)});
}

Reorder make_reorder(const dnnl::memory& from, const dnnl::memory& to) { return make_scaling_reorder(from, to, {}, 0); }

Reorder make_scaling_reorder(const dnnl::memory& from, const dnnl::memory& to, const std::vector<float>& scales, int mask) {
  dnnl::primitive_attr attr = default_attr();
  if (!scales.empty()) attr.set_output_scales(mask, scales);
  dnnl::reorder::primitive_desc pd(from, to, attr);
  Reorder r;
  r.prim = dnnl::reorder(pd);
  size_t bytes = pd.scratchpad_desc().get_size();
  r.scratch = Tensor({static_cast<int64_t>((bytes + 3) / 4 + 1)});
  r.args = {{DNNL_ARG_FROM, from},
            {DNNL_ARG_TO, to},
            {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), cpu_engine(), r.scratch.raw())}};
  return r;
}

dnnl::memory wrap(const Tensor& tensor) {
  return dnnl::memory(plain_desc(tensor.shape()), cpu_engine(), const_cast<void*>(tensor.raw()));
}

namespace {
// Process-wide, because oneDNN's OpenMP workers allocate on their own threads.
std::atomic<int> in_execute{0};
}  // namespace

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
