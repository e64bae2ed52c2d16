// strata: the command line of the version log (DESIGN "The version log").
//
// Verbs: log, show, branch, tag, verify, du. Every verb takes --log DIR (or $STRATA_LOG) and
// --json for machine output with stable field names. Reading verbs open the log read-only, so
// they work while a training process writes; branch/tag changes take the writer lock.
// Exit codes: 0 success, 1 bad input or a failed check (message "error: ..." on stderr),
// 2 usage errors reported by CLI11.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "framework/core/error.h"
#include "tools/diff.h"
#include "versioning/tensorboard_export.h"
#include "versioning/version_log.h"

namespace strata::tools {
namespace {

using versioning::CommitId;
using versioning::CommitRecord;
using versioning::CommitStats;
using versioning::OpenMode;
using versioning::TensorEntry;
using versioning::VersionLog;
using versioning::CommitResult;
using versioning::GcReport;
using versioning::MergeRequest;
using versioning::to_hex;

struct GlobalOptions {
  std::string log_dir;
  bool json = false;
};

// ---- small JSON writer: the CLI's machine output, field names are part of its interface ----

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// JSON has no NaN / Inf: those become null rather than invalid output.
std::string json_num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

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

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}

// ---- formatting helpers ----

std::string local_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
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

std::string shape_str(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return out + "]";
}

// Metrics worth a place on a one-line listing: validation accuracy and loss, whatever the
// separator ("val_acc", "val/accuracy", "val_loss"...).
std::vector<std::pair<std::string, double>> key_metrics(const CommitRecord& r) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, value] : r.metrics) {
    if (name.rfind("val", 0) == 0 &&
        (name.find("acc") != std::string::npos || name.find("loss") != std::string::npos)) {
      out.emplace_back(name, value);
    }
  }
  return out;
}

std::string safe_describe(const VersionLog& log, const CommitId& id) {
  try {
    return log.describe(id);
  } catch (const Error&) {
    return versioning::short_hex(id);  // a damaged record still needs a name in reports
  }
}

std::unique_ptr<VersionLog> open_log(const GlobalOptions& g, OpenMode mode) {
  if (g.log_dir.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "no version log given", "",
                "pass --log DIR or set STRATA_LOG");
  }
  return VersionLog::open(g.log_dir, mode);
}

// Branch heads and tags by version, for git-like decorations.
struct Decorations {
  std::map<CommitId, std::vector<std::string>> branches, tags;
};

Decorations decorations(const VersionLog& log) {
  Decorations d;
  for (const std::string& b : log.branches()) {
    if (auto h = log.head(b)) d.branches[*h].push_back(b);
  }
  for (const auto& [name, id] : log.tags()) d.tags[id].push_back(name);
  return d;
}

// ---- verbs ----

