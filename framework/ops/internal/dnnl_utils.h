// The one place oneDNN meets Strata (flashlight DnnlUtils style). Internal to framework/: public
// headers never include this, so users and versioning/ never see oneDNN types.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/core/tensor.h"

namespace strata::dnnl_utils {

using Args = std::unordered_map<int, dnnl::memory>;

dnnl::engine& cpu_engine();
// One stream per thread that calls into a Network; primitives run in order on it.
dnnl::stream& cpu_stream();

dnnl::memory::dims dims_of(const Shape& shape);
// Plain row-major format for a tensor of this rank: a, ab (nc), abc, abcd (nchw).
dnnl::memory::format_tag plain_tag(size_t rank);
dnnl::memory::desc plain_desc(const Shape& shape);
// The layout a plain-only op sees: plain_desc, or one flat axis above oneDNN's rank limit.
dnnl::memory::desc row_major_desc(const Shape& shape);
bool is_plain(const dnnl::memory::desc& md);
// A memory object that aliases the tensor's storage (no copy). The tensor must outlive it.
dnnl::memory wrap(const Tensor& tensor);
// The same for a tensor holding data in layout md (its storage must be at least md's size).
dnnl::memory wrap_md(const Tensor& tensor, const dnnl::memory::desc& md);
// Storage for layout md: a tensor of the logical shape when md is plain, else a flat one of
// md's padded size (zero-filled, as blocked layouts need their padding zero).
Tensor alloc_for(const dnnl::memory::desc& md, const Shape& logical);

// Runs f, turning dnnl::error into strata::Error naming the node.
template <typename F>
auto guarded(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw Error(ErrorCode::kInternal, std::string("oneDNN: ") + e.what(), where,
                "this shape/attribute combination is not supported by the installed oneDNN");
  }
}

// primitive::execute() through the C API with a reused argument array: the C++ wrapper builds
// a fresh std::vector per call, which would break "no allocation inside a training step".
void execute(const dnnl::primitive& p, const Args& args);
// True while a thread is inside oneDNN's execute. oneDNN 2.6 builds a small argument map per
// execute internally (a few heap allocations, freed before it returns) that no public API
// avoids; the allocation test uses this to attribute allocations to oneDNN rather than Strata.
bool inside_execute();

// Primitive attributes used everywhere: user-managed scratchpad, so no allocation happens
// inside a step (the Network hands every primitive a preallocated scratchpad buffer).
dnnl::primitive_attr default_attr();
// default_attr() plus a ReLU post-op when relu is true.
dnnl::primitive_attr attr_with_relu(bool relu);

// A reorder from one layout to another, created once; run it with execute(prim, args).
struct Reorder {
  dnnl::reorder prim;
  Args args;
  Tensor scratch;
};
Reorder make_reorder(const dnnl::memory& from, const dnnl::memory& to);
// The same, multiplying by `scales` on the way (one for all, or one per index of the dimensions
// in `mask`, as oneDNN's output scales): into u8/s8 it rounds half to even and saturates, which
// quantizes (framework/graph/quantization.h).
Reorder make_scaling_reorder(const dnnl::memory& from, const dnnl::memory& to, const std::vector<float>& scales, int mask);

}  // namespace strata::dnnl_utils
