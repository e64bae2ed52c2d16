// strata log / show / diff / compare: reading the history (read-only; works during training).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>

#include "strata/framework/core/error.h"
#include "strata/framework/metrics/input_stats.h"
#include "strata/versioning/commit_graph.h"
#include "strata/versioning/diff.h"
#include "tools/flag_checks.h"
#include "tools/log_graph.h"
#include "tools/verbs/verbs.h"

namespace strata::tools {

namespace {

using versioning::CommitId;
using versioning::CommitRecord;
using versioning::diff_versions;
using versioning::GraphDiff;
using versioning::OpenMode;
using versioning::short_hex;
using versioning::TensorDiff;
using versioning::TensorEntry;
using versioning::to_hex;
using versioning::VersionDiff;
using versioning::VersionLog;

// The key metrics (is_key_metric), unless the message already shows the value (the default
// message does).
std::string key_metrics_text(const CommitRecord& r) {
  std::string out;
  for (const auto& [name, value] : r.metrics) {
    if (!is_key_metric(name)) continue;
    const std::string shown = fmt::format("{:.4g}", value);
    if (r.message.find(shown) == std::string::npos) out += fmt::format("  {}={}", name, shown);
  }
  return out;
}

// " [signed: alice]" and the like after a version in `strata log`; "" when unsigned.
std::string signature_mark(const versioning::SignatureCheck& c) {
  using versioning::SignatureStatus;
  switch (c.status) {
    case SignatureStatus::kUnsigned:
      return "";
    case SignatureStatus::kBad:
      return " [BAD SIGNATURE]";
    case SignatureStatus::kTrusted:
      return " [signed: " + c.signer + "]";
    case SignatureStatus::kRevoked:
      return " [signed: " + c.signer + ", revoked key]";
    case SignatureStatus::kUntrusted:
      return " [signed: key " + c.signer + ", untrusted]";
  }
  return "";
}

std::string signature_json(const versioning::SignatureCheck& c) {
  if (c.status == versioning::SignatureStatus::kUnsigned) return "null";
  return fmt::format("{{\"status\":\"{}\",\"signer\":{},\"key_id\":{},\"time_ms\":{},\"problem\":{}}}",
                     versioning::signature_status_name(c.status), json_str(c.signer), json_str(versioning::key_id_hex(c.key_id)),
                     c.time_ms, json_str(c.problem));
}

}  // namespace

std::optional<std::string> default_branch(const VersionLog& log, const GlobalOptions& g, const std::string& hint) {
  const std::vector<std::string> branches = log.branches();
  if (branches.empty()) return std::nullopt;
  if (log.head("main")) return "main";
  if (branches.size() == 1) return branches[0];
  throw Error(ErrorCode::kInvalidArgument, "several branches and none is named main", g.log_dir, hint);
}

namespace {

// The metric's change from the version's first parent when it is a regression beyond the
// threshold (worse by more than it), else NaN.
double regression(const VersionLog& log, const CommitRecord& r, const RegressionQuery& q) {
  if (r.parents.empty()) return NAN;
  auto mine = r.metrics.find(q.metric);
  if (mine == r.metrics.end()) return NAN;
  const CommitRecord parent = log.read_record(r.parents[0]);
  auto theirs = parent.metrics.find(q.metric);
  if (theirs == parent.metrics.end()) return NAN;
  const double delta = mine->second - theirs->second;
  const double worse = metric_direction(q.metric) < 0 ? delta : -delta;  // unknown direction: a fall is worse
  return worse > q.threshold ? delta : NAN;
}

}  // namespace

int cmd_log(const GlobalOptions& g, const std::string& ref, bool all, bool graph,
            const std::optional<RegressionQuery>& regressions) {
  auto log = open_log(g, OpenMode::kReadOnly);
  std::vector<CommitId> ids;
  if (all) {
    if (!ref.empty()) throw_invalid("log takes a REF or --all, not both");
    ids = log->all_versions();
  } else {
    std::optional<CommitId> start;
    std::optional<std::string> branch =
        ref.empty() ? default_branch(*log, g, "name a branch (strata log BRANCH) or pass --all") : std::nullopt;
    if (!ref.empty() && log->head(ref)) branch = ref;
    if (branch) {
      start = log->head(*branch);
    } else if (!ref.empty()) {
      start = log->resolve(ref);
    }
    // Without --graph: the first-parent line (git log --first-parent); with it, the whole ancestry.
    if (start) ids = graph ? versioning::ancestors(versioning::log_commits(*log), *start) : log->history_from(*start);
  }
  if (ids.empty() && !g.json)  // a log whose first run has not committed yet: say so, on stderr
    std::fprintf(stderr, "no versions yet in %s: the first run that records one creates it\n", log->log_dir().c_str());
  std::vector<std::pair<CommitId, CommitRecord>> versions;
  for (const CommitId& id : ids) versions.emplace_back(id, log->read_record(id));

  std::vector<GraphRow> rows;
  size_t graph_width = 0;
  if (graph) {
    std::vector<DagNode> nodes;
    for (const auto& [id, r] : versions) nodes.push_back({id, r.parents, r.wall_time_ms, r.epoch});
    nodes = children_first(std::move(nodes));
    std::map<CommitId, CommitRecord> by_id(versions.begin(), versions.end());
    versions.clear();
    for (const DagNode& n : nodes) versions.emplace_back(n.id, by_id.at(n.id));
    rows = layout_graph(nodes).rows;
    for (const GraphRow& row : rows) graph_width = std::max(graph_width, row.row.size());
  }

  const Decorations deco = decorations(*log);
  const versioning::TrustPolicy trust = log->trust_policy();
  std::vector<std::string> json_items;
  for (size_t i = 0; i < versions.size(); ++i) {
    const auto& [id, r] = versions[i];
    const versioning::SignatureCheck signature = log->check_version(id, trust);
    const std::vector<std::string> refs = deco.refs_of(id);
    const double regressed = regressions ? regression(*log, r, *regressions) : NAN;  // NaN: none
    if (g.json) {
      std::vector<std::string> parents, heads, tags;
      for (const CommitId& p : r.parents) parents.push_back(to_hex(p));
      if (auto it = deco.branches.find(id); it != deco.branches.end()) heads = it->second;
      if (auto it = deco.tags.find(id); it != deco.tags.end()) tags = it->second;
      std::string item = fmt::format(
          "{{\"id\":{},\"short_id\":{},\"parents\":{},\"branch\":{},\"epoch\":{},\"step\":{},"
          "\"time_ms\":{},\"author\":{},\"message\":{},\"metrics\":{},\"heads\":{},\"tags\":{},"
          "\"resumable\":{}",
          json_str(to_hex(id)), json_str(short_hex(id)), json_str_list(parents), json_str(r.branch), r.epoch, r.global_step,
          r.wall_time_ms, json_str(r.author), json_str(r.message), json_map(r.metrics, json_num), json_str_list(heads),
          json_str_list(tags), r.optim_present ? "true" : "false");
      if (graph) item += fmt::format(",\"graph\":{},\"connectors\":{}", json_str(rows[i].row), json_str_list(rows[i].connectors));
      if (regressions) item += fmt::format(",\"regression\":{}", json_num(regressed));  // NaN is null
      item += ",\"signature\":" + signature_json(signature);
      json_items.push_back(item + "}");
      continue;
    }
    std::string line = fmt::format("{} {}@{}{}  {}", short_hex(id), r.branch, r.epoch_label(), r.is_merge() ? " merge" : "",
                                   local_time(r.wall_time_ms));
    if (!refs.empty()) line += fmt::format(" ({})", fmt::join(refs, ", "));
    if (!r.optim_present) line += " [params only]";  // retention dropped it, or an import / a merge
    line += signature_mark(signature);
    line += "  " + r.message + key_metrics_text(r);
    if (!std::isnan(regressed)) line += fmt::format("  REGRESSION {} {:+.4g}", regressions->metric, regressed);
    if (graph) {
      fmt::print("{:<{}} {}\n", rows[i].row, graph_width, line);
      for (const std::string& c : rows[i].connectors) fmt::print("{}\n", c);
    } else {
      fmt::print("{}\n", line);
    }
  }
  if (g.json) print_json(g, fmt::format("{{\"versions\":{}}}", json_list(json_items)));
  return 0;
}

namespace {

// The training inputs' statistics (the drift reference of `strata serve`), one line a feature.
void print_input_statistics(const std::string& text) {
  if (text.empty()) return;
  try {
    const InputReference ref = InputReference::parse(text);
    fmt::print("inputs   statistics of {} training samples (drift reference): mean, std, deciles\n", ref.samples);
    for (const FeatureReference& f : ref.features) {
      std::vector<std::string> deciles;
      for (double e : f.edges) deciles.push_back(fmt::format("{:.3g}", e));
      fmt::print("  {:<12} {:>9.4g} {:>9.4g}  {}\n", f.name, f.mean, f.std, fmt::join(deciles, " "));
    }
  } catch (const Error& e) {
    fmt::print("inputs   statistics unreadable: {}\n", e.what());
  }
}

// How the version was made: versions, machine, command, ranks, data and input statistics.
void print_environment(const versioning::CommitRecord& r) {
  if (r.environment.empty()) return;
  auto env = [&](const std::string& key) {
    auto it = r.environment.find(key);
    return it == r.environment.end() ? std::string() : it->second;
  };
  std::vector<std::string> made_with;
  for (const char* k : {"onednn", "strata"})
    if (!env(k).empty()) made_with.push_back(std::string(k) + " " + env(k));
  fmt::print("made with {}\n", fmt::join(made_with, ", "));
  if (!env("host").empty())
    fmt::print("ran on   {} ({}, oneDNN ISA {}), {} threads, built by {}\n", env("host"), env("cpu"), env("isa"), env("threads"),
               env("compiler"));
  if (!env("command").empty())
    fmt::print("command  {}\nprogram  {} (xxh3 {})\n", env("command"), env("executable"), env("executable_xxh3").substr(0, 16));
  if (!env("distributed/world_size").empty()) {
    const int ranks = std::atoi(env("distributed/world_size").c_str());
    fmt::print("ranks    {} (data-parallel over MPI)\n", ranks);
    for (int k = 0; k < ranks; ++k) {
      const std::string p = "distributed/rank" + std::to_string(k) + "/";
      fmt::print("  rank {:<3} {} ({}, oneDNN ISA {}), {} threads, program xxh3 {}\n", k, env(p + "host"), env(p + "cpu"),
                 env(p + "isa"), env(p + "threads"), env(p + "executable_xxh3").substr(0, 16));
    }
  }
  for (const char* role : {"train", "val", "test"}) {
    const std::string p = std::string("data/") + role + "/";
    if (env(p + "source").empty()) continue;
    fmt::print("data     {}: {} samples of {} (fingerprint {})\n", role, env(p + "samples"), env(p + "source"),
               env(p + "fingerprint").substr(0, 16));
    if (!env(p + "preprocess").empty()) fmt::print("         {}\n", env(p + "preprocess"));
  }
  print_input_statistics(env("data/train/input_stats"));
}

}  // namespace

int cmd_show(const GlobalOptions& g, const std::string& name, bool tensors, bool graph) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const CommitId id = log->resolve(name);
  const CommitRecord r = log->read_record(id);
  const std::optional<versioning::CommitStats> stats = log->read_stats(id);
  std::optional<GraphSpec> spec;
  if (graph) spec = log->read_graph(r.graph_id);
  auto stored = [&](const std::string& t) -> uint64_t {
    if (!stats) return 0;
    auto it = stats->stored_bytes.find(t);
    return it == stats->stored_bytes.end() ? 0 : it->second;
  };
  std::vector<std::pair<versioning::Signature, versioning::SignatureCheck>> signatures;
  const versioning::TrustPolicy trust = log->trust_policy();
  try {
    for (const versioning::Signature& s : log->signatures(id))
      signatures.emplace_back(s, versioning::check_signatures({s}, trust, id));
  } catch (const Error& e) {  // a malformed signature: shown, not fatal
    versioning::SignatureCheck bad;
    bad.status = versioning::SignatureStatus::kBad;
    bad.problem = e.what_failed();
    signatures.emplace_back(versioning::Signature{}, bad);
  }
  if (g.json) {
    std::vector<std::string> jt, js;
    for (const auto& [s, c] : signatures) js.push_back(signature_json(c));
    auto add_tensors = [&](const std::vector<TensorEntry>& entries, const char* kind) {
      for (const TensorEntry& e : entries) {
        jt.push_back(
            fmt::format("{{\"name\":{},\"kind\":\"{}\",\"dtype\":{},\"shape\":[{}],\"chunks\":{},\"raw_bytes\":{},"
                        "\"stored_bytes\":{}}}",
                        json_str(e.name), kind, json_str(dtype_name(e.dtype)), fmt::join(e.shape, ","), e.chunks.size(),
                        e.raw_bytes, stored(e.name)));
      }
    };
    add_tensors(r.params, "param");
    add_tensors(r.optim, "optim");
    std::vector<std::string> parents, nodes;
    for (const CommitId& p : r.parents) parents.push_back(to_hex(p));
    if (spec) {
      nodes.push_back(fmt::format("{{\"name\":{},\"op\":\"Input\",\"inputs\":[],\"output_shape\":[{}],\"params\":[]}}",
                                  json_str(spec->input_name), fmt::join(spec->input_shape, ",")));
      for (const NodeSpec& n : spec->nodes) {
        std::vector<std::string> ps;
        for (const ParamSpec& p : n.params)
          ps.push_back(fmt::format("{{\"name\":{},\"shape\":[{}],\"trainable\":{}}}", json_str(p.name), fmt::join(p.shape, ","),
                                   p.trainable ? "true" : "false"));
        nodes.push_back(fmt::format("{{\"name\":{},\"op\":{},\"inputs\":{},\"output_shape\":[{}],\"params\":{}}}",
                                    json_str(n.name), json_str(n.op), json_str_list(n.inputs), fmt::join(n.output_shape, ","),
                                    json_list(ps)));
      }
    }
    print_json(g,
               fmt::format("{{\"id\":{},\"short_id\":{},\"name\":{},\"parents\":{},\"branch\":{},\"epoch\":{},"
                           "\"step\":{},\"time_ms\":{},\"author\":{},\"message\":{},\"graph_id\":{},\"hparams\":{},"
                           "\"metrics\":{},\"counters\":{},\"environment\":{},\"optim_present\":{},\"raw_bytes\":{},"
                           "\"new_stored_bytes\":{},\"signatures\":{}{}{}}}",
                           json_str(to_hex(id)), json_str(short_hex(id)), json_str(log->describe(id)), json_str_list(parents),
                           json_str(r.branch), r.epoch, r.global_step, r.wall_time_ms, json_str(r.author), json_str(r.message),
                           json_str(r.graph_id), json_map(r.hparams, json_str), json_map(r.metrics, json_num),
                           json_map(r.counters, [](int64_t v) { return std::to_string(v); }), json_map(r.environment, json_str),
                           r.optim_present ? "true" : "false", stats ? stats->raw_bytes : 0, stats ? stats->new_stored_bytes : 0,
                           json_list(js), tensors ? ",\"tensors\":" + json_list(jt) : std::string(),
                           spec ? ",\"nodes\":" + json_list(nodes) : std::string()));
    return 0;
  }
  fmt::print("version  {}\n", to_hex(id));
  fmt::print("name     {}\n", log->describe(id));
  for (const CommitId& p : r.parents) fmt::print("parent   {}\n", safe_describe(*log, p));
  fmt::print("branch   {}\nepoch    {}\nstep     {}\n", r.branch, r.epoch, r.global_step);
  fmt::print("author   {}\ntime     {}\n", r.author, local_time(r.wall_time_ms));
  for (const auto& [s, c] : signatures) {
    if (c.status == versioning::SignatureStatus::kBad) {
      fmt::print("signed   BAD SIGNATURE: {}\n", c.problem);
    } else {
      fmt::print("signed   by {} (ed25519 key {}), {}, {}\n", c.signer, versioning::key_id_hex(c.key_id),
                 c.status == versioning::SignatureStatus::kTrusted ? "trusted" : versioning::signature_status_name(c.status),
                 local_time(s.time_ms));
    }
  }
  fmt::print("graph    {}\n", r.graph_id.substr(0, 12));
  print_environment(r);
  fmt::print("optimizer state: {}\n", r.optim_present ? "kept" : (r.optim_dropped() ? "dropped by retention" : "none"));
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
    fmt::print("\nstorage: {} raw, {} newly stored ({} new chunks, {} reused, {} delta)\n", human_bytes(stats->raw_bytes),
               human_bytes(stats->new_stored_bytes), stats->new_chunks, stats->reused_chunks, stats->delta_chunks);
  }
  if (tensors) {
    fmt::print("\ntensors:\n");
    for (const auto* entries : {&r.params, &r.optim})
      for (const TensorEntry& e : *entries)
        fmt::print("  {:<32} {:<4} {:<16} {:>10} raw {:>10} stored  {} chunk(s)\n", e.name, dtype_name(e.dtype),
                   shape_str(e.shape), e.raw_bytes, stored(e.name), e.chunks.size());
  }
  if (spec) {
    fmt::print("\ngraph {}:\n", r.graph_id.substr(0, 12));
    fmt::print("  {:<24} {:<14} {:<18} {}\n", "node", "op", "output", "inputs");
    fmt::print("  {:<24} {:<14} {:<18}\n", spec->input_name, "Input", shape_str(spec->input_shape));
    for (const NodeSpec& n : spec->nodes) {
      fmt::print("  {:<24} {:<14} {:<18} {}\n", n.name, n.op, shape_str(n.output_shape), fmt::join(n.inputs, ", "));
      for (const ParamSpec& p : n.params)
        fmt::print("      {:<32} {}{}\n", p.name, shape_str(p.shape), p.trainable ? "" : " (not trained)");
    }
  }
  return 0;
}

