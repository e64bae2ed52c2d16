#include "strata/framework/train/runtime.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cmath>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "strata/framework/core/error.h"
#include "strata/framework/core/version.h"

namespace strata {

std::string onednn_version() {
  const dnnl_version_t* v = dnnl::version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

int max_threads() {
  const unsigned hardware = std::thread::hardware_concurrency();
  return std::max(64, 4 * static_cast<int>(hardware));
}

void set_num_threads(int n) {
  if (n < 1) throw_invalid("thread count must be >= 1, got " + std::to_string(n));
  // Thousands of OpenMP threads exhaust stacks (100000 crashed); far more threads than cores
  // only slow training down.
  if (n > max_threads())
    throw_invalid("thread count " + std::to_string(n) + " is above this machine's limit of " +
                      std::to_string(max_threads()) + " (" + std::to_string(std::thread::hardware_concurrency()) +
                      " hardware threads)",
                  "", "use at most the number of cores");
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

std::map<std::string, std::string> runtime_environment() {
  return {{"strata", version()}, {"onednn", onednn_version()}};
}

LatencyStats measure_latency(const std::function<void()>& call, int runs) {
  LatencyStats s;
  if (runs <= 0) return s;
  call();  // first call: plan compilation, page faults
  std::vector<double> ms(static_cast<size_t>(runs));
  for (double& m : ms) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    m = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) { return ms[static_cast<size_t>(std::max(0.0, std::ceil(q * runs) - 1))]; };
  s.p50_ms = rank(0.5);
  s.p99_ms = rank(0.99);
  s.runs = runs;
  return s;
}

}  // namespace strata
