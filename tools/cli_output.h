// Output helpers shared by the `strata` verbs: a minimal JSON writer (field names are part of the
// CLI's interface, documented in docs/cli.md) and human formatting of times, sizes and refs.
#pragma once

#include <fmt/format.h>
#include <signal.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/versioning/version_log.h"

namespace strata::tools {

struct GlobalOptions {
  std::string log_dir;
  bool json = false;
  // Where a reading verb's JSON answer goes instead of stdout: `strata ui` answers its API with
  // the same verbs (tools/web/).
  std::string* json_out = nullptr;
};

// A verb's JSON answer: one line on stdout, or into g.json_out.
void print_json(const GlobalOptions& g, const std::string& object);

// Opens --log / $STRATA_LOG; a clear error when neither is given.
std::unique_ptr<versioning::VersionLog> open_log(const GlobalOptions& g, versioning::OpenMode mode,
                                                 const versioning::LogOptions& options = {});

// ---- JSON ----
std::string json_str(const std::string& s);
std::string json_num(double v);                                // NaN / Inf become null: JSON has neither
std::string json_list(const std::vector<std::string>& items);  // items are JSON already
std::string json_str_list(const std::vector<std::string>& items);

template <class Map, class Fn>
std::string json_map(const Map& m, Fn&& value) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += fmt::format("{}{}:{}", first ? "" : ",", json_str(k), value(v));
    first = false;
  }
  return out + "}";
}

// ---- people ----
std::string local_time(int64_t ms);       // "2026-11-23 14:05:09"
std::string human_bytes(uint64_t bytes);  // "1.5 MiB"
// +1: higher is better, -1: lower is better, 0: no direction (lr, throughput, time...).
int metric_direction(const std::string& name);
// Validation accuracy and loss whatever the separator ("val_acc", "val/accuracy", "val_loss"):
// the metrics `strata log` and the web view show beside each version.
bool is_key_metric(const std::string& name);

// Blocks SIGTERM and SIGINT in this thread (call it before starting threads, which inherit the
// mask) and ignores SIGPIPE; returns the set to sigwait on. For the verbs that serve until stopped.
sigset_t block_stop_signals();
// "1a2b3c4d (main@3)", or the short id when the record cannot be read (reports on damage).
std::string safe_describe(const versioning::VersionLog& log, const versioning::CommitId& id);

// Branch heads and tags by version, for git-like decorations.
struct Decorations {
  std::map<versioning::CommitId, std::vector<std::string>> branches, tags;
  std::vector<std::string> refs_of(const versioning::CommitId& id) const;  // "main", "tag: best"
};
Decorations decorations(const versioning::VersionLog& log);

}  // namespace strata::tools