int cmd_diff(const GlobalOptions& g, const std::string& a_name, const std::string& b_name, double eps, size_t top) {
  auto log = open_log(g, OpenMode::kReadOnly);
  const VersionDiff diff = diff_versions(*log, a_name, b_name, eps);
  const CommitId a = diff.a, b = diff.b;
  const std::vector<TensorDiff>& tensors = diff.tensors;
  const GraphDiff& graph = diff.graph;
  const size_t changed = diff.changed_tensors();
  if (g.json) {
    std::vector<std::string> ts;
    for (const TensorDiff& d : tensors)
      ts.push_back(fmt::format("{{\"name\":{},\"status\":{},\"mean_abs\":{},\"max_abs\":{},\"rel_l2\":{},\"cosine\":{}}}",
                               json_str(d.name), json_str(d.status), json_num(d.mean_abs), json_num(d.max_abs),
                               json_num(d.rel_l2), json_num(d.cosine)));
    std::map<std::string, std::string> ms, hs;
    for (const auto& [k, v] : diff.metrics)
      ms[k] =
          fmt::format("{{\"a\":{},\"b\":{},\"delta\":{}}}", json_num(v.first), json_num(v.second), json_num(v.second - v.first));
    for (const auto& [k, v] : diff.hparams) hs[k] = fmt::format("{{\"a\":{},\"b\":{}}}", json_str(v.first), json_str(v.second));
    std::map<std::string, std::string> ds, es;
    for (const auto& [role, c] : diff.data)
      ds[role] = fmt::format(
          "{{\"fingerprint_a\":{},\"fingerprint_b\":{},\"source_a\":{},\"source_b\":{},"
          "\"preprocess_a\":{},\"preprocess_b\":{}}}",
          json_str(c.fingerprint_a), json_str(c.fingerprint_b), json_str(c.source_a), json_str(c.source_b),
          json_str(c.preprocess_a), json_str(c.preprocess_b));
    for (const auto& [k, v] : diff.environment)
      es[k] = fmt::format("{{\"a\":{},\"b\":{}}}", json_str(v.first), json_str(v.second));
    auto raw = [](const std::string& s) { return s; };
    print_json(g, fmt::format("{{\"a\":{},\"b\":{},\"eps\":{},\"changed_tensors\":{},\"tensors\":{},\"graph\":{{\"added\":{},"
                              "\"removed\":{},\"changed\":{}}},\"metrics\":{},\"hparams\":{},\"data\":{},\"environment\":{}}}",
                              json_str(to_hex(a)), json_str(to_hex(b)), json_num(eps), changed, json_list(ts),
                              json_str_list(graph.added), json_str_list(graph.removed), json_str_list(graph.changed),
                              json_map(ms, raw), json_map(hs, raw), json_map(ds, raw), json_map(es, raw)));
    return 0;
  }
  fmt::print("diff {} -> {}   ({} of {} tensors changed, eps {:g})\n\n", log->describe(a), log->describe(b), changed,
             tensors.size(), eps);
  fmt::print("  {:<32} {:>9} {:>11} {:>11} {:>9} {:>9}\n", "tensor", "status", "mean|a-b|", "max|a-b|", "rel L2", "cosine");
  for (size_t i = 0; i < tensors.size() && i < top; ++i) {
    const TensorDiff& d = tensors[i];
    const char mark = d.status == "same" ? ' ' : '*';
    if (d.status == "added" || d.status == "removed" || d.status == "reshaped")
      fmt::print("{} {:<32} {:>9}   {} -> {}\n", mark, d.name, d.status, shape_str(d.shape_a), shape_str(d.shape_b));
    else
      fmt::print("{} {:<32} {:>9} {:>11.4e} {:>11.4e} {:>9.4f} {:>9.6f}\n", mark, d.name, d.status, d.mean_abs, d.max_abs,
                 d.rel_l2, d.cosine);
  }
  if (tensors.size() > top) fmt::print("  ... {} more (--top)\n", tensors.size() - top);
  if (diff.graph_a == diff.graph_b) {
    fmt::print("\ngraph: identical ({})\n", diff.graph_a.substr(0, 12));
  } else {
    fmt::print("\ngraph: {} -> {}\n", diff.graph_a.substr(0, 12), diff.graph_b.substr(0, 12));
    for (const auto& n : graph.added) fmt::print("  + {}\n", n);
    for (const auto& n : graph.removed) fmt::print("  - {}\n", n);
    for (const auto& n : graph.changed) fmt::print("  ~ {}\n", n);
  }
  fmt::print("\nmetrics (B - A):\n");
  // A metric only one side has shows '-' on the other, as in `strata compare`.
  auto cell = [](double v, bool sign) {
    return std::isnan(v) ? std::string("-") : sign ? fmt::format("{:+.6g}", v) : fmt::format("{:.6g}", v);
  };
  for (const auto& [k, v] : diff.metrics)
    fmt::print("  {:<28} {:>12} {:>12} {:>12}\n", k, cell(v.first, false), cell(v.second, false), cell(v.second - v.first, true));
  if (!diff.hparams.empty()) fmt::print("\nhyper-parameters:\n");
  for (const auto& [k, v] : diff.hparams)
    fmt::print("  {:<20} {} -> {}\n", k, v.first.empty() ? "(unset)" : v.first, v.second.empty() ? "(unset)" : v.second);
  auto or_unset = [](const std::string& s) { return s.empty() ? std::string("(not recorded)") : s; };
  for (const auto& [role, c] : diff.data) {
    fmt::print("\ndata changed ({}): fingerprint {} -> {}\n", role, or_unset(c.fingerprint_a.substr(0, 16)),
               or_unset(c.fingerprint_b.substr(0, 16)));
    if (c.source_a != c.source_b) fmt::print("  source      {} -> {}\n", or_unset(c.source_a), or_unset(c.source_b));
    if (c.preprocess_a != c.preprocess_b)
      fmt::print("  preprocess  {} -> {}\n", or_unset(c.preprocess_a), or_unset(c.preprocess_b));
  }
  if (!diff.environment.empty()) fmt::print("\nenvironment:\n");
  for (const auto& [k, v] : diff.environment) fmt::print("  {:<20} {} -> {}\n", k, or_unset(v.first), or_unset(v.second));
  return 0;
}