int cmd_log(const GlobalOptions& g, const std::string& ref, bool all) {
  auto log = open_log(g, OpenMode::kReadOnly);
  std::vector<CommitId> ids;
  if (all) {
    ids = log->all_versions();
  } else if (!ref.empty()) {
    const std::vector<std::string> branches = log->branches();
    const bool is_branch = std::find(branches.begin(), branches.end(), ref) != branches.end();
    ids = is_branch ? log->history(ref) : log->history_from(log->resolve(ref));
  } else {
    const std::vector<std::string> branches = log->branches();
    if (std::find(branches.begin(), branches.end(), "main") != branches.end()) {
      ids = log->history("main");
    } else if (branches.size() == 1) {
      ids = log->history(branches[0]);
    } else if (!branches.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "several branches and none is named main",
                  g.log_dir, "name a branch (strata log BRANCH) or pass --all");
    }
  }
  const Decorations deco = decorations(*log);
  std::vector<std::string> json_items;
  for (const CommitId& id : ids) {
    const CommitRecord r = log->read_record(id);
    auto bit = deco.branches.find(id);
    auto tit = deco.tags.find(id);
    const std::vector<std::string> heads = bit == deco.branches.end() ? std::vector<std::string>{} : bit->second;
    const std::vector<std::string> tags = tit == deco.tags.end() ? std::vector<std::string>{} : tit->second;
    if (g.json) {
      std::vector<std::string> jp, jh, jt;
      for (const CommitId& p : r.parents) jp.push_back(json_str(versioning::to_hex(p)));
      for (const auto& h : heads) jh.push_back(json_str(h));
      for (const auto& t : tags) jt.push_back(json_str(t));
      json_items.push_back(fmt::format(
          "{{\"id\":{},\"short_id\":{},\"parents\":{},\"branch\":{},\"epoch\":{},\"step\":{},"
          "\"time_ms\":{},\"author\":{},\"message\":{},\"metrics\":{},\"heads\":{},\"tags\":{}}}",
          json_str(versioning::to_hex(id)), json_str(versioning::short_hex(id)), json_list(jp),
          json_str(r.branch), r.epoch, r.global_step, r.wall_time_ms, json_str(r.author),
          json_str(r.message), json_map(r.metrics, json_num), json_list(jh), json_list(jt)));
      continue;
    }
    std::string line = fmt::format("{} {}@{}  {}", versioning::short_hex(id), r.branch, r.epoch,
                                   local_time(r.wall_time_ms));
    std::vector<std::string> refs;
    for (const auto& h : heads) refs.push_back(h);
    for (const auto& t : tags) refs.push_back("tag: " + t);
    if (!refs.empty()) line += fmt::format(" ({})", fmt::join(refs, ", "));
    line += "  " + r.message;
    for (const auto& [name, value] : key_metrics(r)) line += fmt::format("  {}={:.4g}", name, value);
    fmt::print("{}\n", line);
  }
  if (g.json) fmt::print("{{\"versions\":{}}}\n", json_list(json_items));
  return 0;
}

int cmd_show(const GlobalOptions& g, const std::string& name, bool tensors) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId id = log->resolve(name);
  const CommitRecord r = log->read_record(id);
  const std::optional<CommitStats> stats = log->read_stats(id);
  auto stored = [&](const std::string& t) -> uint64_t {
    if (!stats) return 0;
    auto it = stats->stored_bytes.find(t);
    return it == stats->stored_bytes.end() ? 0 : it->second;
  };
  if (g.json) {
    std::vector<std::string> jp, jt;
    for (const CommitId& p : r.parents) jp.push_back(json_str(versioning::to_hex(p)));
    auto add_tensors = [&](const std::vector<TensorEntry>& entries, const char* kind) {
      for (const TensorEntry& e : entries) {
        std::vector<std::string> dims;
        for (int64_t d : e.shape) dims.push_back(std::to_string(d));
        jt.push_back(fmt::format(
            "{{\"name\":{},\"kind\":\"{}\",\"dtype\":{},\"shape\":{},\"chunks\":{},\"raw_bytes\":{},"
            "\"stored_bytes\":{}}}",
            json_str(e.name), kind, json_str(dtype_name(e.dtype)), json_list(dims), e.chunks.size(),
            e.raw_bytes, stored(e.name)));
      }
    };
    if (tensors) {
      add_tensors(r.params, "param");
      add_tensors(r.optim, "optim");
    }
    fmt::print(
        "{{\"id\":{},\"short_id\":{},\"name\":{},\"parents\":{},\"branch\":{},\"epoch\":{},"
        "\"step\":{},\"time_ms\":{},\"author\":{},\"message\":{},\"graph_id\":{},\"hparams\":{},"
        "\"metrics\":{},\"counters\":{},\"optim_present\":{},\"raw_bytes\":{},"
        "\"new_stored_bytes\":{}{}}}\n",
        json_str(versioning::to_hex(id)), json_str(versioning::short_hex(id)),
        json_str(log->describe(id)), json_list(jp), json_str(r.branch), r.epoch, r.global_step,
        r.wall_time_ms, json_str(r.author), json_str(r.message), json_str(r.graph_id),
        json_map(r.hparams, json_str), json_map(r.metrics, json_num),
        json_map(r.counters, [](int64_t v) { return std::to_string(v); }),
        r.optim_present ? "true" : "false", stats ? stats->raw_bytes : 0,
        stats ? stats->new_stored_bytes : 0,
        tensors ? ",\"tensors\":" + json_list(jt) : std::string());
    return 0;
  }
  fmt::print("version  {}\n", versioning::to_hex(id));
  fmt::print("name     {}\n", log->describe(id));
  for (const CommitId& p : r.parents) fmt::print("parent   {}\n", safe_describe(*log, p));
  fmt::print("branch   {}\nepoch    {}\nstep     {}\n", r.branch, r.epoch, r.global_step);
  fmt::print("author   {}\ntime     {}\n", r.author, local_time(r.wall_time_ms));
  fmt::print("optimizer state: {}\n", r.optim_present ? "kept" : (r.had_optim() ? "dropped" : "none"));
  fmt::print("\n    {}\n", r.message);
  if (!r.hparams.empty()) {
    fmt::print("\nhyper-parameters:\n");
    for (const auto& [k, v] : r.hparams) fmt::print("  {} = {}\n", k, v);
  }
  if (!r.metrics.empty()) {
    fmt::print("\nmetrics:\n");
    for (const auto& [k, v] : r.metrics) fmt::print("  {} = {:.6g}\n", k, v);
  }
  if (!r.counters.empty()) {
    fmt::print("\ncounters:\n");
    for (const auto& [k, v] : r.counters) fmt::print("  {} = {}\n", k, v);
  }
  if (stats) {
    fmt::print("\nstorage: {} raw, {} newly stored ({} new chunks, {} reused, {} delta)\n",
               human_bytes(stats->raw_bytes), human_bytes(stats->new_stored_bytes), stats->new_chunks,
               stats->reused_chunks, stats->delta_chunks);
  }
  if (tensors) {
    fmt::print("\ntensors:\n");
    auto print_tensors = [&](const std::vector<TensorEntry>& entries) {
      for (const TensorEntry& e : entries) {
        fmt::print("  {:<32} {:<4} {:<16} {:>10} raw {:>10} stored  {} chunk(s)\n", e.name,
                   dtype_name(e.dtype), shape_str(e.shape), e.raw_bytes, stored(e.name), e.chunks.size());
      }
    };
    print_tensors(r.params);
    print_tensors(r.optim);
  }
  return 0;
}

