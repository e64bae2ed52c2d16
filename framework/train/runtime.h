// The compute runtime under a Trainer: oneDNN's version and the OpenMP thread count, so that a
// program needs neither oneDNN nor OpenMP headers to report or set them.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace strata {

// "2.6.3" (major.minor.patch of the oneDNN library loaded at run time).
std::string onednn_version();

// Threads of the OpenMP team that runs kernels, data loading and the optimizer: 1 to
// max_threads() (kInvalidArgument otherwise).
void set_num_threads(int n);
int max_threads();  // max(64, 4 x hardware threads)
int num_threads();

// What a version records about how it was made: "strata" and "onednn" versions, "isa" (the
// instruction set oneDNN dispatches to), "cpu" (model name), "compiler", "threads" (OpenMP),
// "host", "command" (the command line), "executable" and "executable_xxh3" (its content hash).
std::map<std::string, std::string> runtime_environment();

// Latency of `call` (one inference): one untimed warm-up call, then `runs` timed calls.
struct LatencyStats {
  double p50_ms = 0, p99_ms = 0;  // median and 99th percentile (nearest rank)
  int runs = 0;
};
LatencyStats measure_latency(const std::function<void()>& call, int runs);

}  // namespace strata