namespace {

// "val/*" selects by prefix; anything else must be an exact name.
bool metric_selected(const std::string& name, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const std::string& p : patterns) {
    if (!p.empty() && p.back() == '*' ? name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0 : name == p) return true;
  }
  return false;
}

}  // namespace

int cmd_compare(const GlobalOptions& g, const std::vector<std::string>& names, const std::vector<std::string>& patterns) {
  auto log = open_log(g, OpenMode::kReadOnly);
  std::vector<CommitId> ids;
  std::vector<CommitRecord> records;
  for (const std::string& n : names) {
    ids.push_back(log->resolve(n));
    records.push_back(log->read_record(ids.back()));
  }
  std::set<std::string> all_metrics;
  for (const CommitRecord& r : records)
    for (const auto& [k, v] : r.metrics) all_metrics.insert(k);
  std::vector<std::string> rows;
  for (const std::string& m : all_metrics)
    if (metric_selected(m, patterns)) rows.push_back(m);
  for (const std::string& p : patterns) {
    if (std::none_of(all_metrics.begin(), all_metrics.end(), [&](const std::string& m) { return metric_selected(m, {p}); }))
      throw Error(ErrorCode::kNotFound, "no metric '" + p + "' in these versions", "",
                  "available: " + fmt::format("{}", fmt::join(all_metrics, ", ")));
  }
  // Per row: the values (NaN where a version lacks the metric) and the best column, if any.
  auto values_of = [&](const std::string& m) {
    std::vector<double> v;
    for (const CommitRecord& r : records) {
      auto it = r.metrics.find(m);
      v.push_back(it == r.metrics.end() ? NAN : it->second);
    }
    return v;
  };
  auto best_of = [](const std::string& m, const std::vector<double>& v) -> std::optional<size_t> {
    const int dir = metric_direction(m);
    std::optional<size_t> best;
    bool differ = false;
    for (size_t i = 0; dir != 0 && v.size() > 1 && i < v.size(); ++i) {
      if (!std::isfinite(v[i])) continue;
      if (best && v[i] != v[*best]) differ = true;
      if (!best || dir * v[i] > dir * v[*best]) best = i;
    }
    return differ ? best : std::nullopt;  // a tie everywhere has no best
  };
  if (g.json) {
    std::vector<std::string> versions, metrics;
    for (size_t i = 0; i < ids.size(); ++i)
      versions.push_back(fmt::format("{{\"id\":{},\"name\":{},\"branch\":{},\"epoch\":{}}}", json_str(to_hex(ids[i])),
                                     json_str(log->describe(ids[i])), json_str(records[i].branch), records[i].epoch));
    for (const std::string& m : rows) {
      std::vector<double> v = values_of(m);
      std::vector<std::string> nums;
      for (double x : v) nums.push_back(json_num(x));
      std::optional<size_t> best = best_of(m, v);
      metrics.push_back(fmt::format("{{\"name\":{},\"values\":{},\"best\":{}}}", json_str(m), json_list(nums),
                                    best ? std::to_string(*best) : "null"));
    }
    print_json(g, fmt::format("{{\"versions\":{},\"metrics\":{}}}", json_list(versions), json_list(metrics)));
    return 0;
  }
  size_t name_width = 6;
  for (const std::string& m : rows) name_width = std::max(name_width, m.size());
  std::vector<std::string> heads;
  size_t col_width = 12;
  for (size_t i = 0; i < ids.size(); ++i) {
    heads.push_back(fmt::format("{}@{}", records[i].branch, records[i].epoch_label()));
    col_width = std::max(col_width, heads.back().size() + 2);
  }
  std::string line = fmt::format("{:<{}}", "metric", name_width);
  for (const std::string& h : heads) line += fmt::format(" {:>{}}", h, col_width);
  fmt::print("{}\n", line);
  line = fmt::format("{:<{}}", "", name_width);
  for (const CommitId& id : ids) line += fmt::format(" {:>{}}", short_hex(id), col_width);
  fmt::print("{}\n", line);
  for (const std::string& m : rows) {
    std::vector<double> v = values_of(m);
    std::optional<size_t> best = best_of(m, v);
    line = fmt::format("{:<{}}", m, name_width);
    for (size_t i = 0; i < v.size(); ++i) {
      std::string cell = records[i].metrics.count(m) ? fmt::format("{:.6g}", v[i]) : "-";
      if (best && *best == i) cell += "*";
      line += fmt::format(" {:>{}}", cell, col_width);
    }
    fmt::print("{}\n", line);
  }
  if (ids.size() > 1) fmt::print("(* best of the row where higher or lower is clearly better; - not recorded)\n");
  return 0;
}