// `branch` / `tag` share their shape: list, create, force-move, delete.
int cmd_refs(const GlobalOptions& g, bool is_tag, const std::string& name, const std::string& version,
             bool del, bool force) {
  if (name.empty()) {
    if (del || force || !version.empty()) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("{} name missing", is_tag ? "tag" : "branch"));
    }
    auto log = open_log(g, OpenMode::kReadOnly);
    std::vector<std::pair<std::string, CommitId>> refs;
    if (is_tag) {
      for (const auto& [n, id] : log->tags()) refs.emplace_back(n, id);
    } else {
      for (const std::string& b : log->branches()) {
        if (auto h = log->head(b)) refs.emplace_back(b, *h);
      }
    }
    std::vector<std::string> items;
    for (const auto& [n, id] : refs) {
      if (g.json) {
        items.push_back(fmt::format("{{\"name\":{},\"id\":{},\"version\":{}}}", json_str(n),
                                    json_str(versioning::to_hex(id)), json_str(safe_describe(*log, id))));
      } else {
        fmt::print("{:<24} {}\n", n, safe_describe(*log, id));
      }
    }
    if (g.json) fmt::print("{{\"{}\":{}}}\n", is_tag ? "tags" : "branches", json_list(items));
    return 0;
  }
  auto log = open_log(g, OpenMode::kReadWrite);
  const char* kind = is_tag ? "tag" : "branch";
  if (del) {
    if (!version.empty()) throw Error(ErrorCode::kInvalidArgument, fmt::format("{} -d takes only a name", kind));
    is_tag ? log->delete_tag(name) : log->delete_branch(name);
    if (g.json) {
      fmt::print("{{\"deleted\":{},\"kind\":\"{}\"}}\n", json_str(name), kind);
    } else {
      fmt::print("deleted {} {}\n", kind, name);
    }
    return 0;
  }
  if (version.empty()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} {}: no version given", kind, name), "",
                fmt::format("strata {} NAME VERSION", kind));
  }
  const CommitId id = log->resolve(version);
  is_tag ? log->set_tag(name, id, force) : log->set_branch(name, id, force);
  if (g.json) {
    fmt::print("{{\"name\":{},\"kind\":\"{}\",\"id\":{},\"version\":{}}}\n", json_str(name), kind,
               json_str(versioning::to_hex(id)), json_str(log->describe(id)));
  } else {
    fmt::print("{} {} -> {}\n", kind, name, log->describe(id));
  }
  return 0;
}

