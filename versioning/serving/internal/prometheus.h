// A minimal Prometheus registry: labelled counters, gauges and histograms, written in the text
// exposition format 0.0.4 (docs/serving.md "Metrics"). Thread-safe; one mutex per family, held
// for a map lookup and an add, so contention stays far below a request's cost.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace strata::versioning::serving {

using Labels = std::vector<std::pair<std::string, std::string>>;

// `name{k="v",...}` with values escaped as the format asks (backslash, quote, newline).
std::string series_name(const std::string& name, const Labels& labels);

class MetricFamily {
 public:
  enum class Kind { kCounter, kGauge, kHistogram };
  MetricFamily(std::string name, std::string help, Kind kind, std::vector<double> buckets = {});

  void add(const Labels& labels, double v);      // counter / gauge
  void set(const Labels& labels, double v);      // gauge
  void observe(const Labels& labels, double v);  // histogram
  void remove(const Labels& labels);             // e.g. a model_info series of a replaced version
  void write(std::string& out) const;            // HELP, TYPE and every series

 private:
  struct Series {
    double value = 0;              // counter / gauge; histogram: sum
    std::vector<uint64_t> counts;  // histogram: per bucket (not cumulative)
    uint64_t count = 0;            // histogram: observations
  };
  std::string name_, help_;
  Kind kind_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<Labels, Series> series_;
};

// Latency buckets in seconds, 50 us to 10 s.
std::vector<double> latency_buckets();

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds (from /proc/self), as the
// Prometheus client libraries name them.
void write_process_metrics(std::string& out);

}  // namespace strata::versioning::serving