// The command line of these verbs (tools/verbs/verbs.h).
namespace {

Verb log_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string ref, tensor;
    bool all = false, graph = false, regressions = false;
    RegressionQuery query;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("log", "list versions, newest first");
  c->add_option("REF", a->ref, "branch or version to start from (default: main)");
  c->add_flag("--all", a->all, "every version of every branch and tag");
  c->add_flag("--graph", a->graph, "draw the version DAG (branch points, merges)");
  c->add_option("--tensor", a->tensor, "how one tensor moved per version: mean|D|, max|D|, relative L2, norm");
  c->add_flag("--regressions", a->regressions,
              "mark versions whose --metric got worse than their parent's by more than --threshold");
  c->add_option("--metric", a->query.metric, "the metric --regressions watches (e.g. val/accuracy)");
  c->add_option("--threshold", a->query.threshold, "--regressions: the change that counts")->check(flags::at_least(0));
  auto check = [a] {
    if (a->regressions && a->query.metric.empty())
      throw CLI::ValidationError("--regressions", "name the metric: --regressions --metric M --threshold T");
    if (!a->tensor.empty() && (a->all || a->graph || a->regressions))
      throw CLI::ValidationError("--tensor", "lists one tensor along one history; it takes no --all, --graph or --regressions");
  };
  auto run = [&g, a] {
    if (!a->tensor.empty()) return cmd_log_tensor(g, a->ref, a->tensor);
    return cmd_log(g, a->ref, a->all, a->graph, a->regressions ? std::optional(a->query) : std::nullopt);
  };
  return {c, check, run};
}

