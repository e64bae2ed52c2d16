#include "strata/versioning/serving/internal/prometheus.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace strata::versioning::serving {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void write_sample(std::string& out, const std::string& name, const std::string& help, const char* type, double v) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + number(v) + "\n";
}

}  // namespace

std::string series_name(const std::string& name, const Labels& labels) {
  if (labels.empty()) return name;
  std::string out = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? "," : "") + labels[i].first + "=\"" + escape(labels[i].second) + "\"";
  return out + "}";
}

MetricFamily::MetricFamily(std::string name, std::string help, Kind kind, std::vector<double> buckets)
    : name_(std::move(name)), help_(std::move(help)), kind_(kind), buckets_(std::move(buckets)) {}

void MetricFamily::add(const Labels& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  series_[labels].value += v;
}

void MetricFamily::set(const Labels& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  series_[labels].value = v;
}

void MetricFamily::observe(const Labels& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[labels];
  if (s.counts.empty()) s.counts.assign(buckets_.size(), 0);
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (v <= buckets_[i]) {
      ++s.counts[i];
      break;
    }
  s.value += v;
  ++s.count;
}

void MetricFamily::remove(const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  series_.erase(labels);
}

void MetricFamily::write(std::string& out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " " + kTypes[static_cast<int>(kind_)] + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, s] : series_) {
    if (kind_ != Kind::kHistogram) {
      out += series_name(name_, labels) + " " + number(s.value) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= buckets_.size(); ++i) {
      Labels with_le = labels;
      cumulative += i < buckets_.size() ? (s.counts.empty() ? 0 : s.counts[i]) : 0;
      with_le.emplace_back("le", i < buckets_.size() ? number(buckets_[i]) : "+Inf");
      out += series_name(name_ + "_bucket", with_le) + " " + std::to_string(i < buckets_.size() ? cumulative : s.count) + "\n";
    }
    out += series_name(name_ + "_sum", labels) + " " + number(s.value) + "\n";
    out += series_name(name_ + "_count", labels) + " " + std::to_string(s.count) + "\n";
  }
}

std::vector<double> latency_buckets() {
  return {5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void write_process_metrics(std::string& out) {
  // /proc/self/stat: utime and stime (fields 14, 15) in clock ticks, starttime (22) in ticks
  // since boot, vsize (23) in bytes, rss (24) in pages.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream fields(line.substr(paren + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)), std::istream_iterator<std::string>());
  if (f.size() < 22) return;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Field k (1-based) is f[k - 3]: the list starts at field 3 (state).
  const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  double boot = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string l; std::getline(proc_stat, l);)
    if (l.rfind("btime ", 0) == 0) boot = std::stod(l.substr(6));
  write_sample(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", cpu);
  write_sample(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", std::stod(f[21]) * page);
  write_sample(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", std::stod(f[20]));
  write_sample(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
               boot + std::stod(f[19]) / ticks);
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  write_sample(out, "process_open_fds", "Number of open file descriptors.", "gauge", fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
    write_sample(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
                 static_cast<double>(limit.rlim_cur));
}

}  // namespace strata::versioning::serving
