#include "tools/cli_output.h"

#include <cmath>
#include <ctime>

#include "strata/framework/core/error.h"
#include "strata/versioning/internal/json_reader.h"

namespace strata::tools {

std::unique_ptr<versioning::VersionLog> open_log(const GlobalOptions& g, versioning::OpenMode mode,
                                                 const versioning::LogOptions& options) {
  if (g.log_dir.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "no version log given", "", "pass --log DIR or set STRATA_LOG");
  }
  return versioning::VersionLog::open(g.log_dir, mode, options);
}

void print_json(const GlobalOptions& g, const std::string& object) {
  if (g.json_out) {
    *g.json_out = object;
  } else {
    fmt::print("{}\n", object);
  }
}

std::string json_str(const std::string& s) { return versioning::json_quote(s); }

std::string json_num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}

std::string json_str_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& s : items) quoted.push_back(json_str(s));
  return json_list(quoted);
}

std::string local_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

bool is_key_metric(const std::string& name) {
  return name.rfind("val", 0) == 0 && (name.find("acc") != std::string::npos || name.find("loss") != std::string::npos);
}

sigset_t block_stop_signals() {
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-response must not end the process
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

int metric_direction(const std::string& name) {
  for (const char* lower : {"loss", "mse", "mae", "error"})
    if (name.find(lower) != std::string::npos) return -1;
  for (const char* higher : {"acc", "f1", "precision", "recall", "r2"})
    if (name.find(higher) != std::string::npos) return 1;
  return 0;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string safe_describe(const versioning::VersionLog& log, const versioning::CommitId& id) {
  try {
    return log.describe(id);
  } catch (const Error&) {
    return versioning::short_hex(id);
  }
}

std::vector<std::string> Decorations::refs_of(const versioning::CommitId& id) const {
  std::vector<std::string> refs;
  if (auto it = branches.find(id); it != branches.end()) refs = it->second;
  if (auto it = tags.find(id); it != tags.end())
    for (const std::string& t : it->second) refs.push_back("tag: " + t);
  return refs;
}

Decorations decorations(const versioning::VersionLog& log) {
  Decorations d;
  for (const std::string& b : log.branches()) {
    if (auto h = log.head(b)) d.branches[*h].push_back(b);
  }
  for (const auto& [name, id] : log.tags()) d.tags[id].push_back(name);
  return d;
}

}  // namespace strata::tools