Verb show_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string name;
    bool tensors = false, graph = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("show", "describe one version");
  c->add_option("VERSION", a->name, "version name")->required();
  c->add_flag("--tensors", a->tensors, "list tensors with shape, dtype and bytes");
  c->add_flag("--graph", a->graph, "list the computation graph's nodes with shapes");
  return {c, nullptr, [&g, a] { return cmd_show(g, a->name, a->tensors, a->graph); }};
}

Verb diff_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::string a, b;
    double eps = 0.0;
    size_t top = 20;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("diff", "what changed between two versions");
  c->add_option("A", a->a, "first version")->required();
  c->add_option("B", a->b, "second version")->required();
  c->add_option("--eps", a->eps, "a tensor is changed when mean |a-b| > eps")->check(flags::at_least(0));
  c->add_option("--top", a->top, "show the N most changed tensors")->check(flags::at_least(1));
  return {c, nullptr, [&g, a] { return cmd_diff(g, a->a, a->b, a->eps, a->top); }};
}

Verb compare_verb(CLI::App& app, const GlobalOptions& g) {
  struct Args {
    std::vector<std::string> versions, metrics;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("compare", "metrics of several versions side by side");
  c->add_option("VERSIONS", a->versions, "versions to compare")->required();
  c->add_option("--metric", a->metrics, "only this metric (repeatable; 'val/*' for a prefix)");
  return {c, nullptr, [&g, a] { return cmd_compare(g, a->versions, a->metrics); }};
}

const VerbRegistration kLog(10, log_verb), kShow(30, show_verb), kDiff(40, diff_verb), kCompare(50, compare_verb);

}  // namespace
}  // namespace strata::tools