int cmd_verify(const GlobalOptions& g, const std::string& name, bool all) {
  auto log = open_log(g, OpenMode::kReadOnly);
  if (all && !name.empty()) throw Error(ErrorCode::kInvalidArgument, "verify takes a version or --all, not both");
  std::optional<CommitId> target;
  if (!name.empty()) target = log->resolve(name);
  const versioning::VerifyReport report = log->verify(target);
  if (g.json) {
    std::vector<std::string> items;
    for (const auto& issue : report.issues) {
      items.push_back(fmt::format("{{\"id\":{},\"version\":{},\"tensor\":{},\"problem\":{}}}",
                                  json_str(versioning::to_hex(issue.version)),
                                  json_str(safe_describe(*log, issue.version)), json_str(issue.tensor),
                                  json_str(issue.problem)));
    }
    fmt::print("{{\"ok\":{},\"versions_checked\":{},\"chunks_checked\":{},\"issues\":{}}}\n",
               report.ok() ? "true" : "false", report.versions_checked, report.chunks_checked,
               json_list(items));
  } else {
    for (const auto& issue : report.issues) {
      fmt::print("BAD {} {}: {}\n", safe_describe(*log, issue.version),
                 issue.tensor.empty() ? "(record)" : issue.tensor, issue.problem);
    }
    fmt::print("checked {} version(s), {} chunk(s): {}\n", report.versions_checked, report.chunks_checked,
               report.ok() ? "ok" : fmt::format("{} problem(s)", report.issues.size()));
  }
  if (!report.ok()) {
    std::cerr << "error: verification found " << report.issues.size() << " problem(s)\n";
    return 1;
  }
  return 0;
}

uint64_t disk_bytes(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(p, ec)) return std::filesystem::file_size(p, ec);
  uint64_t total = 0;
  if (!std::filesystem::is_directory(p, ec)) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

int cmd_du(const GlobalOptions& g) {
  auto log = open_log(g, OpenMode::kReadOnly);
  // Raw: what storing every reachable version in full would take; stored: chunk bytes the
  // versions added (after dedup, delta coding and compression).
  uint64_t raw = 0, stored = 0, new_chunks = 0, reused = 0, delta = 0;
  size_t versions = 0, without_stats = 0;
  for (const CommitId& id : log->all_versions()) {
    ++versions;
    const std::optional<CommitStats> s = log->read_stats(id);
    if (!s) {
      ++without_stats;
      continue;
    }
    raw += s->raw_bytes;
    stored += s->new_stored_bytes;
    new_chunks += s->new_chunks;
    reused += s->reused_chunks;
    delta += s->delta_chunks;
  }
  const uint64_t disk = disk_bytes(std::filesystem::path(g.log_dir) / "versions.lmdb");
  const double ratio = stored > 0 ? static_cast<double>(raw) / static_cast<double>(stored) : 0.0;
  if (g.json) {
    fmt::print(
        "{{\"versions\":{},\"raw_bytes\":{},\"stored_bytes\":{},\"ratio\":{},\"disk_bytes\":{},"
        "\"new_chunks\":{},\"reused_chunks\":{},\"delta_chunks\":{},\"versions_without_stats\":{}}}\n",
        versions, raw, stored, json_num(ratio), disk, new_chunks, reused, delta, without_stats);
    return 0;
  }
  fmt::print("versions      {}\n", versions);
  fmt::print("raw           {} ({} bytes)\n", human_bytes(raw), raw);
  fmt::print("stored        {} ({} bytes)\n", human_bytes(stored), stored);
  fmt::print("ratio         {:.2f}x\n", ratio);
  fmt::print("on disk       {} (LMDB file, includes free pages)\n", human_bytes(disk));
  fmt::print("chunks        {} new, {} reused, {} delta-coded\n", new_chunks, reused, delta);
  if (without_stats > 0) fmt::print("({} version(s) without storage stats)\n", without_stats);
  return 0;
}

