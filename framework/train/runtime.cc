#include "strata/framework/train/runtime.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <oneapi/dnnl/dnnl.hpp>
#include <thread>
#include <vector>

#include "strata/framework/core/error.h"
#include "strata/framework/core/tensor.h"
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
    throw_invalid("thread count " + std::to_string(n) + " is above this machine's limit of " + std::to_string(max_threads()) +
                      " (" + std::to_string(std::thread::hardware_concurrency()) + " hardware threads)",
                  "", "use at most the number of cores");
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

namespace {

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

// The command line, arguments separated by spaces (quoted when they hold spaces).
std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), out, arg;
  for (char c : all) {
    if (c != '\0') {
      arg += c;
      continue;
    }
    out += (out.empty() ? "" : " ") + (arg.find(' ') == std::string::npos ? arg : "'" + arg + "'");
    arg.clear();
  }
  return out;
}

// What does not change while the process runs, computed once: the executable's path and hash,
// the command line, the CPU, the compiler.
const std::map<std::string, std::string>& process_environment() {
  static const std::map<std::string, std::string> env = [] {
    std::map<std::string, std::string> e;
    e["strata"] = version();
    e["onednn"] = onednn_version();
    e["isa"] = onednn_isa();
    e["cpu"] = cpu_model();
#if defined(__clang__)
    e["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
    e["compiler"] = "GCC " __VERSION__;
#endif
    e["command"] = command_line();
    std::error_code ec;
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    e["executable"] = ec ? "unknown" : exe;
    if (!ec)
      if (std::string hash = file_fingerprint(exe); !hash.empty()) e["executable_xxh3"] = hash;
    char host[256] = {};
    e["host"] = ::gethostname(host, sizeof host - 1) == 0 ? host : "unknown";
    return e;
  }();
  return env;
}

}  // namespace

std::map<std::string, std::string> runtime_environment() {
  std::map<std::string, std::string> e = process_environment();
  e["threads"] = std::to_string(num_threads());
  return e;
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
