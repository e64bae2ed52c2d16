// In-process reference for bench/serve_bench.sh: what `strata serve` is measured against, and
// a precise sequential HTTP latency client (hey prints latencies to 0.1 ms only).
//
//   serve_bench LOG VERSION [--threads N] [--seconds S] [--runs R]
//   serve_bench --http PORT PATH BODY_FILE RUNS
//
// Prints one JSON line: the single-image latency of one Predictor (p50/p99 over R runs, after
// warm-up) and the single-image throughput of N threads, each with its own Predictor and
// cores / N OpenMP threads, exactly as the server's workers compute. Inputs are Fashion-MNIST
// test images as [0, 1] pixels.
#include <httplib.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/datasets/idx.h"
#include "strata/versioning/run/predictor.h"

using namespace strata;
using Clock = std::chrono::steady_clock;

// One keep-alive connection to 127.0.0.1:port, RUNS POSTs of the body after 200 warm-up ones.
int http_latency(int port, const std::string& path, const std::string& body_file, int runs) {
  std::ifstream in(body_file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);  // headers and body are separate writes
  std::vector<double> ms;
  for (int i = 0; i < runs + 200; ++i) {
    const auto t = Clock::now();
    auto r = client.Post(path, body, "application/json");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "request failed: %s\n", r ? r->body.c_str() : "no connection");
      return 1;
    }
    if (i >= 200) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("{\"latency_ms_p50\":%.4f,\"latency_ms_p99\":%.4f}\n", ms[ms.size() / 2], ms[ms.size() * 99 / 100]);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--http")
    return http_latency(std::atoi(argv[2]), argv[3], argv[4], std::atoi(argv[5]));
  if (argc < 3) {
    std::fprintf(stderr, "usage: serve_bench LOG VERSION [--threads N] [--seconds S] [--runs R]\n");
    return 2;
  }
  const std::string log = argv[1], version = argv[2];
  int threads = std::max(omp_get_num_procs(), 1), runs = 3000;
  double seconds = 10;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (flag == "--runs")
      runs = std::atoi(argv[i + 1]);
    else
      return 2;
  }
  const Tensor images = load_fashion_mnist(kFashionMnistDir, false).x;
  auto one = [&](int64_t i) {
    Tensor x({1, 1, 28, 28});
    std::copy_n(images.f32() + (i % images.dim(0)) * 784, 784, x.f32());
    return x;
  };
  const int omp_threads = std::max(1, omp_get_num_procs() / threads);

  // Latency: one Predictor, the server's per-worker thread count.
  double p50 = 0, p99 = 0;
  std::thread([&] {
    omp_set_num_threads(omp_threads);
    versioning::Predictor p(log, version);
    const Tensor x = one(0);
    for (int i = 0; i < 200; ++i) p.predict(x);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t = Clock::now();
      p.predict(x);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    }
    std::sort(ms.begin(), ms.end());
    p50 = ms[ms.size() / 2];
    p99 = ms[ms.size() * 99 / 100];
  }).join();

  // Throughput: N threads, one Predictor each, single images for `seconds`.
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      omp_set_num_threads(omp_threads);
      versioning::Predictor p(log, version);
      const Tensor x = one(w);
      for (int i = 0; i < 100; ++i) p.predict(x);
      while (!stop) {
        p.predict(x);
        ++done;
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // warm-up
  const int64_t before = done;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const int64_t counted = done - before;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : workers) t.join();
  std::printf("{\"latency_ms_p50\":%.4f,\"latency_ms_p99\":%.4f,\"threads\":%d,\"throughput_per_s\":%.1f}\n", p50, p99, threads,
              static_cast<double>(counted) / elapsed);
  return 0;
}