int cmd_diff(const GlobalOptions& g, const std::string& a_name, const std::string& b_name, double eps, size_t top) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId a = log->resolve(a_name), b = log->resolve(b_name);
  const CommitRecord ra = log->read_record(a), rb = log->read_record(b);
  std::vector<TensorDiff> tensors = diff_tensors(log->read_params(a), log->read_params(b), eps);
  GraphDiff graph = ra.graph_id == rb.graph_id ? GraphDiff{} : diff_graphs(log->read_graph(ra.graph_id), log->read_graph(rb.graph_id));
  std::map<std::string, std::pair<double, double>> metrics;  // key -> (a, b); NaN where absent
  for (const auto& [k, v] : ra.metrics) metrics[k] = {v, NAN};
  for (const auto& [k, v] : rb.metrics) metrics.try_emplace(k, NAN, NAN).first->second.second = v;
  std::map<std::string, std::pair<std::string, std::string>> hparams;
  for (const auto& [k, v] : ra.hparams) hparams[k].first = v;
  for (const auto& [k, v] : rb.hparams) hparams[k].second = v;
  size_t changed = std::count_if(tensors.begin(), tensors.end(), [](const TensorDiff& d) { return d.status != "same"; });
  if (g.json) {
    std::string ts;
    for (const TensorDiff& d : tensors)
      ts += fmt::format("{}{{\"name\":{},\"status\":{},\"mean_abs\":{},\"max_abs\":{},\"rel_l2\":{},\"cosine\":{}}}",
                        ts.empty() ? "" : ",", json_str(d.name), json_str(d.status), json_num(d.mean_abs),
                        json_num(d.max_abs), json_num(d.rel_l2), json_num(d.cosine));
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ",") + json_str(x);
      return "[" + s + "]";
    };
    std::string ms;
    for (const auto& [k, v] : metrics)
      ms += fmt::format("{}{}:{{\"a\":{},\"b\":{},\"delta\":{}}}", ms.empty() ? "" : ",", json_str(k), json_num(v.first),
                        json_num(v.second), json_num(v.second - v.first));
    std::string hs;
    for (const auto& [k, v] : hparams)
      if (v.first != v.second)
        hs += fmt::format("{}{}:{{\"a\":{},\"b\":{}}}", hs.empty() ? "" : ",", json_str(k), json_str(v.first), json_str(v.second));
    fmt::print("{{\"a\":{},\"b\":{},\"eps\":{},\"changed_tensors\":{},\"tensors\":[{}],\"graph\":{{\"added\":{},"
               "\"removed\":{},\"changed\":{}}},\"metrics\":{{{}}},\"hparams\":{{{}}}}}\n",
               json_str(to_hex(a)), json_str(to_hex(b)), json_num(eps), changed, ts, list(graph.added), list(graph.removed),
               list(graph.changed), ms, hs);
    return 0;
  }
  fmt::print("diff {} -> {}   ({} of {} tensors changed, eps {:g})\n\n", log->describe(a), log->describe(b), changed,
             tensors.size(), eps);
  fmt::print("  {:<32} {:>9} {:>11} {:>11} {:>9} {:>9}\n", "tensor", "status", "mean|a-b|", "max|a-b|", "rel L2", "cosine");
  for (size_t i = 0; i < tensors.size() && i < top; ++i) {
    const TensorDiff& d = tensors[i];
    if (d.status == "added" || d.status == "removed" || d.status == "reshaped")
      fmt::print("{} {:<32} {:>9}   {} -> {}\n", d.status == "same" ? ' ' : '*', d.name, d.status, shape_str(d.shape_a),
                 shape_str(d.shape_b));
    else
      fmt::print("{} {:<32} {:>9} {:>11.4e} {:>11.4e} {:>9.4f} {:>9.6f}\n", d.status == "same" ? ' ' : '*', d.name,
                 d.status, d.mean_abs, d.max_abs, d.rel_l2, d.cosine);
  }
  if (tensors.size() > top) fmt::print("  ... {} more (--top)\n", tensors.size() - top);
  if (ra.graph_id == rb.graph_id) {
    fmt::print("\ngraph: identical ({})\n", ra.graph_id.substr(0, 12));
  } else {
    fmt::print("\ngraph: {} -> {}\n", ra.graph_id.substr(0, 12), rb.graph_id.substr(0, 12));
    for (const auto& n : graph.added) fmt::print("  + {}\n", n);
    for (const auto& n : graph.removed) fmt::print("  - {}\n", n);
    for (const auto& n : graph.changed) fmt::print("  ~ {}\n", n);
  }
  fmt::print("\nmetrics (B - A):\n");
  for (const auto& [k, v] : metrics) fmt::print("  {:<28} {:>12.6g} {:>12.6g} {:>+12.6g}\n", k, v.first, v.second, v.second - v.first);
  bool any_hparam = false;
  for (const auto& [k, v] : hparams)
    if (v.first != v.second) {
      if (!any_hparam) fmt::print("\nhyper-parameters:\n");
      any_hparam = true;
      fmt::print("  {:<20} {} -> {}\n", k, v.first.empty() ? "(unset)" : v.first, v.second.empty() ? "(unset)" : v.second);
    }
  return 0;
}

