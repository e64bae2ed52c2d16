#include "strata/framework/train/runtime.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"

namespace strata {

std::string onednn_version() {
  const dnnl_version_t* v = dnnl::version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

void set_num_threads(int n) {
  if (n < 1) throw_invalid("thread count must be >= 1, got " + std::to_string(n));
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

std::map<std::string, std::string> runtime_environment() {
  return {{"strata", version()}, {"onednn", onednn_version()}};
}

}  // namespace strata