int cmd_merge(const GlobalOptions& g, const MergeRequest& request) {
  auto log = open_log(g, OpenMode::kReadWrite);
  CommitResult r = log->merge(request);
  if (g.json) fmt::print("{{\"id\":{},\"name\":{}}}\n", json_str(to_hex(r.id)), json_str(log->describe(r.id)));
  else fmt::print("merged {} and {} (alpha {:g}) into {}\n", request.a, request.b, request.alpha, log->describe(r.id));
  return 0;
}

int cmd_gc(const GlobalOptions& g) {
  auto log = open_log(g, OpenMode::kReadWrite);
  GcReport r = log->gc();
  if (g.json)
    fmt::print("{{\"commits_deleted\":{},\"chunks_deleted\":{},\"chunks_rewritten\":{},\"bytes_freed\":{}}}\n",
               r.commits_deleted, r.chunks_deleted, r.chunks_rewritten, r.bytes_freed);
  else
    fmt::print("gc: removed {} unreachable versions and {} chunks ({} rewritten as keyframes), freed {}\n",
               r.commits_deleted, r.chunks_deleted, r.chunks_rewritten, human_bytes(r.bytes_freed > 0 ? r.bytes_freed : 0));
  return 0;
}

int cmd_tensorboard(const GlobalOptions& g, std::string out, bool force) {
  auto log = open_log(g, OpenMode::kReadOnly);
  if (out.empty()) out = (std::filesystem::path(g.log_dir) / "tb").string();
  versioning::TensorBoardExport r = versioning::export_tensorboard(*log, out, force);
  if (g.json) {
    fmt::print("{{\"out\":{},\"runs\":{},\"versions\":{}}}\n", json_str(out), r.runs, r.versions);
  } else {
    fmt::print("wrote {} run(s), {} version(s) to {}\ntensorboard --logdir {}\n", r.runs, r.versions, out, out);
  }
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"strata: inspect and manage a Strata version log"};
  app.require_subcommand(1);
  app.fallthrough();  // --log / --json may follow the verb
  GlobalOptions g;
  app.add_option("--log", g.log_dir, "version log directory")->envname("STRATA_LOG");
  app.add_flag("--json", g.json, "machine-readable JSON output");

  std::string log_ref;
  bool log_all = false;
  CLI::App* log_cmd = app.add_subcommand("log", "list versions, newest first");
  log_cmd->add_option("REF", log_ref, "branch or version to start from (default: main)");
  log_cmd->add_flag("--all", log_all, "every version of every branch and tag");

  std::string show_name;
  bool show_tensors = false;
  CLI::App* show_cmd = app.add_subcommand("show", "describe one version");
  show_cmd->add_option("VERSION", show_name, "version name")->required();
  show_cmd->add_flag("--tensors", show_tensors, "list tensors with shape, dtype and bytes");

  std::string ref_name, ref_version;
  bool ref_delete = false, ref_force = false;
  CLI::App* branch_cmd = app.add_subcommand("branch", "list, create, move or delete branches");
  CLI::App* tag_cmd = app.add_subcommand("tag", "list, create, move or delete tags");
  for (CLI::App* c : {branch_cmd, tag_cmd}) {
    c->add_option("NAME", ref_name, "ref name");
    c->add_option("VERSION", ref_version, "version it points to");
    c->add_flag("-d,--delete", ref_delete, "delete the ref");
    c->add_flag("-f,--force", ref_force, "move an existing ref");
  }

  std::string verify_name;
  bool verify_all = false;
  CLI::App* verify_cmd = app.add_subcommand("verify", "re-hash every chunk; exit 1 on damage");
  verify_cmd->add_option("VERSION", verify_name, "one version (default: all)");
  verify_cmd->add_flag("--all", verify_all, "every version");

  CLI::App* du_cmd = app.add_subcommand("du", "bytes stored vs raw");

  std::string diff_a, diff_b;
  double diff_eps = 0.0;
  size_t diff_top = 20;
  CLI::App* diff_cmd = app.add_subcommand("diff", "what changed between two versions");
  diff_cmd->add_option("A", diff_a, "first version")->required();
  diff_cmd->add_option("B", diff_b, "second version")->required();
  diff_cmd->add_option("--eps", diff_eps, "a tensor is changed when mean |a-b| > eps");
  diff_cmd->add_option("--top", diff_top, "show the N most changed tensors");

  MergeRequest merge;
  CLI::App* merge_cmd = app.add_subcommand("merge", "weight-average two versions into a new one");
  merge_cmd->add_option("A", merge.a, "first version (its branch gets the merge)")->required();
  merge_cmd->add_option("B", merge.b, "second version")->required();
  merge_cmd->add_option("--alpha", merge.alpha, "result = (1 - alpha) A + alpha B")->check(CLI::Range(0.0, 1.0));
  merge_cmd->add_option("--branch", merge.branch, "branch for the merge (default: A's, A must be its head)");
  merge_cmd->add_option("-m,--message", merge.message, "commit message");

  CLI::App* gc_cmd = app.add_subcommand("gc", "delete versions and chunks no branch or tag reaches");

  std::string tb_out;
  bool tb_force = false;
  CLI::App* tb_cmd = app.add_subcommand("tensorboard", "re-create TensorBoard event files from the log");
  tb_cmd->add_option("--out", tb_out, "output directory (default: <log>/tb)");
  tb_cmd->add_flag("--force", tb_force, "replace existing event files of the runs");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (log_cmd->parsed()) return cmd_log(g, log_ref, log_all);
    if (show_cmd->parsed()) return cmd_show(g, show_name, show_tensors);
    if (branch_cmd->parsed()) return cmd_refs(g, false, ref_name, ref_version, ref_delete, ref_force);
    if (tag_cmd->parsed()) return cmd_refs(g, true, ref_name, ref_version, ref_delete, ref_force);
    if (verify_cmd->parsed()) return cmd_verify(g, verify_name, verify_all);
    if (du_cmd->parsed()) return cmd_du(g);
    if (diff_cmd->parsed()) return cmd_diff(g, diff_a, diff_b, diff_eps, diff_top);
    if (merge_cmd->parsed()) return cmd_merge(g, merge);
    if (gc_cmd->parsed()) return cmd_gc(g);
    if (tb_cmd->parsed()) return cmd_tensorboard(g, tb_out, tb_force);
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

}  // namespace
}  // namespace strata::tools

int main(int argc, char** argv) { return strata::tools::run(argc, argv); }
